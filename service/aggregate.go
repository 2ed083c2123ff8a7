package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/prover"
	"google.golang.org/protobuf/proto"
)

// ProveAggregate answers an aggregate question over the whole collection,
// about its anchored state, and records an audit entry of it. It streams
// a message per chunk proven, then the bundle.
func (h *holderService) ProveAggregate(ctx context.Context, req *zkv1.ProveAggregateRequest, stream *connect.ServerStream[zkv1.ProveAggregateResponse]) error {
	resp, err := h.proveAggregate(ctx, req, func(done, total int) {
		// A client that stopped listening ends the call through ctx.
		_ = stream.Send(&zkv1.ProveAggregateResponse{ChunksDone: uint32(done), ChunksTotal: uint32(total)})
	})
	if err != nil {
		return err
	}
	return stream.Send(resp)
}

func (h *holderService) proveAggregate(ctx context.Context, req *zkv1.ProveAggregateRequest, progress func(done, total int)) (*zkv1.ProveAggregateResponse, error) {
	s := h.s
	coll := s.qualify(req.GetCollection())
	c := callerOf(ctx)
	if q := req.GetQuery(); q == "" || len(q) > maxQueryBytes {
		return nil, invalid("query", "want 1 to %d bytes", maxQueryBytes)
	}
	if f := req.GetField(); f == "" || len(f) > maxValueBytes {
		return nil, invalid("field", "name the aggregated field")
	}
	nonce, err := scalar("nonce", req.GetNonce())
	if err != nil || nonce == nil {
		return nil, invalid("nonce", "want 32 bytes, a BN254 scalar (big-endian, below the modulus), fresh for every question")
	}
	var th *prover.Threshold
	if t := req.GetThreshold(); t != nil {
		th = &prover.Threshold{Which: t.GetAggregate(), Relation: t.GetRelation(), Value: t.GetValue()}
		if len(th.Value) > maxValueBytes {
			return nil, invalid("threshold.value", "too long")
		}
	}
	lc, ok := s.ledger.State().Collections[collectionKey(coll)]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("collection: %q is not registered", coll))
	}
	mode := zkv1.AggregateMode_AGGREGATE_MODE_REVEAL
	if th != nil {
		mode = zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD
	}
	minGroup, err := s.policies.allow(coll, c.ID, question{kind: zkv1.StatementKind_STATEMENT_KIND_AGGREGATE, query: req.GetQuery(), field: req.GetField(), mode: mode})
	if err != nil {
		return nil, toConnect(err)
	}
	select {
	case s.queue <- struct{}{}:
		defer func() { <-s.queue }()
	default:
		return nil, connect.NewError(connect.CodeResourceExhausted, errors.New("the prover is busy: retry shortly"))
	}

	s.commitMu.RLock()
	defer s.commitMu.RUnlock()
	b, err := s.prover.Aggregate(ctx, prover.AggregateRequest{Collection: coll, Query: req.GetQuery(), Field: req.GetField(), Threshold: th, Nonce: *nonce, MinGroup: uint64(minGroup)},
		func(done, total int) {
			s.log.InfoContext(ctx, "aggregate chunk proven", "collection", coll, "done", done, "total", total)
			progress(done, total)
		})
	if err != nil {
		return nil, toConnect(err)
	}
	// The bundle is about the anchored state: the root and columns of the
	// collection's last anchor, which must count.
	pb, err := b.Proto()
	if err != nil {
		return nil, toConnect(err)
	}
	if err := s.attachAnchor(pb); err != nil {
		return nil, toConnect(err)
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(pb)
	if err != nil {
		return nil, toConnect(err)
	}
	bh := sha256.Sum256(raw)
	ar, err := s.recordAudit(ctx, &zkv1.AuditReceipt{CollectionId: lc.ID, Consumer: c.ID, Statement: bundle.KindName(bundle.KindAggregate),
		QueryHash: pb.GetQueryHash(), Nonce: elemBytes(*nonce), Result: pb.GetResult(), BundleHash: bh[:]})
	if err != nil {
		return nil, toConnect(fmt.Errorf("audit entry: %w", err))
	}
	s.log.InfoContext(ctx, "aggregate served", "collection", coll, "consumer", c.ID, "chunks", len(b.Chunks), "bundle", hex.EncodeToString(bh[:8]))
	n := uint32(len(b.Chunks))
	return &zkv1.ProveAggregateResponse{Bundle: pb, Statement: bundle.Statement(pb), ChunksDone: n, ChunksTotal: n, Audit: ar}, nil
}

// VerifyAggregate checks an aggregate bundle with the verifier against this
// node's ledger (Verify takes aggregates too); at most a few at a time.
func (v *verifierService) VerifyAggregate(ctx context.Context, req *zkv1.VerifyAggregateRequest) (*zkv1.VerifyAggregateResponse, error) {
	release, err := v.s.aggVerify.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	resp, err := v.verify(ctx, req.GetBundle(), req.GetExpect(), nil, "", req.GetFreshnessSeconds())
	if err != nil {
		return nil, err
	}
	return &zkv1.VerifyAggregateResponse{Verdict: resp}, nil
}

// ProveAggregate calls a node's ProveAggregate and waits for the bundle,
// passing progress messages to progress (which may be nil).
func ProveAggregate(ctx context.Context, c zksharev1connect.HolderServiceClient, req *zkv1.ProveAggregateRequest, progress func(done, total int)) (*zkv1.ProveAggregateResponse, error) {
	stream, err := c.ProveAggregate(ctx, req)
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	for stream.Receive() {
		m := stream.Msg()
		if m.GetBundle() != nil {
			return m, nil
		}
		if progress != nil {
			progress(int(m.GetChunksDone()), int(m.GetChunksTotal()))
		}
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("prove aggregate: the stream ended without a bundle")
}
