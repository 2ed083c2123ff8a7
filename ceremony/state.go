package ceremony

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	curve "github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	"github.com/consensys/gnark/constraint"
	cs "github.com/consensys/gnark/constraint/bn254"
)

// The state files are gnark's mpcsetup encodings (Phase1.WriteTo,
// Phase2.WriteTo), every point compressed. gnark's ReadFrom allocates what
// a file declares (a phase-1 size, slice lengths) before reading it, so a
// hostile file could make it allocate without bound; every file is
// therefore walked first (layout), its sizes and lengths checked against
// the plan, and only then decoded, with any panic recovered; and the
// decoded state must re-encode to the very same bytes, so a state has one
// file and one hash.

const (
	g1Size        = curve.SizeOfG1AffineCompressed
	g2Size        = curve.SizeOfG2AffineCompressed
	proofSize     = g1Size + g2Size // mpcsetup.UpdateProof
	challengeSize = sha256.Size
)

// phase1Size is the exact size of a contributed phase-1 state of size n.
func phase1Size(n uint64) int64 {
	m := int64(n)
	return 3*proofSize + 8 + g2Size + (2*m-2)*g1Size + (m-1)*g2Size + 2*m*g1Size + 1 + challengeSize
}

// phase2Limits bound a circuit's phase-2 state: its commitment count and
// Z's length are exact, every other slice is at most the wire count (gnark's
// Verify then checks that each length equals the predecessor's).
type phase2Limits struct {
	commitments int
	z           int
	maxLen      int
}

func limitsOf(r *cs.R1CS, domain uint64) phase2Limits {
	internal, secret, public := r.GetNbVariables()
	nb := 0
	if cm, ok := r.CommitmentInfo.(constraint.Groth16Commitments); ok {
		nb = len(cm)
	}
	return phase2Limits{commitments: nb, z: int(domain) - 1, maxLen: internal + secret + public}
}

// maxSize bounds the file size.
func (l phase2Limits) maxSize() int64 {
	nb, m := int64(l.commitments), int64(l.maxLen)
	return 2 + g1Size + (4 + m*g1Size) + (4 + int64(l.z)*g1Size) + g2Size + nb*(4+m*g1Size) + nb*g2Size + proofSize + nb*proofSize + 1 + challengeSize
}

// layout walks an encoding without allocating, checking that each point is
// compressed (so has a known size) and each count is what it must be.
type layout struct {
	b   []byte
	off int
	err error
}

func (l *layout) failf(format string, a ...any) {
	if l.err == nil {
		l.err = fmt.Errorf("byte %d: %s", l.off, fmt.Sprintf(format, a...))
	}
}

func (l *layout) take(n int, what string) []byte {
	if l.err != nil {
		return nil
	}
	if n < 0 || len(l.b)-l.off < n {
		l.failf("truncated in %s", what)
		return nil
	}
	s := l.b[l.off : l.off+n]
	l.off += n
	return s
}

// points skips n compressed points of size bytes each.
func (l *layout) points(n, size int, what string) {
	if l.err != nil {
		return
	}
	if n < 0 || (len(l.b)-l.off)/size < n {
		l.failf("truncated in %s", what)
		return
	}
	for range n {
		if l.b[l.off]&0b11000000 == 0 { // gnark-crypto's mUncompressed
			l.failf("%s: an uncompressed point", what)
			return
		}
		l.off += size
	}
}

func (l *layout) uint(n int, what string) uint64 {
	b := l.take(n, what)
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func (l *layout) count(n int, want uint64, what string) {
	if v := l.uint(n, what); l.err == nil && v != want {
		l.failf("%s is %d, want %d", what, v, want)
	}
}

// slice skips a length-prefixed slice of G1 points of at most maxLen.
func (l *layout) slice(maxLen int, what string) {
	v := l.uint(4, what+" length")
	if l.err == nil && v > uint64(maxLen) {
		l.failf("%s has %d points, at most %d expected", what, v, maxLen)
		return
	}
	l.points(int(v), g1Size, what)
}

func (l *layout) proof(what string) {
	l.points(1, g1Size, what)
	l.points(1, g2Size, what)
}

func (l *layout) challenge() {
	l.count(1, challengeSize, "challenge length")
	l.take(challengeSize, "challenge")
}

func (l *layout) end() error {
	if l.err == nil && l.off != len(l.b) {
		l.failf("%d bytes after the end", len(l.b)-l.off)
	}
	return l.err
}

func checkPhase1Layout(b []byte, n uint64) error {
	l := &layout{b: b}
	for _, what := range []string{"τ proof", "α proof", "β proof"} {
		l.proof(what)
	}
	l.count(8, n, "phase-1 size")
	m := int(n)
	l.points(1, g2Size, "[β]₂")
	l.points(2*m-2, g1Size, "[τⁱ]₁")
	l.points(m-1, g2Size, "[τⁱ]₂")
	l.points(2*m, g1Size, "[βτⁱ]₁ and [ατⁱ]₁")
	l.challenge()
	return l.end()
}

func checkPhase2Layout(b []byte, lim phase2Limits) error {
	l := &layout{b: b}
	l.count(2, uint64(lim.commitments), "commitment count")
	l.points(1, g1Size, "[δ]₁")
	l.slice(lim.maxLen, "PKK")
	l.count(4, uint64(lim.z), "Z length")
	l.points(lim.z, g1Size, "Z")
	l.points(1, g2Size, "[δ]₂")
	for range lim.commitments {
		l.slice(lim.maxLen, "σ·CKK")
	}
	l.points(lim.commitments, g2Size, "[σ]₂")
	l.proof("δ proof")
	for range lim.commitments {
		l.proof("σ proof")
	}
	l.challenge()
	return l.end()
}

// safe runs f, turning a panic into an error.
func safe(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// decode decodes b into v (checked layout first), and checks that v
// re-encodes to b.
func decode(b []byte, v interface {
	io.ReaderFrom
	io.WriterTo
}) error {
	return safe(func() error {
		n, err := v.ReadFrom(bytes.NewReader(b))
		if err != nil {
			return err
		}
		if n != int64(len(b)) {
			return fmt.Errorf("decoded %d of %d bytes", n, len(b))
		}
		var buf bytes.Buffer
		buf.Grow(len(b))
		if _, err := v.WriteTo(&buf); err != nil {
			return err
		}
		if !bytes.Equal(buf.Bytes(), b) {
			return errors.New("not the canonical encoding of the state it holds")
		}
		return nil
	})
}

func decodePhase1(b []byte, n uint64) (*mpcsetup.Phase1, error) {
	if err := checkPhase1Layout(b, n); err != nil {
		return nil, err
	}
	p := new(mpcsetup.Phase1)
	if err := decode(b, p); err != nil {
		return nil, err
	}
	return p, nil
}

func decodePhase2(b []byte, lim phase2Limits) (*mpcsetup.Phase2, error) {
	if err := checkPhase2Layout(b, lim); err != nil {
		return nil, err
	}
	p := new(mpcsetup.Phase2)
	if err := decode(b, p); err != nil {
		return nil, err
	}
	return p, nil
}

func encode(v io.WriterTo) ([]byte, error) {
	var buf bytes.Buffer
	if err := safe(func() error { _, err := v.WriteTo(&buf); return err }); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// stateHash is a contribution's state hash: the SHA-256 of its state
// files' SHA-256s, in order.
func stateHash(files [][]byte) []byte {
	h := sha256.New()
	for _, f := range files {
		s := sha256.Sum256(f)
		h.Write(s[:])
	}
	return h.Sum(nil)
}

// Phase 1 ends with gnark's Seal, a last update of τ, α and β derived from
// a "beacon". Here that beacon is not a public random value but a
// deterministic one, bound to the ceremony and to the last phase-1
// receipt:
//
//	SHA-256("zkshare/ceremony/phase1-seal\n" || ceremony id || receipt hash of contribution n)
//
// so phase 2 can start as soon as phase 1 ends, with no one waiting for a
// block. τ, α and β stay unknown to everyone as long as one phase-1
// contributor was honest (kept no trace of its randomness); the public,
// unpredictable beacon that guards against a last contributor choosing
// among outcomes is the one Finalize applies to phase 2 (δ and the
// commitments' σ), taken from a ledger block that exists only after the
// last contribution was recorded.
const phase1SealDomain = "zkshare/ceremony/phase1-seal\n"

func phase1Beacon(id, lastPhase1Receipt []byte) []byte {
	h := sha256.New()
	h.Write([]byte(phase1SealDomain))
	h.Write(id)
	h.Write(lastPhase1Receipt)
	return h.Sum(nil)
}

// truncate is the part of phase 1 a circuit of domain d uses, which is
// what mpcsetup's Phase2.Initialize reads of it: [τⁱ]₁ for i < 2d-1 (Z
// needs τ^(i+d)), [ατⁱ]₁, [βτⁱ]₁ and [τⁱ]₂ for i < d (Lagrange bases of
// the size-d domain), and [β]₂. Its Seal takes the domain from the length
// of AlphaTau.
func truncate(c *mpcsetup.SrsCommons, d uint64) *mpcsetup.SrsCommons {
	var t mpcsetup.SrsCommons
	t.G1.Tau = c.G1.Tau[: 2*d-1 : 2*d-1]
	t.G1.AlphaTau = c.G1.AlphaTau[:d:d]
	t.G1.BetaTau = c.G1.BetaTau[:d:d]
	t.G2.Tau = c.G2.Tau[:d:d]
	t.G2.Beta = c.G2.Beta
	return &t
}

// phase2Start is what phase 2 starts from: phase 1 sealed, and per circuit
// (in plan order) its initial phase-2 state and evaluations. All of it is
// a function of the last phase-1 state, whose receipt hash is key.
type phase2Start struct {
	key      []byte
	circuits []*circuitStart
}

type circuitStart struct {
	circuit Circuit
	r1cs    *cs.R1CS
	limits  phase2Limits
	commons *mpcsetup.SrsCommons // truncated to the circuit's domain
	initial *mpcsetup.Phase2     // never modified: cloned to contribute
	evals   mpcsetup.Phase2Evaluations
}

// startPhase2 seals phase 1 (p1, the last phase-1 state, which it
// modifies) and initialises every circuit's phase 2.
func (c *Ceremony) startPhase2(ctx context.Context, p1 *mpcsetup.Phase1, lastReceipt []byte, progress Progress) (*phase2Start, error) {
	if c.start != nil && bytes.Equal(c.start.key, lastReceipt) {
		return c.start, nil
	}
	if p1 == nil {
		return nil, errors.New("internal error: phase 2 starts from an unread phase 1")
	}
	var commons mpcsetup.SrsCommons
	if err := runStep(progress, fmt.Sprintf("seal phase 1 (N=%d)", c.plan.N), func() error {
		return safe(func() error { commons = p1.Seal(phase1Beacon(c.id, lastReceipt)); return nil })
	}); err != nil {
		return nil, fmt.Errorf("seal phase 1: %w", err)
	}
	s := &phase2Start{key: bytes.Clone(lastReceipt)}
	for _, pc := range c.plan.Circuits {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := c.circuit(pc)
		if err != nil {
			return nil, err
		}
		cst := &circuitStart{circuit: pc, r1cs: r, limits: limitsOf(r, pc.Domain), commons: truncate(&commons, pc.Domain), initial: new(mpcsetup.Phase2)}
		if err := runStep(progress, fmt.Sprintf("%s: initialise phase 2 (domain %d)", pc.Name, pc.Domain), func() error {
			return safe(func() error { cst.evals = cst.initial.Initialize(r, cst.commons); return nil })
		}); err != nil {
			return nil, fmt.Errorf("%s: initialise phase 2: %w", pc.Name, err)
		}
		s.circuits = append(s.circuits, cst)
	}
	c.start = s
	return s, nil
}

// clone copies a phase-2 state (its encoding, decoded).
func clonePhase2(p *mpcsetup.Phase2) (*mpcsetup.Phase2, error) {
	b, err := encode(p)
	if err != nil {
		return nil, err
	}
	q := new(mpcsetup.Phase2)
	if err := safe(func() error { _, err := q.ReadFrom(bytes.NewReader(b)); return err }); err != nil {
		return nil, err
	}
	return q, nil
}

// seal makes a circuit's keys from its last phase-2 state (encoded) and
// the beacon: gnark's Seal, deterministic.
func seal(cst *circuitStart, last, beacon []byte) (groth16.ProvingKey, groth16.VerifyingKey, []byte, error) {
	p, err := decodePhase2(last, cst.limits)
	if err != nil {
		return nil, nil, nil, err
	}
	var (
		pk groth16.ProvingKey
		vk groth16.VerifyingKey
	)
	if err := safe(func() error { pk, vk = p.Seal(cst.commons, &cst.evals, beacon); return nil }); err != nil {
		return nil, nil, nil, err
	}
	vkb, err := encode(vk)
	if err != nil {
		return nil, nil, nil, err
	}
	return pk, vk, vkb, nil
}
