package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

const maxListLimit = 1000

type ledgerService struct{ s *Server }

func (l *ledgerService) GetCheckpoint(ctx context.Context, _ *zkv1.GetCheckpointRequest) (*zkv1.GetCheckpointResponse, error) {
	cp, h, err := l.s.ledger.Checkpoint()
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.GetCheckpointResponse{Checkpoint: cp, Height: h.Height, NodeKey: l.s.ledger.NodeKey(), Origin: l.s.ledger.Origin()}, nil
}

func (l *ledgerService) GetAnchor(ctx context.Context, req *zkv1.GetAnchorRequest) (*zkv1.GetAnchorResponse, error) {
	if len(req.GetCollectionId()) != 32 {
		return nil, invalid("collection_id", "want 32 bytes")
	}
	var e *ledger.Entry
	if req.GetAtHeight() == 0 {
		a, err := l.s.ledger.LatestAnchor(req.GetCollectionId())
		if err != nil {
			return nil, toConnect(err)
		}
		if e, err = l.s.ledger.Transaction(a.TxHash); err != nil {
			return nil, toConnect(err)
		}
	} else {
		var err error
		if e, err = l.s.ledger.AnchorAt(req.GetCollectionId(), req.GetAtHeight()); err != nil {
			return nil, toConnect(err)
		}
	}
	t, _ := l.s.ledger.BlockTime(e.Height)
	return &zkv1.GetAnchorResponse{Anchor: e.Tx.Body.GetAnchor(), TxHash: e.Tx.Hash[:], Height: e.Height, TimeUnixMs: t,
		Holder: e.Tx.Body.GetSender(), LogIndex: e.LogIndex}, nil
}

func (l *ledgerService) GetTransaction(ctx context.Context, req *zkv1.GetTransactionRequest) (*zkv1.GetTransactionResponse, error) {
	if len(req.GetHash()) != 32 {
		return nil, invalid("hash", "want 32 bytes")
	}
	e, err := l.s.ledger.Transaction(req.GetHash())
	if err != nil {
		return nil, toConnect(err)
	}
	cp, h, err := l.s.ledger.Checkpoint()
	if err != nil {
		return nil, toConnect(err)
	}
	p, err := l.s.ledger.InclusionProof(e.LogIndex, h.LogSize)
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.GetTransactionResponse{Tx: e.Tx.Raw, Height: e.Height, LogIndex: e.LogIndex, Inclusion: p, Checkpoint: cp}, nil
}

func (l *ledgerService) ListBlocks(ctx context.Context, req *zkv1.ListBlocksRequest) (*zkv1.ListBlocksResponse, error) {
	limit := int(req.GetLimit())
	if limit == 0 || limit > maxListLimit {
		limit = maxListLimit
	}
	from := max(req.GetFromHeight(), 1)
	hdrs, err := l.s.ledger.Blocks(from, l.s.ledger.Head().Height, limit)
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.ListBlocksResponse{Headers: hdrs}, nil
}

// WatchBlocks streams block headers from a height on, as they are cut.
func (l *ledgerService) WatchBlocks(ctx context.Context, req *zkv1.WatchBlocksRequest, stream *connect.ServerStream[zkv1.WatchBlocksResponse]) error {
	next := max(req.GetFromHeight(), 1)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for ; next <= l.s.ledger.Head().Height; next++ {
			_, hdr, err := l.s.ledger.Block(next)
			if err != nil {
				return toConnect(err)
			}
			if err := stream.Send(&zkv1.WatchBlocksResponse{Header: hdr}); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// ListAuditEntries: a holder sees its collections' entries, a consumer its
// own; no one else sees any.
func (l *ledgerService) ListAuditEntries(ctx context.Context, req *zkv1.ListAuditEntriesRequest) (*zkv1.ListAuditEntriesResponse, error) {
	c := callerOf(ctx)
	coll, consumer := req.GetCollectionId(), req.GetConsumer()
	if (len(coll) == 0) == (consumer == "") {
		return nil, invalid("collection_id", "give collection_id or consumer, not both")
	}
	if len(coll) > 0 && len(coll) != 32 {
		return nil, invalid("collection_id", "want 32 bytes")
	}
	switch c.Role {
	case zkv1.Role_ROLE_CONSUMER:
		if consumer != c.ID {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("consumer: a consumer lists its own audit entries"))
		}
	case zkv1.Role_ROLE_HOLDER:
		if len(coll) == 0 {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("collection_id: a holder lists its collections' audit entries"))
		}
		if c.ID != l.s.holderID.ID {
			return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("this node keeps the audit entries of holder %q; holder %q's node has its own", l.s.holderID.ID, c.ID))
		}
		if lc, ok := l.s.ledger.State().Collections[fmt.Sprintf("%x", coll)]; !ok || lc.Holder != c.ID {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("collection_id: not a collection of this holder"))
		}
	default:
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only a holder or a consumer lists audit entries"))
	}
	if len(coll) == 0 {
		coll = nil
	}
	limit := int(req.GetLimit())
	if limit == 0 || limit > maxListLimit {
		limit = maxListLimit
	}
	out, err := l.s.auditEntries(coll, consumer, req.GetAfterLogIndex(), limit)
	if err != nil {
		return nil, toConnect(err)
	}
	return out, nil
}
