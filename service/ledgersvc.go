package service

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
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

// GetConsistencyProof proves that the log of from_size entries is a prefix
// of the log of to_size entries.
func (l *ledgerService) GetConsistencyProof(ctx context.Context, req *zkv1.GetConsistencyProofRequest) (*zkv1.GetConsistencyProofResponse, error) {
	from, to := req.GetFromSize(), req.GetToSize()
	if from > to {
		return nil, invalid("from_size", "%d is more than to_size %d", from, to)
	}
	if size := l.s.ledger.Head().LogSize; to > size {
		return nil, connect.NewError(connect.CodeOutOfRange, fmt.Errorf("to_size: %d is beyond the log's %d entries", to, size))
	}
	p, err := l.s.ledger.ConsistencyProof(from, to)
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.GetConsistencyProofResponse{Proof: p}, nil
}

// GetAnchor: the engine says which anchor counts.
func (l *ledgerService) GetAnchor(ctx context.Context, req *zkv1.GetAnchorRequest) (*zkv1.GetAnchorResponse, error) {
	a, err := l.s.node.Anchor(ctx, req.GetCollectionId(), req.GetAtHeight(), req.GetIncludePending())
	if err != nil {
		return nil, toConnect(err)
	}
	e := a.Entry
	return &zkv1.GetAnchorResponse{Anchor: e.Tx.Body.GetAnchor(), TxHash: e.Tx.Hash[:], Height: e.Height, TimeUnixMs: a.TimeUnixMs,
		Holder: e.Tx.Body.GetSender(), LogIndex: e.LogIndex, Status: a.Status}, nil
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

// WatchBlocks streams block headers from a height on, as they are cut. A
// client holds a bounded number of streams open, as do all together.
func (l *ledgerService) WatchBlocks(ctx context.Context, req *zkv1.WatchBlocksRequest, stream *connect.ServerStream[zkv1.WatchBlocksResponse]) error {
	release, err := l.s.watch.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	next := max(req.GetFromHeight(), 1)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for ; next <= l.s.ledger.Head().Height; next++ {
			hdr, err := l.s.ledger.Header(next)
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
// own (the engine's rule).
func (l *ledgerService) ListAuditEntries(ctx context.Context, req *zkv1.ListAuditEntriesRequest) (*zkv1.ListAuditEntriesResponse, error) {
	entries, err := l.s.node.AuditEntries(ctx, callerOf(ctx), node.AuditQuery{CollectionID: req.GetCollectionId(), Consumer: req.GetConsumer(),
		After: req.GetAfterLogIndex(), Limit: int(min(req.GetLimit(), node.MaxAuditEntries))})
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.ListAuditEntriesResponse{Entries: entries}, nil
}
