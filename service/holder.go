package service

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/records"
)

// Message limits: records one message, and one CommitRecords call, may
// carry (the engine bounds each value).
const (
	maxRecordsPerMsg  = 10_000
	maxRecordsPerCall = 5_000_000
)

type holderService struct{ s *Server }

func invalid(field, format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

func (h *holderService) CreateCollection(ctx context.Context, req *zkv1.CreateCollectionRequest) (*zkv1.CreateCollectionResponse, error) {
	info, tx, err := h.s.node.CreateCollection(ctx, callerOf(ctx), node.NewCollection{Name: req.GetName(), Schema: req.GetSchema(),
		Confirmers: req.GetConfirmers(), ConfirmationsRequired: req.GetConfirmationsRequired(), DeviceFed: req.GetDeviceFed()})
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.CreateCollectionResponse{Collection: info, RegisterTxHash: tx}, nil
}

func (h *holderService) GetCollection(ctx context.Context, req *zkv1.GetCollectionRequest) (*zkv1.GetCollectionResponse, error) {
	info, err := h.s.node.Collection(ctx, callerOf(ctx), req.GetName())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.GetCollectionResponse{Collection: info}, nil
}

// CommitRecords takes a stream of record batches and commits them in one
// engine call: validated whole, committed, then anchored.
func (h *holderService) CommitRecords(ctx context.Context, stream *connect.ClientStream[zkv1.CommitRecordsRequest]) (*zkv1.CommitRecordsResponse, error) {
	if err := h.s.node.ActsAsHolder(callerOf(ctx)); err != nil {
		return nil, toConnect(err) // before receiving the records
	}
	var name string
	var recs []records.Record
	for stream.Receive() {
		m := stream.Msg()
		if name == "" {
			name = m.GetCollection()
		} else if m.GetCollection() != "" && m.GetCollection() != name {
			return nil, invalid("collection", "every message must name the same collection")
		}
		if len(m.GetRecords()) > maxRecordsPerMsg {
			return nil, invalid("records", "at most %d per message", maxRecordsPerMsg)
		}
		if len(recs)+len(m.GetRecords()) > maxRecordsPerCall {
			return nil, invalid("records", "at most %d per call", maxRecordsPerCall)
		}
		recs = append(recs, fromProto(m.GetRecords())...)
	}
	if err := stream.Err(); err != nil {
		return nil, toConnect(err)
	}
	if name == "" {
		return nil, invalid("collection", "required in the first message")
	}
	res, err := h.s.node.Commit(ctx, callerOf(ctx), name, recs)
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.CommitRecordsResponse{Inserted: uint64(res.Inserted), Updated: uint64(res.Updated), RecordCount: res.Count,
		Root: res.Root, AnchorTxHash: res.Anchor.Hash[:], AnchorHeight: res.Anchor.Height}, nil
}

func fromProto(in []*zkv1.Record) []records.Record {
	out := make([]records.Record, len(in))
	for i, r := range in {
		out[i] = records.Record{Key: r.GetKey(), Values: r.GetValues()}
	}
	return out
}

func (h *holderService) UpdateRecords(ctx context.Context, req *zkv1.UpdateRecordsRequest) (*zkv1.UpdateRecordsResponse, error) {
	if n := len(req.GetRecords()); n == 0 || n > maxRecordsPerMsg {
		return nil, invalid("records", "want 1 to %d records", maxRecordsPerMsg)
	}
	res, err := h.s.node.Update(ctx, callerOf(ctx), req.GetCollection(), fromProto(req.GetRecords()))
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.UpdateRecordsResponse{Updated: uint64(res.Updated), RecordCount: res.Count, Root: res.Root, AnchorTxHash: res.Anchor.Hash[:], AnchorHeight: res.Anchor.Height}, nil
}

func (h *holderService) DeleteRecords(ctx context.Context, req *zkv1.DeleteRecordsRequest) (*zkv1.DeleteRecordsResponse, error) {
	if n := len(req.GetKeys()); n == 0 || n > maxRecordsPerMsg {
		return nil, invalid("keys", "want 1 to %d keys", maxRecordsPerMsg)
	}
	res, err := h.s.node.Delete(ctx, callerOf(ctx), req.GetCollection(), req.GetKeys())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.DeleteRecordsResponse{Deleted: uint64(res.Deleted), RecordCount: res.Count, Root: res.Root, AnchorTxHash: res.Anchor.Hash[:], AnchorHeight: res.Anchor.Height}, nil
}

func (h *holderService) Prove(ctx context.Context, req *zkv1.ProveRequest) (*zkv1.ProveResponse, error) {
	a, err := h.s.node.Prove(ctx, callerOf(ctx), node.Question{Collection: req.GetCollection(), Kind: req.GetKind(), Subject: req.GetSubject(),
		Query: req.GetQuery(), Nonce: req.GetNonce(), Blind: req.GetBlind()})
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.ProveResponse{Bundle: a.Bundle, Statement: a.Statement, Audit: a.Audit}, nil
}

func (h *holderService) SetPolicy(ctx context.Context, req *zkv1.SetPolicyRequest) (*zkv1.SetPolicyResponse, error) {
	if err := h.s.node.SetPolicy(ctx, callerOf(ctx), req.GetCollection(), req.GetPolicy()); err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.SetPolicyResponse{}, nil
}

func (h *holderService) GetPolicy(ctx context.Context, req *zkv1.GetPolicyRequest) (*zkv1.GetPolicyResponse, error) {
	pol, err := h.s.node.Policy(ctx, callerOf(ctx), req.GetCollection())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.GetPolicyResponse{Policy: pol}, nil
}

// IssueReceipt is for the holder alone; nothing of the receipt is logged.
func (h *holderService) IssueReceipt(ctx context.Context, req *zkv1.IssueReceiptRequest) (*zkv1.IssueReceiptResponse, error) {
	r, err := h.s.node.IssueReceipt(ctx, callerOf(ctx), req.GetCollection(), req.GetSubject())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.IssueReceiptResponse{Receipt: r}, nil
}

func (h *holderService) ConfirmAnchor(ctx context.Context, req *zkv1.ConfirmAnchorRequest) (*zkv1.ConfirmAnchorResponse, error) {
	rec, err := h.s.node.ConfirmAnchor(ctx, callerOf(ctx), req.GetCollectionId(), req.GetSequence(), req.GetRoot())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.ConfirmAnchorResponse{TxHash: rec.Hash[:], Height: rec.Height}, nil
}

func (h *holderService) SetConfirmers(ctx context.Context, req *zkv1.SetConfirmersRequest) (*zkv1.SetConfirmersResponse, error) {
	st, err := h.s.node.SetConfirmers(ctx, callerOf(ctx), req.GetCollection(), req.GetConfirmers(), req.GetConfirmationsRequired())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.SetConfirmersResponse{Status: st}, nil
}

// ProveAggregate streams a message per chunk proven, then the bundle.
func (h *holderService) ProveAggregate(ctx context.Context, req *zkv1.ProveAggregateRequest, stream *connect.ServerStream[zkv1.ProveAggregateResponse]) error {
	a, err := h.s.node.ProveAggregate(ctx, callerOf(ctx), node.AggregateQuestion{Collection: req.GetCollection(), Query: req.GetQuery(),
		Field: req.GetField(), Threshold: req.GetThreshold(), Nonce: req.GetNonce()},
		func(done, total int) {
			// A client that stopped listening ends the call through ctx.
			_ = stream.Send(&zkv1.ProveAggregateResponse{ChunksDone: uint32(done), ChunksTotal: uint32(total)})
		})
	if err != nil {
		return toConnect(err)
	}
	n := uint32(a.Chunks)
	return stream.Send(&zkv1.ProveAggregateResponse{Bundle: a.Bundle, Statement: a.Statement, ChunksDone: n, ChunksTotal: n, Audit: a.Audit})
}
