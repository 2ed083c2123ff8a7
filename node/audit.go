package node

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/zkshare/zkshare/audit"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"google.golang.org/protobuf/proto"
)

// recordAudit leaves an audit entry of an answered question: on the ledger
// a salted commitment only; in the holder's store its opening, which is
// returned for the consumer who asked.
func (n *Node) recordAudit(ctx context.Context, r *zkv1.AuditReceipt) (*zkv1.AuditReceipt, error) {
	salt, err := audit.NewSalt()
	if err != nil {
		return nil, err
	}
	r.Salt = salt
	c, err := audit.Commitment(r)
	if err != nil {
		return nil, err
	}
	rec, err := n.send(ctx, n.holderID, ledger.AuditEntry(&zkv1.Audit{CollectionId: r.GetCollectionId(), Commitment: c}))
	if err != nil {
		return nil, err
	}
	r.TxHash, r.LogIndex, r.Height = rec.Hash[:], rec.LogIndex, rec.Height
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := n.store.PutAuditOpening(ctx, r.GetCollectionId(), r.GetConsumer(), rec.LogIndex, raw); err != nil {
		return nil, fmt.Errorf("audit entry %x is on the ledger, its opening not kept: %w", rec.Hash[:8], err)
	}
	return r, nil
}

// MaxAuditEntries bounds one AuditEntries answer.
const MaxAuditEntries = 1000

// AuditQuery selects audit entries: a collection's (for its holder) or a
// consumer's (for that consumer), after a log index, at most Limit (0 or
// more than MaxAuditEntries: MaxAuditEntries).
type AuditQuery struct {
	CollectionID []byte
	Consumer     string
	After        uint64
	Limit        int
	// Newest lists newest first, before log index Before (0: from the
	// newest); After is then ignored.
	Newest bool
	Before uint64
}

// AuditEntries lists audit entries with their openings, each with the
// ledger's entry it opens. A holder sees its collections' entries, a
// consumer its own; no one else sees any.
func (n *Node) AuditEntries(_ context.Context, c Caller, q AuditQuery) ([]*zkv1.AuditEntry, error) {
	coll := q.CollectionID
	if (len(coll) == 0) == (q.Consumer == "") {
		return nil, invalid("collection_id", "give collection_id or consumer, not both")
	}
	if len(coll) > 0 && len(coll) != 32 {
		return nil, invalid("collection_id", "want 32 bytes")
	}
	switch c.Role {
	case zkv1.Role_ROLE_CONSUMER:
		if q.Consumer != c.ID {
			return nil, errorf(ErrPermissionDenied, "consumer: a consumer lists its own audit entries")
		}
	case zkv1.Role_ROLE_HOLDER:
		if len(coll) == 0 {
			return nil, errorf(ErrPermissionDenied, "collection_id: a holder lists its collections' audit entries")
		}
		if c.ID != n.holderID.ID {
			return nil, errorf(ErrPermissionDenied, "this node keeps the audit entries of holder %q; holder %q's node has its own", n.holderID.ID, c.ID)
		}
		if lc, ok := n.ledger.State().Collections[hex.EncodeToString(coll)]; !ok || lc.Holder != c.ID {
			return nil, errorf(ErrPermissionDenied, "collection_id: not a collection of this holder")
		}
	default:
		return nil, errorf(ErrPermissionDenied, "only a holder or a consumer lists audit entries")
	}
	if len(coll) == 0 {
		coll = nil
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxAuditEntries {
		limit = MaxAuditEntries
	}
	var raws [][]byte
	var err error
	if q.Newest {
		raws, err = n.store.AuditOpeningsNewest(coll, q.Consumer, q.Before, limit)
	} else {
		raws, err = n.store.AuditOpenings(coll, q.Consumer, q.After, limit)
	}
	if err != nil {
		return nil, err
	}
	// Entries of one block share its time: read it once.
	times := map[uint64]int64{}
	var out []*zkv1.AuditEntry
	for _, raw := range raws {
		var r zkv1.AuditReceipt
		if err := proto.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("audit opening: %w", err)
		}
		e, err := n.ledger.Transaction(r.GetTxHash())
		if err != nil {
			return nil, fmt.Errorf("audit entry %x: %w", r.GetTxHash(), err)
		}
		t, ok := times[e.Height]
		if !ok {
			t, _ = n.ledger.BlockTime(e.Height) // the block an entry names exists
			times[e.Height] = t
		}
		out = append(out, &zkv1.AuditEntry{Audit: proto.CloneOf(e.Tx.Body.GetAudit()), Receipt: &r, Holder: e.Tx.Body.GetSender(),
			Height: e.Height, LogIndex: e.LogIndex, TimeUnixMs: t})
	}
	return out, nil
}
