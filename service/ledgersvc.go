package service

import (
	"context"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
)

type ledgerService struct{ s *Server }

func (l *ledgerService) GetCheckpoint(ctx context.Context, _ *zkv1.GetCheckpointRequest) (*zkv1.GetCheckpointResponse, error) {
	resp, err := l.s.node.Checkpoint(ctx)
	return resp, toConnect(err)
}

// GetConsistencyProof proves that the log of from_size entries is a prefix
// of the log of to_size entries.
func (l *ledgerService) GetConsistencyProof(ctx context.Context, req *zkv1.GetConsistencyProofRequest) (*zkv1.GetConsistencyProofResponse, error) {
	p, err := l.s.node.ConsistencyProof(ctx, req.GetFromSize(), req.GetToSize())
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
	// A device-fed collection's anchor is relayed by anyone: the holder is
	// the collection's.
	return &zkv1.GetAnchorResponse{Anchor: ledger.AnchorOf(e.Tx.Body), TxHash: e.Tx.Hash[:], Height: e.Height, TimeUnixMs: a.TimeUnixMs,
		Holder: a.Holder, LogIndex: e.LogIndex, Status: a.Status}, nil
}

func (l *ledgerService) GetTransaction(ctx context.Context, req *zkv1.GetTransactionRequest) (*zkv1.GetTransactionResponse, error) {
	resp, err := l.s.node.Transaction(ctx, req.GetHash())
	return resp, toConnect(err)
}

func (l *ledgerService) ListBlocks(ctx context.Context, req *zkv1.ListBlocksRequest) (*zkv1.ListBlocksResponse, error) {
	hdrs, err := l.s.node.Blocks(ctx, req.GetFromHeight(), int(req.GetLimit()))
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
	return toConnect(l.s.node.FollowBlocks(ctx, req.GetFromHeight(), func(hdr *zkv1.BlockHeader) error {
		return stream.Send(&zkv1.WatchBlocksResponse{Header: hdr})
	}))
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

func (l *ledgerService) GetCircuit(ctx context.Context, req *zkv1.GetCircuitRequest) (*zkv1.GetCircuitResponse, error) {
	resp, err := l.s.node.Circuit(ctx, req.GetCircuitId(), req.GetVkSha256())
	return resp, toConnect(err)
}

func (l *ledgerService) ListCircuits(ctx context.Context, _ *zkv1.ListCircuitsRequest) (*zkv1.ListCircuitsResponse, error) {
	return l.s.node.Circuits(ctx), nil
}

func (l *ledgerService) GetCeremony(ctx context.Context, req *zkv1.GetCeremonyRequest) (*zkv1.GetCeremonyResponse, error) {
	resp, err := l.s.node.Ceremony(ctx, req.GetCeremonyId())
	return resp, toConnect(err)
}

func (l *ledgerService) AttestCeremonyKeys(ctx context.Context, req *zkv1.AttestCeremonyKeysRequest) (*zkv1.AttestCeremonyKeysResponse, error) {
	rec, err := l.s.node.AttestCeremonyKeys(ctx, req.GetAttestation())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.AttestCeremonyKeysResponse{Height: rec.Height, TxHash: rec.Hash[:]}, nil
}

func (l *ledgerService) RecordContribution(ctx context.Context, req *zkv1.RecordContributionRequest) (*zkv1.RecordContributionResponse, error) {
	rec, err := l.s.node.RecordContribution(ctx, req.GetReceipt())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.RecordContributionResponse{Height: rec.Height, TxHash: rec.Hash[:]}, nil
}

func (l *ledgerService) GetCollectionState(ctx context.Context, req *zkv1.GetCollectionStateRequest) (*zkv1.GetCollectionStateResponse, error) {
	resp, err := l.s.node.CollectionState(ctx, req.GetCollectionId())
	return resp, toConnect(err)
}
