package service

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
)

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
