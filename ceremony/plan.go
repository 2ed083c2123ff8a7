package ceremony

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/frontend"
	"github.com/zkshare/zkshare/keys"
)

// FormatVersion is the version of ceremony.json and final.json this
// package writes and reads.
const FormatVersion = 1

// Limits on a plan. The ledger records at most ledger.MaxContributions
// (256) receipts a ceremony, two a participant; MaxDomain bounds what a
// plan can make a contributor allocate (a phase-1 state of 2^24 is 3 GB).
const (
	MaxParticipants = 128
	MaxDomain       = 1 << 24
)

const (
	planFile    = "ceremony.json"
	finalFile   = "final.json"
	contribDir  = "contributions"
	receiptFile = "receipt.json"
	phase1File  = "phase1.bin"
	maxJSONSize = 1 << 20
)

// Plan is a ceremony's ceremony.json: what it sets up, and who contributes
// in which order. The ceremony's id is the SHA-256 of the file's bytes.
type Plan struct {
	Format   int       `json:"format"`
	Circuits []Circuit `json:"circuits"`
	// N is the size of phase 1 (powers of tau): the largest circuit domain.
	N uint64 `json:"phase1_size"`
	// Participants contribute in this order, to phase 1 and then again to
	// phase 2.
	Participants []Participant `json:"participants"`
	// BeaconHeight is the ledger block whose hash seals the ceremony; 0: no
	// block is fixed and finalize takes a beacon given by hand.
	BeaconHeight uint64 `json:"beacon_height"`
	Origin       string `json:"origin,omitempty"` // the ledger's origin (informational)
	// GenesisHash (hex) names the ledger the ceremony is recorded on: the
	// ledger opens only a plan naming its own genesis, so neither the plan
	// nor its receipts count on another ledger.
	GenesisHash string    `json:"genesis_hash,omitempty"`
	Created     time.Time `json:"created"`
}

// Circuit is one circuit of a plan.
type Circuit struct {
	Name        string `json:"name"`
	CircuitID   string `json:"circuit_id"` // hex, as keys.Compile
	Constraints int    `json:"constraints"`
	Domain      uint64 `json:"domain"` // the next power of two ≥ Constraints
}

// Participant is a contributor: its ledger participant id and Ed25519
// public key (hex), which signs its receipts.
type Participant struct {
	ID        string `json:"id"`
	PublicKey string `json:"public_key"`
}

// Step is one contribution of the sequence.
type Step struct {
	Index       int    // 1-based
	Phase       int    // 1 or 2
	Participant string // the planned contributor's id
}

func (s Step) String() string {
	return fmt.Sprintf("contribution %d (%s, phase %d)", s.Index, s.Participant, s.Phase)
}

// Contributions is the number of contributions the plan calls for: each
// participant once per phase.
func (p *Plan) Contributions() int { return 2 * len(p.Participants) }

// Step is contribution k (1-based) of the sequence.
func (p *Plan) Step(k int) Step {
	n := len(p.Participants)
	phase := 1
	if k > n {
		phase = 2
	}
	return Step{Index: k, Phase: phase, Participant: p.Participants[(k-1)%n].ID}
}

// Contributors lists the planned contributors in contribution order (each
// participant twice), as the ledger lists a ceremony's contributors.
func (p *Plan) Contributors() []string {
	out := make([]string, 0, p.Contributions())
	for k := 1; k <= p.Contributions(); k++ {
		out = append(out, p.Step(k).Participant)
	}
	return out
}

var (
	circuitName   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	participantID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`) // the ledger's participant ids
)

// check validates a plan's shape (not its circuit ids: those need a
// compile).
func (p *Plan) check() error {
	if p.Format != FormatVersion {
		return fmt.Errorf("format %d: this zkshare reads format %d", p.Format, FormatVersion)
	}
	if len(p.Circuits) == 0 {
		return errors.New("no circuits")
	}
	var n uint64
	seen := map[string]bool{}
	for _, c := range p.Circuits {
		switch {
		case !circuitName.MatchString(c.Name):
			return fmt.Errorf("circuit name %q", c.Name)
		case seen[c.Name]:
			return fmt.Errorf("circuit %s listed twice", c.Name)
		case c.Constraints < 1 || c.Domain < 2 || c.Domain > MaxDomain || c.Domain != max(2, ecc.NextPowerOfTwo(uint64(c.Constraints))):
			return fmt.Errorf("circuit %s: %d constraints, domain %d: want the next power of two, at most %d", c.Name, c.Constraints, c.Domain, MaxDomain)
		}
		if b, err := hex.DecodeString(c.CircuitID); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("circuit %s: circuit_id %q: want 64 hex digits", c.Name, c.CircuitID)
		}
		seen[c.Name] = true
		n = max(n, c.Domain)
	}
	if p.N != n {
		return fmt.Errorf("phase1_size %d: the largest domain is %d", p.N, n)
	}
	if b, err := hex.DecodeString(p.GenesisHash); p.GenesisHash != "" && (err != nil || len(b) != sha256.Size) {
		return fmt.Errorf("genesis_hash %q: want 64 hex digits", p.GenesisHash)
	}
	if len(p.Participants) == 0 || len(p.Participants) > MaxParticipants {
		return fmt.Errorf("%d participants: want 1 to %d", len(p.Participants), MaxParticipants)
	}
	ids, pubs := map[string]bool{}, map[string]bool{}
	for _, q := range p.Participants {
		if !participantID.MatchString(q.ID) {
			return fmt.Errorf("participant id %q", q.ID)
		}
		if _, err := q.Key(); err != nil {
			return err
		}
		if ids[q.ID] || pubs[q.PublicKey] {
			return fmt.Errorf("participant %s (or its key) listed twice", q.ID)
		}
		ids[q.ID], pubs[q.PublicKey] = true, true
	}
	return nil
}

// Key decodes the participant's public key.
func (q Participant) Key() (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(q.PublicKey)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("participant %s: public key %q: want %d hex-encoded bytes", q.ID, q.PublicKey, ed25519.PublicKeySize)
	}
	return b, nil
}

// Ceremony is a ceremony directory, opened. It caches what it derives
// (compiled circuits, the sealed phase 1, each circuit's initial phase-2
// state), all of them functions of the files it checked, so that a
// Contribute or Finalize after a Verify on the same Ceremony does not
// redo them. A Ceremony is not safe for concurrent use.
type Ceremony struct {
	dir      string
	plan     Plan
	id       []byte
	circuits map[string]func() frontend.Circuit

	compiled map[string]*cs.R1CS
	start    *phase2Start
}

// Option configures Init and Open.
type Option func(*Ceremony)

// WithCircuits sets the circuit registry (default: keys.Circuits). Circuits
// compile as keys.CompileCircuit does, so their ids are keys.Compile's.
func WithCircuits(circuits map[string]func() frontend.Circuit) Option {
	return func(c *Ceremony) { c.circuits = circuits }
}

func newCeremony(dir string, opts []Option) *Ceremony {
	c := &Ceremony{dir: dir, circuits: keys.Circuits, compiled: map[string]*cs.R1CS{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Init creates a ceremony in dir (which must not hold one) from plan:
// plan names the circuits (Circuits[i].Name; Init compiles them and fills
// in their ids, sizes and N), the participants, the beacon height and the
// origin. It writes ceremony.json once: the ceremony id is the SHA-256 of
// its bytes, and nothing rewrites it.
func Init(ctx context.Context, dir string, plan Plan, opts ...Option) (*Ceremony, error) {
	c := newCeremony(dir, opts)
	plan.Format = FormatVersion
	plan.N = 0
	for i, pc := range plan.Circuits {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, id, err := c.compile(pc.Name)
		if err != nil {
			return nil, err
		}
		if pc.CircuitID != "" && pc.CircuitID != id {
			return nil, fmt.Errorf("circuit %s compiles to id %.16s, not the %.16s asked for", pc.Name, id, pc.CircuitID)
		}
		c.compiled[pc.Name] = r
		n := r.GetNbConstraints()
		plan.Circuits[i] = Circuit{Name: pc.Name, CircuitID: id, Constraints: n, Domain: max(2, ecc.NextPowerOfTwo(uint64(n)))}
		plan.N = max(plan.N, plan.Circuits[i].Domain)
	}
	if plan.Created.IsZero() {
		plan.Created = time.Now().UTC().Truncate(time.Second)
	}
	if err := plan.check(); err != nil {
		return nil, fmt.Errorf("ceremony plan: %w", err)
	}
	b, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	if err := os.MkdirAll(filepath.Join(dir, contribDir), 0o755); err != nil { //nolint:gosec // G301: a ceremony directory is public material, passed between organisations
		return nil, err
	}
	if err := createFile(filepath.Join(dir, planFile), b); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%s already holds a ceremony (%s)", dir, planFile)
		}
		return nil, err
	}
	sum := sha256.Sum256(b)
	c.plan, c.id = plan, sum[:]
	return c, nil
}

// Open opens the ceremony in dir. It checks the plan's shape; circuits are
// compiled (and their ids checked against the plan's) when a step needs
// them.
func Open(dir string, opts ...Option) (*Ceremony, error) {
	c := newCeremony(dir, opts)
	b, err := readLimited(filepath.Join(dir, planFile), maxJSONSize)
	if err != nil {
		return nil, fmt.Errorf("open ceremony: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.plan); err != nil {
		return nil, fmt.Errorf("open ceremony: %s: %w", planFile, err)
	}
	if err := c.plan.check(); err != nil {
		return nil, fmt.Errorf("open ceremony: %s: %w", planFile, err)
	}
	sum := sha256.Sum256(b)
	c.id = sum[:]
	return c, nil
}

// ID is the ceremony's id: the SHA-256 of its ceremony.json.
func (c *Ceremony) ID() []byte { return slices.Clone(c.id) }

// Plan returns the ceremony's plan.
func (c *Ceremony) Plan() Plan {
	p := c.plan
	p.Circuits = slices.Clone(p.Circuits)
	p.Participants = slices.Clone(p.Participants)
	return p
}

// Dir is the ceremony's directory.
func (c *Ceremony) Dir() string { return c.dir }

// compile compiles a circuit of the registry (cached).
func (c *Ceremony) compile(name string) (*cs.R1CS, string, error) {
	mk, ok := c.circuits[name]
	if !ok {
		return nil, "", fmt.Errorf("unknown circuit %q", name)
	}
	ccs, id, err := keys.CompileCircuit(mk())
	if err != nil {
		return nil, "", fmt.Errorf("compile %s: %w", name, err)
	}
	r, ok := ccs.(*cs.R1CS)
	if !ok {
		return nil, "", fmt.Errorf("compile %s: %T is not a BN254 R1CS", name, ccs)
	}
	return r, id, nil
}

// circuit is a plan circuit's constraint system, compiled by this binary
// and checked to be the one the plan names.
func (c *Ceremony) circuit(pc Circuit) (*cs.R1CS, error) {
	if r, ok := c.compiled[pc.Name]; ok {
		return r, nil
	}
	r, id, err := c.compile(pc.Name)
	if err != nil {
		return nil, err
	}
	if id != pc.CircuitID {
		return nil, fmt.Errorf("circuit %s compiles to id %.16s here, the plan's is %.16s: this zkshare's circuits differ from the ceremony's", pc.Name, id, pc.CircuitID)
	}
	c.compiled[pc.Name] = r
	return r, nil
}
