package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/zkshare/zkshare/client"
	"slices"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
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
	// collection's last anchor.
	lc = s.ledger.State().Collections[collectionKey(coll)]
	cols, _ := hex.DecodeString(b.Columns)
	root, err := records.ParseElement(b.Root)
	if err != nil {
		return nil, toConnect(err)
	}
	if lc.Last == nil || !bytes.Equal(lc.Last.Root, elemBytes(root)) || !bytes.Equal(lc.Last.Columns, cols) {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("collection: its current state is not anchored with its columns yet; commit again"))
	}
	if !lc.Counts(lc.Last.Sequence) {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("collection: anchor %d of its current state awaits %d confirmations", lc.Last.Sequence, lc.Required))
	}
	b.AnchorSequence = lc.Last.Sequence
	raw, err := b.Marshal()
	if err != nil {
		return nil, toConnect(err)
	}
	result := true
	if b.Holds != nil {
		result = *b.Holds
	}
	bh := sha256.Sum256(raw)
	qh, _ := records.ParseElement(b.QueryHash)
	ar, err := s.recordAudit(ctx, &zkv1.AuditReceipt{CollectionId: lc.ID, Consumer: c.ID, Statement: bundle.KindAggregate,
		QueryHash: elemBytes(qh), Nonce: elemBytes(*nonce), Result: result, BundleHash: bh[:]})
	if err != nil {
		return nil, toConnect(fmt.Errorf("audit entry: %w", err))
	}
	s.log.InfoContext(ctx, "aggregate served", "collection", coll, "consumer", c.ID, "chunks", len(b.Chunks), "bundle", hex.EncodeToString(bh[:8]))
	n := uint32(len(b.Chunks))
	return &zkv1.ProveAggregateResponse{Bundle: raw, Statement: b.Statement(), ChunksDone: n, ChunksTotal: n, Audit: ar}, nil
}

// VerifyAggregate checks an aggregate bundle against this node's ledger: the
// circuits are registered, the anchor is the holder's, confirmed where
// required, and fresh, the schema is the registered one; then the proofs and
// that the chunks are exactly the anchored columns.
func (v *verifierService) VerifyAggregate(ctx context.Context, req *zkv1.VerifyAggregateRequest) (*zkv1.VerifyAggregateResponse, error) {
	s := v.s
	resp := &zkv1.VerifyResponse{}
	out := &zkv1.VerifyAggregateResponse{Verdict: resp}
	fail := func(check, format string, args ...any) (*zkv1.VerifyAggregateResponse, error) {
		resp.FailedCheck, resp.Reason = check, fmt.Sprintf(format, args...)
		return out, nil
	}
	exp, err := expectation(req.GetExpect(), nil, "")
	if err != nil {
		return nil, err
	}
	freshness, err := s.freshness(req.GetFreshnessSeconds())
	if err != nil {
		return nil, err
	}
	release, err := s.aggVerify.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	b, err := bundle.ParseAggregate(req.GetBundle())
	if err != nil {
		return fail(verifier.CheckDecode, "%v", err)
	}
	resp.Statement = b.Statement()
	st := s.ledger.State()
	for _, k := range []struct{ id, vk, name string }{{b.ChunkCircuit, b.ChunkVK, "aggregate"}, {b.CircuitID, b.VKSHA256, b.Circuit}} {
		circ, ok := st.Circuits[k.id]
		if !ok || hex.EncodeToString(circ.VKSHA256) != k.vk || circ.Name != k.name {
			return fail(CheckRegistry, "circuit %s with verifying key %s is not registered on the ledger", k.id, k.vk)
		}
		for _, w := range setupWarnings(circ) {
			if !slices.Contains(resp.Warnings, w) {
				resp.Warnings = append(resp.Warnings, w)
			}
		}
	}
	resp.Checks = append(resp.Checks, CheckRegistry)

	id := records.CollectionID(b.Collection)
	coll, ok := st.Collections[hex.EncodeToString(elemBytes(id))]
	if !ok || records.ElementHex(id) != b.CollectionID {
		return fail(CheckAnchor, "collection %q is not registered on the ledger", b.Collection)
	}
	e, err := s.ledger.AnchorBySequence(elemBytes(id), b.AnchorSequence)
	if err != nil {
		return fail(CheckAnchor, "the collection has no anchor %d", b.AnchorSequence)
	}
	a := e.Tx.Body.GetAnchor()
	if e.Tx.Body.GetSender() != coll.Holder {
		return fail(CheckAnchor, "anchored by %q, not by the collection's holder %q", e.Tx.Body.GetSender(), coll.Holder)
	}
	// Only an anchor that counts: one awaiting (or that never got) its
	// confirmations is the holder's word alone.
	if !coll.Counts(a.GetSequence()) {
		return fail(CheckAnchor, "anchor %d does not count: it awaits (or never got) its confirmations", a.GetSequence())
	}
	resp.AnchorHeight = e.Height
	if t, err := s.ledger.BlockTime(e.Height); err == nil {
		resp.AnchorTimeUnixMs = t
	}
	resp.Checks = append(resp.Checks, CheckAnchor)
	if err := s.checkFresh(&coll, a, freshness); err != nil {
		return fail(CheckFreshness, "%v", err)
	}
	resp.Checks = append(resp.Checks, CheckFreshness)
	if err := checkSchema(b.Schema, &coll); err != nil {
		return fail(CheckSchema, "%v", err)
	}
	resp.Checks = append(resp.Checks, CheckSchema)

	verdict := s.verifier.VerifyAggregate(b, &verifier.Anchored{Root: a.GetRoot(), Columns: a.GetColumns()}, exp)
	resp.Checks = append(resp.Checks, verdict.Checked...)
	resp.Statement = verdict.Statement
	if !verdict.Valid {
		return fail(verdict.Failed, "%s", verdict.Reason)
	}
	resp.Valid = true
	return out, nil
}

// ProveAggregate forwards to client's ProveAggregate over c, for tests
// not yet moved to the client package.
func ProveAggregate(ctx context.Context, c zksharev1connect.HolderServiceClient, req *zkv1.ProveAggregateRequest, progress func(done, total int)) (*zkv1.ProveAggregateResponse, error) {
	return client.Wrap(c, nil, nil).ProveAggregate(ctx, req, client.WithProgress(progress))
}
