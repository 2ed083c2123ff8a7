package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/ledger"
)

// A commit writes the holder store's next version while proofs read the
// newest version whose anchor counts (provable); when its root is
// anchored the commit marks its version anchored, and a commit whose root
// cannot be anchored is rolled back. So proofs never wait for a commit,
// and a change is visible to them only once the ledger anchors it.

// CommitStep names a point of a commit, for Config.OnCommitStep.
type CommitStep int

// The points of a commit a crash test stops at.
const (
	// StepChunk: one chunk of records is written (done of total).
	StepChunk CommitStep = iota + 1
	// StepWritten: every record is written, the root is not anchored.
	StepWritten
	// StepAnchored: the ledger anchored the root; the store does not know
	// it yet.
	StepAnchored
)

// step tells Config.OnCommitStep, if set, that a commit reached s.
func (n *Node) step(s CommitStep, done, total int) {
	if n.cfg.OnCommitStep != nil {
		n.cfg.OnCommitStep(s, done, total)
	}
}

// provable returns the store version proofs of a collection read and the
// sequence of its anchor: the newest anchored version whose anchor counts
// and anchors that root. A device-fed collection's tree is the ledger's:
// it is read as last mirrored (syncReadings).
func (n *Node) provable(name string) (holder.Version, uint64, error) {
	lc, ok := n.ledger.State().Collections[collectionKey(name)]
	if !ok {
		return 0, 0, errorf(ErrNotFound, "collection: %q is not registered", name)
	}
	if lc.DeviceFed {
		v := n.store.Now()
		c, err := n.store.At(v).Collection(name)
		if err != nil {
			return 0, 0, err
		}
		return v, c.Synced, nil
	}
	vs, err := n.store.Versions(name)
	if err != nil {
		return 0, 0, err
	}
	a, err := n.newestCounting(lc, vs)
	if err != nil {
		return 0, 0, err
	}
	return a.Version, a.Sequence, nil
}

// newestCounting returns the newest of a collection's anchored versions
// whose anchor counts and is of that version's root.
func (n *Node) newestCounting(lc ledger.Collection, vs []holder.AnchoredVersion) (*holder.AnchoredVersion, error) {
	for i := len(vs) - 1; i >= 0; i-- {
		a := &vs[i]
		if !lc.Counts(a.Sequence) {
			continue
		}
		rb, err := hex.DecodeString(a.Root)
		if err != nil {
			return nil, fmt.Errorf("collection %s: kept version %d: root: %w", lc.Name, a.Version, err)
		}
		if lc.Latest.Sequence != a.Sequence || !bytes.Equal(lc.Latest.Root, rb) {
			e, err := n.ledger.AnchorBySequence(lc.ID, a.Sequence)
			if err != nil || !bytes.Equal(ledger.AnchorOf(e.Tx.Body).GetRoot(), rb) {
				continue
			}
		}
		return a, nil
	}
	return nil, errorf(ErrFailedPrecondition, "collection: %s has no anchor that counts yet: its last anchor awaits its confirmations, or nothing is committed", lc.Name)
}

// markAnchored records that the collection's version v has the root the
// ledger anchored last, and forgets versions that left the freshness
// window.
func (n *Node) markAnchored(ctx context.Context, name string, v holder.Version, root []byte) error {
	lc := n.ledger.State().Collections[collectionKey(name)]
	if lc.Last == nil || !bytes.Equal(lc.Last.Root, root) {
		return fmt.Errorf("collection %s: the ledger's last anchor is not of version %d's root", name, v)
	}
	now := time.Now()
	if err := n.store.MarkAnchored(ctx, name, v, lc.Last.Sequence, now); err != nil {
		return err
	}
	return n.prune(ctx, name, lc, now)
}

// prune forgets a collection's anchored versions that neither proofs nor
// verifiers need: those before the latest that counts and replaced longer
// ago than the freshness window (a verifier's default window, so the
// prover keeps what verifiers still accept).
func (n *Node) prune(ctx context.Context, name string, lc ledger.Collection, now time.Time) error {
	var latest uint64
	if lc.Latest != nil {
		latest = lc.Latest.Sequence
	}
	_, err := n.store.Prune(ctx, name, func(a holder.AnchoredVersion) bool {
		return a.Sequence >= latest || a.Replaced == 0 || now.Sub(time.UnixMilli(a.Replaced)) <= n.cfg.Freshness
	})
	return err
}

// recover brings every holder-fed collection to a state a proof can read,
// without a person, after a stop at any point of a commit (settle):
//   - the ledger anchored the store's latest root, which the store did not
//     mark (a stop after anchoring): it is marked, and proofs read it;
//   - the store holds writes after its last anchored version (a stop
//     during a commit, or before its anchor): they were never
//     acknowledged, and are rolled back, in the background; proofs read
//     the last anchored version meanwhile, and commits wait.
//
// What it did is logged and shown to the holder in GetCollection
// (ProvingState.recovery).
func (n *Node) recover(ctx context.Context) error {
	cols, err := n.store.Collections()
	if err != nil {
		return err
	}
	var rollback []string
	for _, c := range cols {
		if c.Devices {
			continue
		}
		did, err := n.settle(ctx, c.Name, false)
		if err != nil {
			return err
		}
		switch did {
		case settleClean:
			// Versions that left the window while the node was down.
			if err := n.prune(ctx, c.Name, n.ledger.State().Collections[collectionKey(c.Name)], time.Now()); err != nil {
				return err
			}
		case settleMarked:
			n.setRecovery(ctx, c.Name, "the last commit's root was anchored but not yet recorded by the store when the node stopped: recorded, and proofs read it")
		case settleRollback:
			rollback = append(rollback, c.Name)
			n.setRecovery(ctx, c.Name, "rolling back a commit cut short before its root was anchored; proofs read the last anchored version")
		}
	}
	if len(rollback) == 0 {
		return nil
	}
	// Commits wait for the rollbacks; proofs read the anchored versions.
	n.commitMu.Lock()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.stopRecovery = cancel
	n.recovering.Add(1)
	go func() {
		defer n.recovering.Done()
		defer n.commitMu.Unlock()
		defer cancel()
		for _, name := range rollback {
			if _, err := n.settle(ctx, name, true); err != nil {
				n.log.ErrorContext(ctx, "recovery: roll back failed; the next commit or start tries again", "collection", name, "err", err)
				n.setRecovery(ctx, name, "rolling back a commit cut short before its root was anchored failed; the next commit or start tries again")
				continue
			}
			n.setRecovery(ctx, name, "rolled back a commit cut short before its root was anchored; proofs read the last anchored version, and the commit can be sent again")
		}
	}()
	return nil
}

// What settle found.
const (
	settleClean    = iota // the head is the newest anchored version
	settleMarked          // the head was anchored on the ledger, and is now marked
	settleRollback        // the head has unanchored writes (rolled back if asked)
)

// settle makes a holder-fed collection's head its newest anchored version:
// a head whose root is the ledger's last anchor is marked anchored (never
// rolled back: the ledger made it public); writes after the newest
// anchored version are rolled back when rollback is set. Every commit
// starts with it, so writes a failed rollback left are undone before
// anything is written on top of them.
func (n *Node) settle(ctx context.Context, name string, rollback bool) (int, error) {
	h, err := n.store.Head(name)
	if err != nil {
		return 0, err
	}
	vs, err := n.store.Versions(name)
	if err != nil {
		return 0, err
	}
	if len(vs) > 0 && vs[len(vs)-1].Version == h.Version {
		return settleClean, nil
	}
	hr := elemBytes(h.Root)
	if n.lastAnchorIs(name, hr) {
		return settleMarked, n.markAnchored(ctx, name, h.Version, hr)
	}
	if len(vs) == 0 && h.Count == 0 && h.Root.IsZero() {
		return settleClean, nil // nothing committed yet
	}
	if !rollback {
		return settleRollback, nil
	}
	restored, to, err := n.store.RollbackUnanchored(context.WithoutCancel(ctx), name)
	if err != nil {
		return settleRollback, fmt.Errorf("roll back unanchored writes: %w", err)
	}
	if restored > 0 {
		n.log.WarnContext(ctx, "unanchored writes rolled back", "collection", name, "entries", restored, "version", to)
	}
	return settleRollback, nil
}

// setRecovery keeps what recovery did to a collection, and logs it.
func (n *Node) setRecovery(ctx context.Context, name, what string) {
	n.recoveryMu.Lock()
	n.recovery[name] = what
	n.recoveryMu.Unlock()
	n.log.WarnContext(ctx, "recovery", "collection", name, "what", what)
}

// seesProving says whether a caller may see a collection's ProvingState:
// when a commit runs and what recovery did are the holder's (and the
// admin's) to know, not every caller's.
func (n *Node) seesProving(c Caller) bool {
	return c.ID != "" && (c.ID == n.holderID.ID || n.admin != nil && c.ID == n.admin.ID)
}

// provingState describes what proofs of a collection read, from its
// kept versions vs.
func (n *Node) provingState(lc ledger.Collection, vs []holder.AnchoredVersion) *zkv1.ProvingState {
	ps := &zkv1.ProvingState{KeptVersions: uint32(len(vs))}
	n.recoveryMu.Lock()
	ps.Recovery = n.recovery[lc.Name]
	n.recoveryMu.Unlock()
	if c := n.committing.Load(); c != nil {
		ps.Committing = *c == lc.Name
	}
	if a, err := n.newestCounting(lc, vs); err == nil {
		if root, err := hex.DecodeString(a.Root); err == nil {
			ps.AnchorSequence, ps.Root, ps.RecordCount = a.Sequence, root, a.Count
		}
	}
	return ps
}
