package service_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

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

// TestAggregateService: a buyer asks a supplier's node whether two lots
// kept the cold chain, over Connect, and checks each answer on the node's
// verifier; the policy, tampering and privacy checks apply to aggregates too.
func TestAggregateService(t *testing.T) {
	if testing.Short() {
		t.Skip("aggregate keys and proofs are slow")
	}
	ctx := t.Context()
	dir, cleanup, err := testkeys.Dir(ctx, append(append([]string{}, keys.Core...), keys.Aggregates...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	n := startNode(t, service.Config{Keys: dir}, service.WithVerifyAggregateLimit(0, 1000))
	n.register("buyer", zkv1.Role_ROLE_CONSUMER)
	n.register("nosy", zkv1.Role_ROLE_CONSUMER)
	n.register("nosy2", zkv1.Role_ROLE_CONSUMER)
	n.register("narrow", zkv1.Role_ROLE_CONSUMER)

	schemaJSON, err := os.ReadFile(filepath.Join("..", "testdata", "coldchain", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(filepath.Join("..", "testdata", "coldchain", "shipments.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(fh).ReadAll()
	fh.Close()
	if err != nil {
		t.Fatal(err)
	}
	rows = rows[1:601]
	recs := make([]*zkv1.Record, len(rows))
	over := map[string]int{}
	for i, r := range rows {
		recs[i] = &zkv1.Record{Key: r[0], Values: r[1:]}
		if temp, _ := strconv.ParseFloat(r[4], 64); temp > 8.0 {
			over[r[1]]++
		}
	}
	h := n.holder(node.HolderID)
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: schemaJSON, Name: "coldchain"}); err != nil {
		t.Fatal(err)
	}
	n.setPolicy("coldchain", &zkv1.PolicyRule{Consumer: "buyer", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_AGGREGATE},
		AggregateFields: []string{"*"}, AggregateModes: []zkv1.AggregateMode{zkv1.AggregateMode_AGGREGATE_MODE_REVEAL, zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD}},
		// nosy2 may ask one bit about CO2 only; narrow sees totals only over 1,000 records or more.
		&zkv1.PolicyRule{Consumer: "nosy2", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_AGGREGATE},
			AggregateFields: []string{"co2_kg"}, AggregateModes: []zkv1.AggregateMode{zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD}},
		&zkv1.PolicyRule{Consumer: "narrow", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_AGGREGATE},
			AggregateFields: []string{"co2_kg"}, AggregateModes: []zkv1.AggregateMode{zkv1.AggregateMode_AGGREGATE_MODE_REVEAL}, MinGroup: 1000})
	n.commit("coldchain", recs)

	buyer, vf := n.holder("buyer"), n.verifier("")
	ask := func(lot string) (*zkv1.ProveAggregateResponse, *zkv1.VerifyResponse) {
		t.Helper()
		var progress []int
		pr, err := client.Wrap(buyer, nil, nil).ProveAggregate(ctx, &zkv1.ProveAggregateRequest{Nonce: nonce(42), Collection: "coldchain", Field: "max_temp",
			Query: `lot == "` + lot + `" AND max_temp > 8.0`, Threshold: &zkv1.AggregateThreshold{Aggregate: "count", Relation: "==", Value: "0"}},
			client.WithProgress(func(done, total int) { progress = append(progress, done, total) }))
		if err != nil {
			t.Fatal(err)
		}
		n.seen.WriteString(protojson.Format(pr.GetBundle())) // streamed responses are not recorded by the interceptor
		// One message per chunk proof, counting up to the number of regions.
		if k := len(progress); k < 2 || k%2 != 0 || progress[k-2] != progress[k-1] || k/2 != progress[k-1] {
			t.Errorf("progress messages %v, want 1 of n up to n of n", progress)
		}
		vr, err := vf.VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: pr.GetBundle()})
		if err != nil {
			t.Fatal(err)
		}
		return pr, vr.GetVerdict()
	}
	for _, lot := range []string{"L-2026-Q1", "L-2026-Q3"} {
		pr, v := ask(lot)
		holds := strings.HasSuffix(v.GetStatement(), " holds")
		if !v.GetValid() || holds != (over[lot] == 0) {
			t.Fatalf("%s (%d over the limit): %v", lot, over[lot], v)
		}
		t.Logf("%s: %s (checks %v)", lot, v.GetStatement(), v.GetChecks())
		// The answer flipped does not verify.
		raw := proto.CloneOf(pr.GetBundle())
		th := raw.GetAggregate().GetThreshold()
		th.Holds, raw.Result = !th.Holds, !raw.Result
		vr, err := vf.VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: raw})
		if err != nil || vr.GetVerdict().GetValid() {
			t.Fatalf("flipped answer: %v %v", vr, err)
		}
		// Another anchor of the collection is not what the chunks commit to.
		raw = proto.CloneOf(pr.GetBundle())
		raw.Aggregate.AnchorSequence = 99
		if vr, err := vf.VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: raw}); err != nil || vr.GetVerdict().GetValid() || vr.GetVerdict().GetFailed() != verifier.CheckAnchor {
			t.Fatalf("unknown anchor: %v %v", vr, err)
		}
	}
	// Reveal mode: the total CO2 of a lot, with its average.
	pr, err := client.Wrap(buyer, nil, nil).ProveAggregate(ctx, &zkv1.ProveAggregateRequest{Nonce: nonce(42), Collection: "coldchain", Field: "co2_kg", Query: `lot == "L-2026-Q1"`})
	if err != nil {
		t.Fatal(err)
	}
	n.seen.WriteString(protojson.Format(pr.GetBundle()))
	vr, err := vf.VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: pr.GetBundle()})
	if err != nil || !vr.GetVerdict().GetValid() || !strings.Contains(vr.GetVerdict().GetStatement(), "average") {
		t.Fatalf("reveal: %v %v", vr, err)
	}
	// The asker pins its question: the same bundle fails for any other.
	asked := &zkv1.Expectation{Kind: zkv1.StatementKind_STATEMENT_KIND_AGGREGATE, Collection: node.HolderID + "/coldchain", Query: `lot == "L-2026-Q1"`,
		Field: "co2_kg", Mode: zkv1.AggregateMode_AGGREGATE_MODE_REVEAL, Nonce: nonce(42)}
	if vr, err := vf.VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: pr.GetBundle(), Expect: asked}); err != nil || !vr.GetVerdict().GetValid() {
		t.Fatalf("pinned as asked: %v %v", vr, err)
	}
	for name, tc := range map[string]struct {
		pin   func(*zkv1.Expectation)
		check verifier.Check
	}{
		"another field":  {func(e *zkv1.Expectation) { e.Field = "max_temp" }, verifier.CheckExpect},
		"another query":  {func(e *zkv1.Expectation) { e.Query = `lot == "L-2026-Q2"` }, verifier.CheckExpect},
		"threshold mode": {func(e *zkv1.Expectation) { e.Mode = zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD }, verifier.CheckExpect},
		"a threshold": {func(e *zkv1.Expectation) {
			e.Mode, e.Threshold = 0, &zkv1.AggregateThreshold{Aggregate: "sum", Relation: "<=", Value: "1"}
		}, verifier.CheckExpect},
		"another nonce (a replay)": {func(e *zkv1.Expectation) { e.Nonce = nonce(43) }, verifier.CheckNonce},
		"a subject kind":           {func(e *zkv1.Expectation) { e.Kind = zkv1.StatementKind_STATEMENT_KIND_SUBJECT }, verifier.CheckExpect},
	} {
		e := proto.CloneOf(asked)
		tc.pin(e)
		vr, err := vf.VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: pr.GetBundle(), Expect: e})
		if err != nil || vr.GetVerdict().GetValid() || vr.GetVerdict().GetFailed() != tc.check {
			t.Errorf("pinned %s: %v %v, want the %s check to fail", name, vr, err, tc.check)
		}
	}
	// A minimum group of 1,000: a lot's revealed total shows only "fewer than 1000".
	sr, err := client.Wrap(n.holder("narrow"), nil, nil).ProveAggregate(ctx, &zkv1.ProveAggregateRequest{Nonce: nonce(44), Collection: "coldchain", Field: "co2_kg", Query: `lot == "L-2026-Q1"`})
	if err != nil {
		t.Fatal(err)
	}
	vr, err = vf.VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: sr.GetBundle()})
	if err != nil || !vr.GetVerdict().GetValid() || !strings.Contains(vr.GetVerdict().GetStatement(), "fewer than 1000") || strings.Contains(vr.GetVerdict().GetStatement(), "average") {
		t.Fatalf("min group: %v %v", vr, err)
	}
	// Bad requests and the policy.
	for name, tc := range map[string]struct {
		who  string
		req  *zkv1.ProveAggregateRequest
		code connect.Code
	}{
		"not allowed":   {"nosy", &zkv1.ProveAggregateRequest{Nonce: nonce(42), Collection: "coldchain", Field: "hours", Query: `lot == "L-2026-Q1"`}, connect.CodePermissionDenied},
		"no field":      {"buyer", &zkv1.ProveAggregateRequest{Nonce: nonce(42), Collection: "coldchain", Query: `lot == "L-2026-Q1"`}, connect.CodeInvalidArgument},
		"unknown field": {"buyer", &zkv1.ProveAggregateRequest{Nonce: nonce(42), Collection: "coldchain", Field: "weight", Query: `lot == "L-2026-Q1"`}, connect.CodeInvalidArgument},
		"string field":  {"buyer", &zkv1.ProveAggregateRequest{Nonce: nonce(42), Collection: "coldchain", Field: "supplier", Query: `lot == "L-2026-Q1"`}, connect.CodeInvalidArgument},
		"bad threshold": {"buyer", &zkv1.ProveAggregateRequest{Nonce: nonce(42), Collection: "coldchain", Field: "max_temp", Query: `lot == "L-2026-Q1"`,
			Threshold: &zkv1.AggregateThreshold{Aggregate: "max", Relation: "<=", Value: "warm"}}, connect.CodeInvalidArgument},
		"no collection":     {"buyer", &zkv1.ProveAggregateRequest{Nonce: nonce(42), Collection: "nope", Field: "hours", Query: `lot == "x"`}, connect.CodeNotFound},
		"no nonce":          {"buyer", &zkv1.ProveAggregateRequest{Collection: "coldchain", Field: "max_temp", Query: `lot == "L-2026-Q1"`}, connect.CodeInvalidArgument},
		"field not granted": {"nosy2", &zkv1.ProveAggregateRequest{Nonce: nonce(42), Collection: "coldchain", Field: "hours", Query: `lot == "L-2026-Q1"`}, connect.CodePermissionDenied},
		"mode not granted":  {"nosy2", &zkv1.ProveAggregateRequest{Nonce: nonce(42), Collection: "coldchain", Field: "co2_kg", Query: `lot == "L-2026-Q1"`}, connect.CodePermissionDenied},
	} {
		if _, err := client.Wrap(n.holder(tc.who), nil, nil).ProveAggregate(ctx, tc.req); code(err) != tc.code {
			t.Errorf("%s: %v, want %v", name, err, tc.code)
		}
	}
	if vr, err := vf.VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: &zkv1.Bundle{}}); err != nil || vr.GetVerdict().GetValid() {
		t.Fatalf("garbage bundle: %v %v", vr, err)
	}
	// No shipment id or supplier name left the holder.
	seen := n.seen.String() + n.logs.String()
	for _, r := range rows[:50] {
		if strings.Contains(seen, r[0]) || strings.Contains(seen, r[2]) {
			t.Fatalf("a record value (%s or %s) reached a response or a log", r[0], r[2])
		}
	}
}
