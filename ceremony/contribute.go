package ceremony

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"google.golang.org/protobuf/encoding/protojson"
)

// Contribute makes the ceremony's next contribution as id, who must be the
// planned contributor, with the plan's key. Before building on the previous
// contribution it checks every receipt so far (chain and signatures), and
// the previous state against its receipt and, cryptographically, against
// the state before it (run Verify to check every contribution). gnark
// draws the contribution's randomness from crypto/rand and drops it;
// nothing here stores it. The contribution appears in the directory at
// once, complete, or not at all; its signed receipt is returned, for the
// ledger.
//
// The first phase-2 contributor, and the one after it, also seal phase 1
// and initialise every circuit's phase 2, which takes the longest
// (tens of seconds a circuit at 2^14 constraints).
func (c *Ceremony) Contribute(ctx context.Context, id *ledger.Identity, progress Progress) (*zkv1.ContributionReceipt, error) {
	st, done, err := c.Next()
	if err != nil {
		return nil, err
	}
	if done {
		return nil, fmt.Errorf("contribute: %w: run finalize", ErrComplete)
	}
	p := c.plan.Participants[(st.Index-1)%len(c.plan.Participants)]
	key, err := p.Key()
	if err != nil {
		return nil, err
	}
	switch {
	case id == nil || id.ID != st.Participant:
		who := "no identity"
		if id != nil {
			who = id.ID
		}
		return nil, fmt.Errorf("contribute: %w: %s is next, not %s: pass %s to %s", ErrNotYourTurn, st, who, c.dir, st.Participant)
	case !id.Public().Equal(key):
		return nil, fmt.Errorf("contribute: %w: %s's key %.8x… is not the plan's %.16s…", ErrNotYourTurn, id.ID, []byte(id.Public()), p.PublicKey)
	}
	w, err := c.walk(ctx, max(1, st.Index-2), progress)
	if err != nil {
		return nil, err
	}
	if w.count != st.Index-1 {
		return nil, fmt.Errorf("contribute: the directory changed: %d contributions, %d expected", w.count, st.Index-1)
	}
	var files [][]byte
	n := len(c.plan.Participants)
	switch st.Phase {
	case 1:
		base := w.p1
		if st.Index == 1 {
			base = mpcsetup.NewPhase1(c.plan.N)
		}
		if err := runStep(progress, fmt.Sprintf("%s: contribute (N=%d)", st, c.plan.N), func() error {
			return safe(func() error { base.Contribute(); return nil })
		}); err != nil {
			return nil, fmt.Errorf("%s: %w", st, err)
		}
		b, err := encode(base)
		if err != nil {
			return nil, err
		}
		files = [][]byte{b}
	default:
		base := w.p2
		if st.Index == n+1 {
			start, err := c.startPhase2(ctx, w.p1, w.lastReceipt, progress)
			if err != nil {
				return nil, err
			}
			base = make([]*mpcsetup.Phase2, len(start.circuits))
			for i, cs := range start.circuits {
				if base[i], err = clonePhase2(cs.initial); err != nil {
					return nil, err
				}
			}
		}
		for i, pc := range c.plan.Circuits {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			p2 := base[i]
			if err := runStep(progress, fmt.Sprintf("%s: contribute to %s", st, pc.Name), func() error {
				return safe(func() error { p2.Contribute(); return nil })
			}); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", st, pc.Name, err)
			}
			b, err := encode(p2)
			if err != nil {
				return nil, err
			}
			files = append(files, b)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &zkv1.ContributionReceipt{CeremonyId: c.ID(), Index: uint32(st.Index), Previous: w.lastReceipt,
		StateHash: stateHash(files), BeaconHeight: c.plan.BeaconHeight}
	ledger.SignReceipt(id, r)
	if err := runStep(progress, fmt.Sprintf("%s: write", st), func() error { return c.writeContribution(st, files, r) }); err != nil {
		return nil, err
	}
	return r, nil
}

// writeContribution assembles the contribution in a hidden directory, each
// file synced, then renames it into place: a crash leaves no partial
// contribution visible, and a contribution made meanwhile by someone else
// is never replaced.
func (c *Ceremony) writeContribution(st Step, files [][]byte, r *zkv1.ContributionReceipt) (err error) {
	parent := filepath.Join(c.dir, contribDir)
	tmp, err := os.MkdirTemp(parent, fmt.Sprintf(".tmp-%03d-", st.Index))
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			err = errors.Join(err, os.RemoveAll(tmp))
		}
	}()
	// A contribution is public: every organisation reads it.
	if err := os.Chmod(tmp, 0o755); err != nil { //nolint:gosec // G302: see above
		return err
	}
	for i, name := range c.stateFiles(st.Phase) {
		if err := writeNew(filepath.Join(tmp, name), files[i]); err != nil {
			return err
		}
	}
	rb, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(r)
	if err != nil {
		return err
	}
	if err := writeNew(filepath.Join(tmp, receiptFile), append(rb, '\n')); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	final := c.contributionDir(st.Index)
	if _, err := os.Stat(final); err == nil {
		return fmt.Errorf("%s: someone else made it meanwhile", st)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("%s: %w", st, err)
	}
	renamed = true
	return syncDir(parent)
}
