package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
)

// Committed is the outcome of a commit, update or delete: the holder
// store's change and the anchor of its new root.
type Committed struct {
	Inserted, Updated, Deleted int
	// Count and Root are the collection's after the change.
	Count uint64
	Root  []byte
	// Anchor is the ledger transaction that anchors Root (or the earlier
	// one that already did).
	Anchor *ledger.Receipt
}

// Commit inserts and replaces records, validated whole (one bad record
// rejects the batch and nothing is written), and anchors the new root.
func (n *Node) Commit(ctx context.Context, c Caller, collection string, recs []records.Record) (*Committed, error) {
	coll := n.Qualify(collection)
	if len(recs) == 0 {
		return nil, invalid("records", "none sent")
	}
	if err := checkValues(recs); err != nil {
		return nil, err
	}
	return n.applyAndAnchor(ctx, c, coll, "committed", func(progress holder.Progress) (*holder.CommitResult, error) {
		return n.store.Commit(ctx, coll, recs, progress)
	})
}

// Update replaces existing records only: one unknown key rejects the call
// and nothing is written.
func (n *Node) Update(ctx context.Context, c Caller, collection string, recs []records.Record) (*Committed, error) {
	coll := n.Qualify(collection)
	if len(recs) == 0 {
		return nil, invalid("records", "none sent")
	}
	if err := checkValues(recs); err != nil {
		return nil, err
	}
	return n.applyAndAnchor(ctx, c, coll, "updated", func(progress holder.Progress) (*holder.CommitResult, error) {
		for i, r := range recs {
			if _, err := n.store.Record(ctx, coll, r.Key); err != nil {
				if errors.Is(err, holder.ErrNotFound) {
					return nil, errorf(ErrNotFound, "records[%d].key: no such record", i)
				}
				return nil, err
			}
		}
		return n.store.Commit(ctx, coll, recs, progress)
	})
}

// Delete empties the records' positions and anchors the new root.
func (n *Node) Delete(ctx context.Context, c Caller, collection string, keys []string) (*Committed, error) {
	coll := n.Qualify(collection)
	if len(keys) == 0 {
		return nil, invalid("keys", "none sent")
	}
	return n.applyAndAnchor(ctx, c, coll, "deleted", func(holder.Progress) (*holder.CommitResult, error) {
		return n.store.Delete(ctx, coll, keys)
	})
}

// applyAndAnchor applies a change of the caller's collection to the holder
// store and anchors the new root, all under commitMu. The change is all or
// nothing: one that fails part way, or whose root cannot be anchored, is
// rolled back. Proofs go on reading the last anchored version meanwhile,
// and read the new one once it is anchored and marked.
func (n *Node) applyAndAnchor(ctx context.Context, c Caller, name, did string, apply func(holder.Progress) (*holder.CommitResult, error)) (*Committed, error) {
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	if err := n.ownsCollection(c, name); err != nil {
		return nil, err
	}
	// Writes an earlier failure left (its rollback failed too) are undone
	// before anything is written on top of them.
	if _, err := n.settle(ctx, name, true); err != nil && !errors.Is(err, holder.ErrNotFound) {
		return nil, fmt.Errorf("records not %s: %w", did, err)
	}
	n.committing.Store(&name)
	defer n.committing.Store(nil)
	res, err := apply(func(_ string, done, total int) { n.step(StepChunk, done, total) })
	if err != nil {
		return nil, n.undo(ctx, name, err)
	}
	n.step(StepWritten, int(res.Count), int(res.Count))
	rb := elemBytes(res.Root)
	// The anchor is not abandoned when the caller goes away: a
	// transaction handed to the ledger may still land, and a rollback
	// would then leave the ledger anchoring a root the store lost.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), anchorTimeout)
	defer cancel()
	rec, err := n.anchor(actx, name, res.Count, res.Root)
	if err != nil && !n.lastAnchorIs(name, rb) {
		return nil, n.undo(ctx, name, fmt.Errorf("records not %s: their root could not be anchored, so the change was rolled back (send it again): %w", did, err))
	}
	n.step(StepAnchored, int(res.Count), int(res.Count))
	if err := n.markAnchored(ctx, name, res.Version, rb); err != nil {
		// The root is anchored: the next start marks it (recover).
		return nil, fmt.Errorf("records %s and anchored, but proofs go on reading the previous version until the node restarts: %w", did, err)
	}
	if rec == nil {
		lc := n.ledger.State().Collections[collectionKey(name)]
		rec = &ledger.Receipt{Height: lc.Last.Height, Hash: [32]byte(lc.Last.TxHash)}
	}
	return &Committed{Inserted: res.Inserted, Updated: res.Updated, Deleted: res.Deleted, Count: res.Count, Root: rb, Anchor: rec}, nil
}

// undo rolls back what a failed change wrote and returns the change's
// error (with the rollback's, if that failed too: the next commit, or
// start, retries it before anything else is written).
func (n *Node) undo(ctx context.Context, name string, cause error) error {
	_, err := n.settle(ctx, name, true)
	if errors.Is(err, holder.ErrNotFound) {
		return cause
	}
	if err != nil {
		n.log.ErrorContext(ctx, "roll back of a failed change failed; the next commit or start tries again", "collection", name, "err", err)
		return errors.Join(cause, err)
	}
	return cause
}

// anchorTimeout bounds how long a commit waits for its anchor once the
// caller has gone away.
const anchorTimeout = 2 * time.Minute

// lastAnchorIs says whether the ledger's last anchor of a collection has
// root rb: an anchor that reported an error may still have landed.
func (n *Node) lastAnchorIs(name string, rb []byte) bool {
	lc, ok := n.ledger.State().Collections[collectionKey(name)]
	return ok && lc.Last != nil && bytes.Equal(lc.Last.Root, rb)
}

// anchor records root as the collection's newest anchor, unless the last
// anchor already covers it.
func (n *Node) anchor(ctx context.Context, name string, count uint64, root fr.Element) (*ledger.Receipt, error) {
	lc := n.ledger.State().Collections[collectionKey(name)]
	rb := root.Bytes()
	var seq uint64
	var prev []byte
	if lc.Last != nil {
		seq, prev = lc.Last.Sequence, lc.Last.Root
		// A root whose anchor never counted (it awaited confirmations
		// when the collection's rule changed) is anchored again.
		stuck := lc.Required == 0 && !lc.Counts(lc.Last.Sequence)
		if bytes.Equal(prev, rb[:]) && !stuck {
			return &ledger.Receipt{Height: lc.Last.Height, Hash: [32]byte(lc.Last.TxHash)}, nil
		}
	}
	a := &zkv1.Anchor{CollectionId: lc.ID, Root: rb[:], RecordCount: count, Sequence: seq + 1, PreviousRoot: prev}
	return n.send(ctx, n.holderID, ledger.AnchorRoot(a))
}
