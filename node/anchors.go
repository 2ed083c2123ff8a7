package node

import (
	"context"
	"encoding/hex"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// AnchorInfo is an anchor's ledger entry, its block time and whether it
// counts.
type AnchorInfo struct {
	Entry      *ledger.Entry
	TimeUnixMs int64
	Status     zkv1.AnchorStatus
	// Holder is the collection's holder (a device-fed collection's anchor
	// transaction is signed by whoever relayed it).
	Holder string
}

// Anchor returns a collection's anchor that counts: the latest, or the
// newest written at or before atHeight (when not 0); includePending also
// admits one that awaits its confirmations. Anyone may ask: it is public.
func (n *Node) Anchor(_ context.Context, collectionID []byte, sequence, atHeight uint64, includePending bool) (*AnchorInfo, error) {
	if len(collectionID) != 32 {
		return nil, invalid("collection_id", "want 32 bytes")
	}
	id := collectionID
	lc, ok := n.ledger.State().Collections[hex.EncodeToString(id)]
	if !ok {
		return nil, errorf(ErrNotFound, "collection_id: %x is not registered", id)
	}
	var e *ledger.Entry
	var err error
	switch {
	case sequence != 0:
		e, err = n.ledger.AnchorBySequence(id, sequence)
	case atHeight == 0 && includePending && lc.Last != nil:
		e, err = n.ledger.Transaction(lc.Last.TxHash)
	case atHeight == 0 && lc.Latest == nil:
		return nil, errorf(ErrNotFound, "collection %x has no anchor that counts yet (include_pending shows pending ones)", id)
	case atHeight == 0:
		e, err = n.ledger.Transaction(lc.Latest.TxHash)
	default:
		e, err = n.ledger.AnchorAt(id, atHeight)
		// Back to the newest earlier anchor that counts (at most the
		// collection's pending anchors are skipped).
		for err == nil && !includePending && anchorStatus(&lc, ledger.AnchorOf(e.Tx.Body).GetSequence()) == zkv1.AnchorStatus_ANCHOR_STATUS_PENDING_CONFIRMATION {
			seq := ledger.AnchorOf(e.Tx.Body).GetSequence()
			if seq <= 1 {
				return nil, errorf(ErrNotFound, "collection %x: no confirmed anchor at or before height %d (include_pending shows pending ones)", id, atHeight)
			}
			e, err = n.ledger.AnchorBySequence(id, seq-1)
		}
	}
	if err != nil {
		return nil, err
	}
	t, _ := n.ledger.BlockTime(e.Height)
	return &AnchorInfo{Entry: e, TimeUnixMs: t, Status: anchorStatus(&lc, ledger.AnchorOf(e.Tx.Body).GetSequence()), Holder: lc.Holder}, nil
}

// anchorStatus says whether a collection's anchor counts, as of c.
func anchorStatus(c *ledger.Collection, seq uint64) zkv1.AnchorStatus {
	switch {
	case !c.Counts(seq):
		return zkv1.AnchorStatus_ANCHOR_STATUS_PENDING_CONFIRMATION
	case seq == c.Latest.Sequence:
		return zkv1.AnchorStatus_ANCHOR_STATUS_LATEST
	}
	// It counted and a newer anchor that counts has replaced it.
	return zkv1.AnchorStatus_ANCHOR_STATUS_SUPERSEDED
}
