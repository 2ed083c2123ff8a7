package ceremony

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"google.golang.org/protobuf/encoding/protojson"
)

const maxReceiptSize = 16 << 10

// Contribution is one verified contribution, as a transcript lists it.
type Contribution struct {
	Step
	ReceiptHash []byte
	StateHash   []byte
	Size        int64         // bytes of state files
	VerifyTime  time.Duration // reading, decoding and checking it
}

// Transcript is what Verify checked.
type Transcript struct {
	ID            []byte
	Plan          Plan
	Contributions []Contribution
	// Final is final.json, checked (nil before Finalize).
	Final *Final
}

// Complete says whether every planned contribution is made.
func (t *Transcript) Complete() bool { return len(t.Contributions) == t.Plan.Contributions() }

// Hash is the transcript hash: the receipt hash of the last contribution
// (nil if none).
func (t *Transcript) Hash() []byte {
	if len(t.Contributions) == 0 {
		return nil
	}
	return t.Contributions[len(t.Contributions)-1].ReceiptHash
}

// WriteTo prints the transcript.
func (t *Transcript) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	pf := func(w io.Writer, format string, a ...any) { _, _ = fmt.Fprintf(w, format, a...) }
	fmt.Fprintf(&b, "ceremony %x\n", t.ID)
	fmt.Fprintf(&b, "phase-1 size N=%d, beacon height %s, %d participants, created %s\n", t.Plan.N, beaconHeightText(t.Plan.BeaconHeight), len(t.Plan.Participants), t.Plan.Created.Format(time.RFC3339))
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	pf(tw, "circuit\tconstraints\tdomain\tcircuit_id\n")
	for _, c := range t.Plan.Circuits {
		pf(tw, "%s\t%d\t%d\t%.16s\n", c.Name, c.Constraints, c.Domain, c.CircuitID)
	}
	_ = tw.Flush()
	fmt.Fprintf(&b, "contributions: %d of %d\n", len(t.Contributions), t.Plan.Contributions())
	tw = tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	pf(tw, "  #\tphase\tcontributor\treceipt_hash\tstate_hash\tbytes\tverify\n")
	for _, c := range t.Contributions {
		pf(tw, "  %03d\t%d\t%s\t%x\t%x\t%d\t%s\n", c.Index, c.Phase, c.Participant, c.ReceiptHash, c.StateHash, c.Size, c.VerifyTime.Round(time.Millisecond))
	}
	_ = tw.Flush()
	if f := t.Final; f != nil {
		fmt.Fprintf(&b, "sealed with beacon %s (height %s), transcript %s\n", f.Beacon, beaconHeightText(f.BeaconHeight), f.TranscriptHash)
		for _, c := range f.Circuits {
			fmt.Fprintf(&b, "  %-20s vk_sha256=%s\n", c.Name, c.VKSHA256)
		}
	} else {
		fmt.Fprintln(&b, "not finalized")
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func (t *Transcript) String() string {
	var b strings.Builder
	_, _ = t.WriteTo(&b)
	return b.String()
}

func beaconHeightText(h uint64) string {
	if h == 0 {
		return "none (a beacon given by hand)"
	}
	return strconv.FormatUint(h, 10)
}

func (c *Ceremony) contributionDir(k int) string {
	return filepath.Join(c.dir, contribDir, fmt.Sprintf("%03d", k))
}

// stateFiles are the state files of a contribution of phase.
func (c *Ceremony) stateFiles(phase int) []string {
	if phase == 1 {
		return []string{phase1File}
	}
	out := make([]string, len(c.plan.Circuits))
	for i, pc := range c.plan.Circuits {
		out[i] = "phase2-" + pc.Name + ".bin"
	}
	return out
}

// count is the number of contributions in the directory: 001 to count,
// none missing. Names starting with a dot (contributions being written)
// are ignored.
func (c *Ceremony) count() (int, error) {
	entries, err := os.ReadDir(filepath.Join(c.dir, contribDir))
	if err != nil {
		return 0, fmt.Errorf("ceremony %s: %w", c.dir, err)
	}
	total := c.plan.Contributions()
	have := map[int]bool{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		k, err := strconv.Atoi(name)
		if err != nil || len(name) != 3 || k < 1 || k > total || !e.IsDir() {
			return 0, fmt.Errorf("%s/%s: not a contribution (the plan has contributions 001 to %03d)", contribDir, name, total)
		}
		have[k] = true
	}
	n := 0
	for have[n+1] {
		n++
	}
	if len(have) != n {
		for k := n + 2; k <= total; k++ {
			if have[k] {
				return 0, &ContributionError{c.plan.Step(n + 1), fmt.Errorf("missing, yet contribution %d is there", k)}
			}
		}
	}
	return n, nil
}

// Next is the next contribution to make; done once every contribution is
// made.
func (c *Ceremony) Next() (step Step, done bool, err error) {
	n, err := c.count()
	if err != nil {
		return Step{}, false, err
	}
	if n == c.plan.Contributions() {
		return Step{}, true, nil
	}
	return c.plan.Step(n + 1), false, nil
}

func (c *Ceremony) readReceipt(k int) (*zkv1.ContributionReceipt, error) {
	b, err := readLimited(filepath.Join(c.contributionDir(k), receiptFile), maxReceiptSize)
	if err != nil {
		return nil, err
	}
	r := new(zkv1.ContributionReceipt)
	if err := protojson.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s: %w", receiptFile, err)
	}
	return r, nil
}

// checkReceipt checks receipt k of the chain, previous being the receipt
// hash before it (the ceremony id for the first).
func (c *Ceremony) checkReceipt(r *zkv1.ContributionReceipt, st Step, previous []byte) error {
	key, err := c.plan.Participants[(st.Index-1)%len(c.plan.Participants)].Key()
	if err != nil {
		return err
	}
	switch {
	case r.GetIndex() != uint32(st.Index):
		return fmt.Errorf("its receipt is contribution %d's: a contribution is missing or they are out of order", r.GetIndex())
	case !bytes.Equal(r.GetCeremonyId(), c.id):
		return fmt.Errorf("its receipt is for ceremony %.8x, not this one (%.8x)", r.GetCeremonyId(), c.id)
	case !bytes.Equal(r.GetPrevious(), previous):
		return fmt.Errorf("its receipt follows %.8x, not the previous receipt %.8x", r.GetPrevious(), previous)
	case r.GetBeaconHeight() != c.plan.BeaconHeight:
		return fmt.Errorf("its receipt has beacon height %d, the plan's is %d", r.GetBeaconHeight(), c.plan.BeaconHeight)
	case r.GetContributor() != st.Participant:
		return fmt.Errorf("its receipt is by %q, the plan's contributor is %q", r.GetContributor(), st.Participant)
	case len(r.GetStateHash()) != 32:
		return fmt.Errorf("its receipt's state hash has %d bytes, want 32", len(r.GetStateHash()))
	case !ledger.VerifyReceipt(key, r):
		return fmt.Errorf("its receipt's signature does not verify under %s's key in the plan", st.Participant)
	}
	return nil
}

// walked is what a walk over the contributions found.
type walked struct {
	count       int
	receipts    []*zkv1.ContributionReceipt
	entries     []Contribution
	p1          *mpcsetup.Phase1   // the last phase-1 state read, if the last read is phase 1
	p2          []*mpcsetup.Phase2 // the last phase-2 states read, plan order
	p2bytes     [][]byte           // their encodings
	start       *phase2Start       // set once a phase-2 contribution was checked against it
	lastReceipt []byte             // receipt hash of the last contribution (the ceremony id if none)
}

// walk checks every receipt (chain, contributor, signature) and, from
// contribution from on, reads each state, checks it against its receipt
// and, where the state before it was read too (or is phase 1's start, or
// phase 2's), checks gnark's proof of the update.
func (c *Ceremony) walk(ctx context.Context, from int, progress Progress) (*walked, error) {
	n, err := c.count()
	if err != nil {
		return nil, err
	}
	w := &walked{count: n, lastReceipt: c.id}
	participants := len(c.plan.Participants)
	var (
		p1       *mpcsetup.Phase1
		p2       []*mpcsetup.Phase2
		prevRead bool
	)
	for k := 1; k <= n; k++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := c.plan.Step(k)
		r, err := c.readReceipt(k)
		if err == nil {
			err = c.checkReceipt(r, st, w.lastReceipt)
		}
		if err != nil {
			return nil, &ContributionError{st, err}
		}
		entry := Contribution{Step: st, ReceiptHash: ledger.ReceiptHash(r), StateHash: r.GetStateHash()}
		if k >= from {
			if k == participants+1 && prevRead {
				if w.start, err = c.startPhase2(ctx, p1, w.lastReceipt, progress); err != nil {
					return nil, err
				}
			}
			t0 := time.Now()
			err := runStep(progress, st.String()+": verify", func() error {
				var err error
				if st.Phase == 1 {
					var prev *mpcsetup.Phase1
					switch {
					case k == 1:
						prev = mpcsetup.NewPhase1(c.plan.N)
					case prevRead:
						prev = p1
					}
					p1, entry.Size, err = c.checkPhase1(k, r, prev)
					return err
				}
				prev := p2
				switch {
				case !prevRead:
					prev = nil
				case k == participants+1:
					prev = make([]*mpcsetup.Phase2, len(w.start.circuits))
					for i, cs := range w.start.circuits {
						prev[i] = cs.initial
					}
				}
				p2, w.p2bytes, entry.Size, err = c.checkPhase2(ctx, k, r, prev)
				return err
			})
			if err != nil {
				return nil, &ContributionError{st, err}
			}
			entry.VerifyTime = time.Since(t0)
			prevRead = true
		}
		w.receipts = append(w.receipts, r)
		w.entries = append(w.entries, entry)
		w.lastReceipt = entry.ReceiptHash
	}
	if n > 0 && c.plan.Step(n).Phase == 1 {
		w.p1 = p1
	} else {
		w.p2 = p2
	}
	return w, nil
}

// checkPhase1 reads contribution k's phase-1 state, checks it against the
// receipt and, if prev is not nil, against prev.
func (c *Ceremony) checkPhase1(k int, r *zkv1.ContributionReceipt, prev *mpcsetup.Phase1) (*mpcsetup.Phase1, int64, error) {
	b, err := readExact(filepath.Join(c.contributionDir(k), phase1File), phase1Size(c.plan.N))
	if err != nil {
		return nil, 0, err
	}
	if h := stateHash([][]byte{b}); !bytes.Equal(h, r.GetStateHash()) {
		return nil, 0, fmt.Errorf("its state files hash to %x, its receipt says %x", h, r.GetStateHash())
	}
	next, err := decodePhase1(b, c.plan.N)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", phase1File, err)
	}
	if prev != nil {
		if err := safe(func() error { return prev.Verify(next) }); err != nil {
			return nil, 0, fmt.Errorf("%s does not follow from contribution %d's: %w", phase1File, k-1, err)
		}
	}
	return next, int64(len(b)), nil
}

// checkPhase2 is checkPhase1 for phase 2: one state per circuit.
func (c *Ceremony) checkPhase2(ctx context.Context, k int, r *zkv1.ContributionReceipt, prev []*mpcsetup.Phase2) ([]*mpcsetup.Phase2, [][]byte, int64, error) {
	names := c.stateFiles(2)
	files := make([][]byte, len(names))
	limits := make([]phase2Limits, len(names))
	var size int64
	for i, pc := range c.plan.Circuits {
		rc, err := c.circuit(pc)
		if err != nil {
			return nil, nil, 0, err
		}
		limits[i] = limitsOf(rc, pc.Domain)
		if files[i], err = readLimited(filepath.Join(c.contributionDir(k), names[i]), limits[i].maxSize()); err != nil {
			return nil, nil, 0, err
		}
		size += int64(len(files[i]))
	}
	if h := stateHash(files); !bytes.Equal(h, r.GetStateHash()) {
		return nil, nil, 0, fmt.Errorf("its state files hash to %x, its receipt says %x", h, r.GetStateHash())
	}
	next := make([]*mpcsetup.Phase2, len(names))
	for i := range names {
		if err := ctx.Err(); err != nil {
			return nil, nil, 0, err
		}
		var err error
		if next[i], err = decodePhase2(files[i], limits[i]); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %w", names[i], err)
		}
		if prev != nil {
			before := fmt.Sprintf("contribution %d's", k-1)
			if k == len(c.plan.Participants)+1 {
				before = "the initial state"
			}
			if err := safe(func() error { return prev[i].Verify(next[i]) }); err != nil {
				return nil, nil, 0, fmt.Errorf("%s does not follow from %s: %w", names[i], before, err)
			}
		}
	}
	return next, files, size, nil
}

// Verify checks the whole ceremony so far: every receipt (its place in the
// chain, the ceremony, the beacon height, the planned contributor, its
// signature under the plan's key), every state file against its receipt,
// and gnark's proof of every update against the state before it. If
// final.json exists, it also re-derives each circuit's keys with the
// recorded beacon and checks the verifying keys' hashes. An error names
// the contribution that failed (a *ContributionError) or the beacon.
func (c *Ceremony) Verify(ctx context.Context, progress Progress) (*Transcript, error) {
	w, err := c.walk(ctx, 1, progress)
	if err != nil {
		return nil, err
	}
	t := &Transcript{ID: c.ID(), Plan: c.Plan(), Contributions: w.entries}
	f, err := c.readFinal()
	if err != nil || f == nil {
		return t, err
	}
	if !t.Complete() {
		return nil, fmt.Errorf("%s exists, but only %d of %d contributions do", finalFile, w.count, c.plan.Contributions())
	}
	if err := c.checkFinal(ctx, f, w, progress); err != nil {
		return nil, err
	}
	t.Final = f
	return t, nil
}

// checkFinal checks final.json against the transcript, and its beacon by
// re-deriving the keys.
func (c *Ceremony) checkFinal(ctx context.Context, f *Final, w *walked, progress Progress) error {
	want := c.final(w, nil, 0)
	switch {
	case f.Format != FormatVersion:
		return fmt.Errorf("%s: format %d, want %d", finalFile, f.Format, FormatVersion)
	case f.CeremonyID != want.CeremonyID:
		return fmt.Errorf("%s: ceremony %.16s, not this one (%.16s)", finalFile, f.CeremonyID, want.CeremonyID)
	case f.TranscriptHash != want.TranscriptHash:
		return fmt.Errorf("%s: transcript hash %.16s, the last receipt's is %.16s", finalFile, f.TranscriptHash, want.TranscriptHash)
	case strings.Join(f.Contributors, ",") != strings.Join(want.Contributors, ","):
		return fmt.Errorf("%s: contributors %v, the transcript's are %v", finalFile, f.Contributors, want.Contributors)
	case f.BeaconHeight != c.plan.BeaconHeight:
		return fmt.Errorf("%s: the beacon is from height %d, the plan fixes %s", finalFile, f.BeaconHeight, beaconHeightText(c.plan.BeaconHeight))
	case len(f.Circuits) != len(want.Circuits):
		return fmt.Errorf("%s: %d circuits, the plan has %d", finalFile, len(f.Circuits), len(want.Circuits))
	}
	beacon, err := hex.DecodeString(f.Beacon)
	if err != nil || len(beacon) == 0 {
		return fmt.Errorf("%s: the beacon %q: want hex", finalFile, f.Beacon)
	}
	for i, fc := range f.Circuits {
		if err := ctx.Err(); err != nil {
			return err
		}
		cst := w.start.circuits[i]
		if fc.Name != cst.circuit.Name || fc.CircuitID != cst.circuit.CircuitID {
			return fmt.Errorf("%s: circuit %d is %s (%.16s), the plan's is %s (%.16s)", finalFile, i+1, fc.Name, fc.CircuitID, cst.circuit.Name, cst.circuit.CircuitID)
		}
		var sum string
		if err := runStep(progress, fc.Name+": re-derive keys from the beacon", func() error {
			_, _, vk, err := seal(cst, w.p2bytes[i], beacon)
			sum = sha256Hex(vk)
			return err
		}); err != nil {
			return fmt.Errorf("%s: seal: %w", fc.Name, err)
		}
		if sum != fc.VKSHA256 {
			return fmt.Errorf("%s: the beacon %.16s… does not give circuit %s's recorded verifying key (recorded vk_sha256 %.16s, re-derived %.16s): a wrong beacon or an altered %s",
				finalFile, f.Beacon, fc.Name, fc.VKSHA256, sum, finalFile)
		}
	}
	return nil
}

// Receipts returns the receipts of the contributions made so far, each
// checked in its place in the chain, against the plan's contributor and
// its key (the state files are not read: Verify checks those).
func (c *Ceremony) Receipts(ctx context.Context) ([]*zkv1.ContributionReceipt, error) {
	n, err := c.count()
	if err != nil {
		return nil, err
	}
	w, err := c.walk(ctx, n+1, nil)
	if err != nil {
		return nil, err
	}
	return w.receipts, nil
}
