package service

import (
	"context"
	"fmt"

	"github.com/zkshare/zkshare/audit"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"google.golang.org/protobuf/proto"
)

// recordAudit leaves an audit entry of an answered question: on the ledger
// a salted commitment only; in the holder's store its opening, which is
// returned for the consumer who asked.
func (s *Server) recordAudit(ctx context.Context, r *zkv1.AuditReceipt) (*zkv1.AuditReceipt, error) {
	salt, err := audit.NewSalt()
	if err != nil {
		return nil, err
	}
	r.Salt = salt
	c, err := audit.Commitment(r)
	if err != nil {
		return nil, err
	}
	rec, err := s.send(ctx, s.holderID, ledger.AuditEntry(&zkv1.Audit{CollectionId: r.GetCollectionId(), Commitment: c}))
	if err != nil {
		return nil, err
	}
	r.TxHash, r.LogIndex, r.Height = rec.Hash[:], rec.LogIndex, rec.Height
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := s.store.PutAuditOpening(ctx, r.GetCollectionId(), r.GetConsumer(), rec.LogIndex, raw); err != nil {
		return nil, fmt.Errorf("audit entry %x is on the ledger, its opening not kept: %w", rec.Hash[:8], err)
	}
	return r, nil
}

// auditEntries answers ListAuditEntries from the holder's openings, each
// with the ledger's entry it opens.
func (s *Server) auditEntries(coll []byte, consumer string, after uint64, limit int) (*zkv1.ListAuditEntriesResponse, error) {
	raws, err := s.store.AuditOpenings(coll, consumer, after, limit)
	if err != nil {
		return nil, err
	}
	out := &zkv1.ListAuditEntriesResponse{}
	for _, raw := range raws {
		var r zkv1.AuditReceipt
		if err := proto.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("audit opening: %w", err)
		}
		e, err := s.ledger.Transaction(r.GetTxHash())
		if err != nil {
			return nil, fmt.Errorf("audit entry %x: %w", r.GetTxHash(), err)
		}
		t, _ := s.ledger.BlockTime(e.Height)
		out.Entries = append(out.Entries, &zkv1.AuditEntry{Audit: proto.CloneOf(e.Tx.Body.GetAudit()), Receipt: &r, Holder: e.Tx.Body.GetSender(),
			Height: e.Height, LogIndex: e.LogIndex, TimeUnixMs: t})
	}
	return out, nil
}
