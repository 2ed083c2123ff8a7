package service_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
	"github.com/zkshare/zkshare/verifier"
	"google.golang.org/protobuf/proto"
)

// TestVerifyPinsTheQuestion: asked "does subject c satisfy income <= 30000?",
// a holder cannot answer with an exists bundle for the same query, a subject
// bundle for a weaker query, another subject, or another collection.
func TestVerifyPinsTheQuestion(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.createAndCommit("people", people(20, 10000))
	n.createAndCommit("people-b", people(20, 10000))
	bank, vf := n.holder("bank"), n.verifier("")
	const asked = "income <= 30000"
	blind := nonce(77)
	prove := func(coll string, kind zkv1.StatementKind, subject, q string) *zkv1.Bundle {
		t.Helper()
		req := &zkv1.ProveRequest{Collection: coll, Kind: kind, Subject: subject, Query: q, Nonce: nonce(5)}
		if subject != "" {
			req.Blind = blind
		}
		pr, err := bank.Prove(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return pr.GetBundle()
	}
	expect := &zkv1.Expectation{Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Collection: node.HolderID + "/people", Query: asked,
		Subject: canaries[0], Blind: blind, Nonce: nonce(5)}
	honest := prove("people", zkv1.StatementKind_STATEMENT_KIND_SUBJECT, canaries[0], asked)
	if v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: honest, Expect: expect}); err != nil || !v.GetValid() {
		t.Fatalf("the honest answer: %v %v", v, err)
	}
	// Spelled differently, the same question still pins the same hash.
	same := &zkv1.Expectation{Query: "income<=30000", Collection: node.HolderID + "/people"}
	if v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: honest, Expect: same}); err != nil || !v.GetValid() {
		t.Fatalf("the same query spelled otherwise: %v %v", v, err)
	}
	for name, b := range map[string]*zkv1.Bundle{
		"exists bundle for the asked query": prove("people", zkv1.StatementKind_STATEMENT_KIND_EXISTS, "", asked),
		"subject bundle for a weaker query": prove("people", zkv1.StatementKind_STATEMENT_KIND_SUBJECT, canaries[0], "income <= 90000"),
		"another collection":                prove("people-b", zkv1.StatementKind_STATEMENT_KIND_SUBJECT, canaries[0], asked),
	} {
		v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: b, Expect: expect})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v.GetValid() || v.GetFailed() != verifier.CheckExpect {
			t.Errorf("%s: valid=%v failed %q (%s), want the expectation check to fail", name, v.GetValid(), v.GetFailedCheck(), v.GetReason())
		}
	}
	// A pinned subject alone (the older field) still needs a subject bundle.
	ex := prove("people", zkv1.StatementKind_STATEMENT_KIND_EXISTS, "", asked)
	if v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: ex, Subject: canaries[0], Nonce: nonce(5)}); err != nil || v.GetValid() {
		t.Fatalf("an exists bundle passed for a subject question: %v %v", v, err)
	}
	// Pins that contradict each other, or are malformed, are the caller's error.
	for name, req := range map[string]*zkv1.VerifyRequest{
		"two nonces":    {Bundle: honest, Nonce: nonce(5), Expect: &zkv1.Expectation{Nonce: nonce(6)}},
		"short blind":   {Bundle: honest, Expect: &zkv1.Expectation{Blind: []byte{1}}},
		"unknown kind":  {Bundle: honest, Expect: &zkv1.Expectation{Kind: 99}},
		"two subjects":  {Bundle: honest, Subject: "a", Expect: &zkv1.Expectation{Subject: "b"}},
		"too fresh ask": {Bundle: honest, FreshnessSeconds: 30 * 24 * 3600},
	} {
		if _, err := vf.Verify(ctx, req); code(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}

// TestVerifyWarnsOfDevKeys: keys from single-party setup are named in
// every verdict.
func TestVerifyWarnsOfDevKeys(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.createAndCommit("people", people(10, 100))
	pr, err := n.holder("bank").Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income >= 0", Nonce: nonce(1)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := n.verifier("").Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle()})
	if err != nil || !v.GetValid() {
		t.Fatal(v, err)
	}
	if len(v.GetWarnings()) == 0 || !strings.Contains(v.GetWarnings()[0], "development setup") {
		t.Fatalf("no dev-setup warning: %v", v.GetWarnings())
	}
}

// TestNegativeAnswersAudited: a subject that is not found and an exists
// question with no match are answers too, and leave an audit entry.
func TestNegativeAnswersAudited(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.createAndCommit("people", people(10, 100))
	bank := n.holder("bank")
	if _, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income > 1000000", Nonce: nonce(1)}); code(err) != connect.CodeFailedPrecondition {
		t.Fatalf("no match: %v", err)
	}
	if _, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: "nobody", Query: "income > 0", Nonce: nonce(2), Blind: nonce(3)}); code(err) != connect.CodeNotFound {
		t.Fatalf("no subject: %v", err)
	}
	ae, err := n.ledgerClient("bank").ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{Consumer: "bank"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range ae.GetEntries() {
		a := e.GetReceipt()
		if a.GetResult() || len(a.GetBundleHash()) != 0 {
			t.Errorf("an unproven answer audited as %v", a)
		}
		kinds[a.GetStatement()] = true
	}
	if len(ae.GetEntries()) != 2 || !kinds["subject"] || !kinds["exists"] {
		t.Fatalf("audit entries %v, want one subject and one exists", ae.GetEntries())
	}
	if strings.Contains(n.logs.String(), "nobody") {
		t.Fatal("the asked key reached the log")
	}
}

// TestUnconfirmedSuccessorDoesNotReplace: under M-of-N, an anchor that
// awaits confirmation neither replaces a root nor starts its clock; the
// first confirmed successor does.
func TestUnconfirmedSuccessorDoesNotReplace(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	h := n.holder(node.HolderID)
	cr, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "people", Confirmers: []string{node.HolderID}, ConfirmationsRequired: 1})
	if err != nil {
		t.Fatal(err)
	}
	n.setPolicy("people", &zkv1.PolicyRule{Consumer: "*", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_EXISTS}})
	id := cr.GetCollection().GetId()
	confirm := func(seq uint64, root []byte) {
		t.Helper()
		if _, err := h.ConfirmAnchor(ctx, &zkv1.ConfirmAnchorRequest{CollectionId: id, Sequence: seq, Root: root}); err != nil {
			t.Fatal(err)
		}
	}
	recs := people(10, 100)
	r1 := n.commit("people", recs)
	confirm(1, r1.GetRoot())
	pr, err := n.holder("bank").Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income >= 0", Nonce: nonce(1)})
	if err != nil {
		t.Fatal(err)
	}
	recs[0].Values[0] = "101"
	n.commit("people", recs) // anchor 2, never confirmed
	time.Sleep(2500 * time.Millisecond)
	recs[0].Values[0] = "102"
	r3 := n.commit("people", recs)
	confirm(3, r3.GetRoot())
	// Anchor 2 is older than the window, anchor 3 (the confirmed successor) is not.
	v, err := n.verifier("").Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), FreshnessSeconds: 2})
	if err != nil || !v.GetValid() {
		t.Fatalf("replaced by the confirmed anchor just now, the root is fresh: %v %v", v, err)
	}
	time.Sleep(2500 * time.Millisecond)
	v, err = n.verifier("").Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), FreshnessSeconds: 2})
	if err != nil || v.GetValid() || v.GetFailed() != verifier.CheckFreshness {
		t.Fatalf("replaced 2.5 s ago with a 2 s window: %v %v", v, err)
	}
}

// TestVerifyAggregateBounded: the public VerifyAggregate is rate-limited per
// client before any bundle is decoded.
func TestVerifyAggregateBounded(t *testing.T) {
	n := startNode(t, service.Config{}, service.WithVerifyAggregateLimit(0, 2))
	vf := n.verifier("")
	for i := range 2 {
		if vr, err := vf.VerifyAggregate(t.Context(), &zkv1.VerifyAggregateRequest{Bundle: &zkv1.Bundle{}}); err != nil || vr.GetVerdict().GetValid() {
			t.Fatalf("call %d: %v %v", i, vr, err)
		}
	}
	if _, err := vf.VerifyAggregate(t.Context(), &zkv1.VerifyAggregateRequest{Bundle: &zkv1.Bundle{}}); code(err) != connect.CodeResourceExhausted {
		t.Fatalf("third call in a minute: %v, want ResourceExhausted", err)
	}
}

// TestProveRefusesUnconfirmedRoot: a root whose anchor awaits its M-of-N
// confirmations is the holder's word alone: no bundle is served for it.
func TestProveRefusesUnconfirmedRoot(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	h := n.holder(node.HolderID)
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "people", Confirmers: []string{node.HolderID}, ConfirmationsRequired: 1}); err != nil {
		t.Fatal(err)
	}
	n.setPolicy("people", &zkv1.PolicyRule{Consumer: "*", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_EXISTS}})
	r := n.commit("people", people(10, 100))
	ask := &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income >= 0", Nonce: nonce(1)}
	if _, err := n.holder("bank").Prove(ctx, ask); code(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "awaits") {
		t.Fatalf("a bundle of an unconfirmed root: %v", err)
	}
	if _, err := h.ConfirmAnchor(ctx, &zkv1.ConfirmAnchorRequest{CollectionId: r.GetRoot()[:0:0], Sequence: 1, Root: r.GetRoot()}); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("confirm without a collection id: %v", err)
	}
	resp, _ := n.holder("").GetCollection(ctx, &zkv1.GetCollectionRequest{Name: "people"})
	if _, err := h.ConfirmAnchor(ctx, &zkv1.ConfirmAnchorRequest{CollectionId: resp.GetCollection().GetId(), Sequence: 1, Root: r.GetRoot()}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.holder("bank").Prove(ctx, ask); err != nil {
		t.Fatalf("once confirmed: %v", err)
	}
}

// TestThresholdRespectsMinGroup: a policy's minimum group also bounds
// threshold questions, or a few bits would read one record's value out
// (found in review: "sum == v" over a one-record filter).
func TestThresholdRespectsMinGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("aggregate keys and proofs are slow")
	}
	ctx := t.Context()
	dir, cleanup, err := testkeys.Dir(ctx, append(append([]string{}, keys.Core...), keys.Aggregates...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	n := startNode(t, service.Config{Keys: dir})
	n.register("narrow", zkv1.Role_ROLE_CONSUMER)
	schemaJSON, err := os.ReadFile(filepath.Join("..", "testdata", "coldchain", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := n.holder(node.HolderID)
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: schemaJSON, Name: "coldchain"}); err != nil {
		t.Fatal(err)
	}
	n.setPolicy("coldchain", &zkv1.PolicyRule{Consumer: "narrow", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_AGGREGATE},
		AggregateFields: []string{"co2_kg"}, AggregateModes: []zkv1.AggregateMode{zkv1.AggregateMode_AGGREGATE_MODE_REVEAL, zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD}, MinGroup: 2})
	n.commit("coldchain", []*zkv1.Record{
		{Key: "S1", Values: []string{"L-1", "Glacier SA", "DE", "-14.0", "154", "582.06", "false"}},
		{Key: "S2", Values: []string{"L-1", "Frostline BV", "NL", "-22.1", "109", "795.47", "true"}},
	})
	c := n.holder("narrow")
	one := &zkv1.ProveAggregateRequest{Nonce: nonce(2), Collection: "coldchain", Field: "co2_kg", Query: `supplier == "Glacier SA"`,
		Threshold: &zkv1.AggregateThreshold{Aggregate: "sum", Relation: "==", Value: "582.06"}}
	if _, err := client.Wrap(c, nil, nil).ProveAggregate(ctx, one); code(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "fewer than 2") {
		t.Fatalf("a threshold over one record with a minimum group of 2: %v", err)
	}
	both := proto.CloneOf(one)
	both.Query = `lot == "L-1"`
	pr, err := client.Wrap(c, nil, nil).ProveAggregate(ctx, both)
	if err != nil {
		t.Fatal(err)
	}
	vr, err := n.verifier("").VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: pr.GetBundle()})
	if err != nil || !vr.GetVerdict().GetValid() || !strings.HasSuffix(vr.GetVerdict().GetStatement(), "does not hold") {
		t.Fatalf("a threshold over the whole group: %v %v", vr, err)
	}
}

// TestAggregateAfterKeysAdded: a collection anchored before the node had
// aggregate keys can be aggregated at once: aggregates rest on the anchored
// root alone.
func TestAggregateAfterKeysAdded(t *testing.T) {
	if testing.Short() {
		t.Skip("aggregate keys and proofs are slow")
	}
	ctx := t.Context()
	core, cleanCore, err := testkeys.Dir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanCore)
	all, cleanAll, err := testkeys.Dir(ctx, append(append([]string{}, keys.Core...), keys.Aggregates...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanAll)
	data := t.TempDir()
	n := startNode(t, service.Config{Keys: core, Data: data})
	n.register("buyer", zkv1.Role_ROLE_CONSUMER)
	n.createAndCommit("people", people(10, 100))
	n.setPolicy("people", &zkv1.PolicyRule{Consumer: "buyer", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_AGGREGATE},
		AggregateFields: []string{"income"}, AggregateModes: []zkv1.AggregateMode{zkv1.AggregateMode_AGGREGATE_MODE_REVEAL}})
	buyerTok := n.tokens["buyer"]
	n.closeFn()

	n = startNode(t, service.Config{Keys: all, Data: data})
	n.tokens["buyer"] = buyerTok
	ask := &zkv1.ProveAggregateRequest{Nonce: nonce(1), Collection: "people", Field: "income", Query: "age >= 0"}
	pr, err := client.Wrap(n.holder("buyer"), nil, nil).ProveAggregate(ctx, ask)
	if err != nil {
		t.Fatalf("aggregate of a collection anchored before the keys: %v", err)
	}
	vr, err := n.verifier("").VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: pr.GetBundle()})
	if err != nil || !vr.GetVerdict().GetValid() {
		t.Fatalf("verify: %v %v", vr, err)
	}
}
