package service

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
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
	resp := &zkv1.GetCheckpointResponse{Checkpoint: cp, Height: h.Height, NodeKey: l.s.ledger.NodeKey(), Origin: l.s.ledger.Origin()}
	for _, p := range l.s.ledger.Participants() {
		if p.Role == zkv1.Role_ROLE_VALIDATOR && !p.Revoked {
			resp.ValidatorKeys = append(resp.ValidatorKeys, p.Key)
		}
	}
	return resp, nil
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
	a, err := l.s.node.Anchor(ctx, req.GetCollectionId(), req.GetSequence(), req.GetAtHeight(), req.GetIncludePending())
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

// GetCircuit returns a circuit registry entry.
func (l *ledgerService) GetCircuit(ctx context.Context, req *zkv1.GetCircuitRequest) (*zkv1.GetCircuitResponse, error) {
	if len(req.GetCircuitId()) != 32 {
		return nil, invalid("circuit_id", "want 32 bytes")
	}
	c, ok := l.s.ledger.State().Circuits[hex.EncodeToString(req.GetCircuitId())]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("circuit_id: %x is not registered", req.GetCircuitId()))
	}
	return &zkv1.GetCircuitResponse{CircuitId: c.ID, Name: c.Name, VkSha256: c.VKSHA256, Setup: c.Setup}, nil
}

// GetCollectionState returns what a verifier needs of a collection.
func (l *ledgerService) GetCollectionState(ctx context.Context, req *zkv1.GetCollectionStateRequest) (*zkv1.GetCollectionStateResponse, error) {
	if len(req.GetCollectionId()) != 32 {
		return nil, invalid("collection_id", "want 32 bytes")
	}
	c, ok := l.s.ledger.State().Collections[hex.EncodeToString(req.GetCollectionId())]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("collection_id: %x is not registered", req.GetCollectionId()))
	}
	resp := &zkv1.GetCollectionStateResponse{Name: c.Name, Holder: c.Holder, SchemaHash: c.SchemaHash,
		Confirmers: c.Confirmers, ConfirmationsRequired: c.Required}
	if c.Latest != nil {
		resp.LatestSequence = c.Latest.Sequence
	}
	for seq := range c.Pending {
		resp.PendingSequences = append(resp.PendingSequences, seq)
	}
	slices.Sort(resp.PendingSequences)
	return resp, nil
}
