package verifier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
	"google.golang.org/protobuf/proto"
)

// TestAggregateEndToEnd commits 2,100 cold-chain shipments (three chunks),
// proves aggregates over them from the holder store, and checks the
// answers against the data and the verifier against tampering.
func TestAggregateEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Groth16 keys")
	}
	ctx := context.Background()
	sc, err := records.LoadSchema(filepath.Join("..", "testdata", "coldchain", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(filepath.Join("..", "testdata", "coldchain", "shipments.csv"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := sc.ReadCSV(fh)
	fh.Close()
	if err != nil {
		t.Fatal(err)
	}
	recs := all[:500] // two regions
	st, err := holder.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateCollection(ctx, "coldchain", sc); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, "coldchain", recs, nil); err != nil {
		t.Fatal(err)
	}
	// Ground truth from the CSV text: hours over shipments of lot L-2026-Q3 at most 8.0 °C.
	var count, sum, lo, hi uint64 = 0, 0, 1 << 63, 0
	for _, r := range recs {
		temp, _ := strconv.ParseFloat(r.Values[3], 64)
		if r.Values[0] == "L-2026-Q3" && temp <= 8.0 {
			h, _ := strconv.ParseUint(r.Values[4], 10, 64)
			count, sum, lo, hi = count+1, sum+h, min(lo, h), max(hi, h)
		}
	}
	p, err := prover.New(st, keyDir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.FromDir(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	q := `lot == "L-2026-Q3" AND max_temp <= 8.0`
	// The verifier's nonce, and a minimum group of exactly count: revealed.
	var nonce fr.Element
	nonce.SetUint64(0xfeed)
	b, err := p.Aggregate(ctx, prover.AggregateRequest{Collection: "coldchain", Query: q, Field: "hours", MinGroup: count, Nonce: nonce}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nb := nonce.Bytes()
	if r := reveal(b); r.GetSmall() || r.GetMinGroup() != count || !bytes.Equal(b.GetNonce(), nb[:]) {
		t.Fatalf("aggregate: small %v, min group %d, nonce %x", r.GetSmall(), r.GetMinGroup(), b.GetNonce())
	}
	if r := reveal(b); len(b.GetAggregate().GetChunks()) < 2 || r.GetCount() != count || r.GetSum() != strconv.FormatUint(sum, 10) || r.GetMin() != lo || r.GetMax() != hi {
		t.Fatalf("aggregate: %d chunks, %s; want count %d sum %d min %d max %d", len(b.GetAggregate().GetChunks()), bundle.Statement(b), count, sum, lo, hi)
	}
	anchorOf := func(st *holder.Store, name string) *verifier.Anchored {
		c, err := st.Collection(name)
		if err != nil {
			t.Fatal(err)
		}
		root, err := records.ParseElement(c.Root)
		if err != nil {
			t.Fatal(err)
		}
		rb := root.Bytes()
		return &verifier.Anchored{Root: rb[:]}
	}
	anchored := anchorOf(st, "coldchain")
	verdict := v.VerifyAggregateProto(b, anchored, verifier.Expect{})
	if !verdict.Valid {
		t.Fatalf("valid aggregate rejected: %s: %s", verdict.Failed, verdict.Reason)
	}
	// The nonce is bound: the asker's verifies, another fails the nonce
	// check, and a bundle whose nonce was rewritten fails the proof.
	if verdict := v.VerifyAggregateProto(b, anchored, verifier.Expect{Nonce: &nonce}); !verdict.Valid {
		t.Fatalf("aggregate for its own nonce: %s: %s", verdict.Failed, verdict.Reason)
	}
	var other fr.Element
	other.SetUint64(0xfeee)
	if verdict := v.VerifyAggregateProto(b, anchored, verifier.Expect{Nonce: &other}); verdict.Valid || verdict.Failed != verifier.CheckNonce {
		t.Fatalf("aggregate for another nonce: valid=%v failed=%q", verdict.Valid, verdict.Failed)
	}
	// hours is a plain number: the average is sum/count.
	if want := fmt.Sprintf("count %d, sum %d, min %d, max %d, average %.2f", count, sum, lo, hi, float64(sum)/float64(count)); !strings.Contains(verdict.Statement, want) {
		t.Errorf("statement %q, want %q in it", verdict.Statement, want)
	}
	data := marshalAgg(t, b)
	if _, err := bundle.Parse(data); err != nil {
		t.Fatal(err)
	}

	// Tampering: each must fail, and say which check.
	ob := other.Bytes()
	for name, tc := range map[string]struct {
		mod   func(a *zkv1.Bundle)
		check verifier.Check
	}{
		"count":            {func(a *zkv1.Bundle) { reveal(a).Count++ }, verifier.CheckProof},
		"sum":              {func(a *zkv1.Bundle) { reveal(a).Sum = "1" }, verifier.CheckProof},
		"a chunk left out": {func(a *zkv1.Bundle) { a.Aggregate.Chunks = a.Aggregate.Chunks[1:] }, verifier.CheckCompleteness},
		// The combining proof opens the partials in the bundle's order.
		"chunks swapped": {func(a *zkv1.Bundle) {
			a.Aggregate.Chunks[0], a.Aggregate.Chunks[1] = a.Aggregate.Chunks[1], a.Aggregate.Chunks[0]
		}, verifier.CheckProof},
		"another partial":  {func(a *zkv1.Bundle) { a.Aggregate.Chunks[1].Partial = a.Aggregate.Chunks[0].Partial }, verifier.CheckProof},
		"another query":    {func(a *zkv1.Bundle) { a.Query = `lot == "L-2026-Q1" AND max_temp <= 8.0` }, verifier.CheckQuery},
		"another field":    {func(a *zkv1.Bundle) { a.Aggregate.Field, a.Aggregate.Slot = "co2_kg", 5 }, verifier.CheckProof},
		"a chunk repeated": {func(a *zkv1.Bundle) { a.Aggregate.Chunks[1] = a.Aggregate.Chunks[0] }, verifier.CheckCompleteness},
		// A chunk's region renamed: its proof is of another region.
		"a region's root claimed": {func(a *zkv1.Bundle) { a.Aggregate.Chunks[0].Root = a.Aggregate.Chunks[1].Root }, verifier.CheckProof},
		"a region moved":          {func(a *zkv1.Bundle) { a.Aggregate.Chunks[0].Depth++ }, verifier.CheckProof},
		"another root":            {func(a *zkv1.Bundle) { a.Root = a.Aggregate.Chunks[0].Root }, verifier.CheckCompleteness},
		// Replayed as the answer to another request.
		"another nonce": {func(a *zkv1.Bundle) { a.Nonce = ob[:] }, verifier.CheckProof},
		"no nonce":      {func(a *zkv1.Bundle) { a.Nonce = nil }, verifier.CheckDecode},
		// The group is large enough: the holder cannot claim it small.
		"claimed small": {func(a *zkv1.Bundle) {
			r := reveal(a)
			r.Small, r.Count, r.Sum, r.Min, r.Max = true, 0, "0", 0, 0
		}, verifier.CheckProof},
		"claimed small, values kept": {func(a *zkv1.Bundle) { reveal(a).Small = true }, verifier.CheckDecode}, // the bundle format refuses it
		"another min group":          {func(a *zkv1.Bundle) { reveal(a).MinGroup = count - 1 }, verifier.CheckProof},
		"min group 2^32":             {func(a *zkv1.Bundle) { reveal(a).MinGroup = 1 << 32 }, verifier.CheckDecode},
	} {
		bad := cloneAgg(b)
		tc.mod(bad)
		if verdict := v.VerifyAggregateProto(bad, anchored, verifier.Expect{}); verdict.Valid || verdict.Failed != tc.check {
			t.Errorf("%s: valid=%v failed=%q (%s), want %q", name, verdict.Valid, verdict.Failed, verdict.Reason, tc.check)
		}
	}
	// A revealed sum has one spelling: any other, even of the same value
	// or of one equal to it modulo p, fails to decode (and never reaches the
	// verdict).
	sumP := new(big.Int).Add(new(big.Int).SetUint64(sum), fr.Modulus())
	bs := reveal(b).GetSum()
	for _, s := range []string{"0" + bs, "08", "0x10", "+" + bs, "-0", "-" + bs, sumP.String(), " " + bs, bs + " ", "1 0", "", "1e3", "٣"} {
		bad := cloneAgg(b)
		reveal(bad).Sum = s
		if verdict := v.VerifyAggregateProto(bad, anchored, verifier.Expect{}); verdict.Valid || verdict.Failed != verifier.CheckDecode {
			t.Errorf("sum %q: valid=%v failed=%q (%s), want %q", s, verdict.Valid, verdict.Failed, verdict.Reason, verifier.CheckDecode)
		}
	}

	// Fewer records than the minimum group: the bundle shows only that.
	sb, err := p.Aggregate(ctx, prover.AggregateRequest{Collection: "coldchain", Query: q, Field: "hours", MinGroup: count + 1, Nonce: nonce}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := reveal(sb); !r.GetSmall() || r.GetCount() != 0 || r.GetSum() != "0" || r.GetMin() != 0 || r.GetMax() != 0 {
		t.Fatalf("small group: %s", bundle.Statement(sb))
	}
	sdata := marshalAgg(t, sb)
	if _, err := bundle.Parse(sdata); err != nil {
		t.Fatalf("small bundle does not parse: %v", err)
	}
	sv := v.VerifyAggregateProto(sb, anchored, verifier.Expect{Nonce: &nonce})
	if !sv.Valid || !strings.Contains(sv.Statement, fmt.Sprintf("fewer than %d records match", count+1)) {
		t.Fatalf("small group: valid=%v %s: %s; %q", sv.Valid, sv.Failed, sv.Reason, sv.Statement)
	}
	for name, mod := range map[string]func(a *zkv1.Bundle){
		"revealed": func(a *zkv1.Bundle) {
			r := reveal(a)
			r.Small, r.Count, r.Sum, r.Min, r.Max = false, count, strconv.FormatUint(sum, 10), lo, hi
		},
		"not small, zeros": func(a *zkv1.Bundle) { reveal(a).Small = false },
		"lower min group":  func(a *zkv1.Bundle) { reveal(a).MinGroup = count },
		"another nonce":    func(a *zkv1.Bundle) { a.Nonce = ob[:] },
	} {
		bad := cloneAgg(sb)
		mod(bad)
		if verdict := v.VerifyAggregateProto(bad, anchored, verifier.Expect{}); verdict.Valid {
			t.Errorf("small group %s: verified", name)
		}
	}
	// A threshold question about a group below the minimum is not answered.
	if _, err := p.Aggregate(ctx, prover.AggregateRequest{Collection: "coldchain", Query: q, Field: "hours", MinGroup: 1<<31 - 1,
		Threshold: &prover.Threshold{Which: records.AggCount, Relation: records.RelEQ, Value: "0"}}, nil); !errors.Is(err, prover.ErrSmallGroup) {
		t.Fatalf("a minimum group with a threshold: %v", err)
	}

	// The same shipments committed as another collection: its leaves have
	// other salts, so its chunks' regions are not this collection's tree.
	st2, err := holder.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if _, err := st2.CreateCollection(ctx, "coldchain", sc); err != nil {
		t.Fatal(err)
	}
	if _, err := st2.Commit(ctx, "coldchain", recs, nil); err != nil {
		t.Fatal(err)
	}
	p2, err := prover.New(st2, keyDir)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := p2.Aggregate(ctx, prover.AggregateRequest{Collection: "coldchain", Query: q, Field: "hours"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	foreign.Root = b.Root // claim this collection's root
	if verdict := v.VerifyAggregateProto(foreign, anchored, verifier.Expect{}); verdict.Valid || verdict.Failed != verifier.CheckCompleteness {
		t.Fatalf("another collection's chunks: %+v", verdict)
	}

	// A superseded version: after an update, the old bundle is not about
	// the anchored state, and one whose chunks are of the new tree but
	// claims the old root fails.
	upd := recs[5]
	upd.Values = append([]string(nil), upd.Values...)
	upd.Values[4] = "999"
	if _, err := st.Commit(ctx, "coldchain", []records.Record{upd}, nil); err != nil {
		t.Fatal(err)
	}
	fresh := anchorOf(st, "coldchain")
	if verdict := v.VerifyAggregateProto(b, fresh, verifier.Expect{}); verdict.Valid || verdict.Failed != verifier.CheckAnchor {
		t.Fatalf("superseded bundle: %+v", verdict)
	}
	nb2, err := p.Aggregate(ctx, prover.AggregateRequest{Collection: "coldchain", Query: q, Field: "hours", MinGroup: count, Nonce: nonce}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nb2.Root = b.Root
	if verdict := v.VerifyAggregateProto(nb2, anchored, verifier.Expect{}); verdict.Valid || verdict.Failed != verifier.CheckCompleteness {
		t.Fatalf("the new tree's chunks under the old root: %+v", verdict)
	}
	anchored = fresh

	// Threshold mode: count(max_temp > 8.0) == 0 for the lot, one bit.
	over := 0
	for _, r := range recs {
		temp, _ := strconv.ParseFloat(r.Values[3], 64)
		if r.Values[0] == "L-2026-Q3" && temp > 8.0 {
			over++
		}
	}
	tb, err := p.Aggregate(ctx, prover.AggregateRequest{Collection: "coldchain", Query: `lot == "L-2026-Q3" AND max_temp > 8.0`, Field: "hours",
		Threshold: &prover.Threshold{Which: records.AggCount, Relation: records.RelEQ, Value: "0"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	th := tb.GetAggregate().GetThreshold()
	if th.GetHolds() != (over == 0) || reveal(tb) != nil {
		t.Fatalf("threshold: holds %v with %d over the limit; count revealed: %v", th.GetHolds(), over, reveal(tb) != nil)
	}
	if verdict := v.VerifyAggregateProto(tb, anchored, verifier.Expect{}); !verdict.Valid {
		t.Fatalf("threshold rejected: %s: %s", verdict.Failed, verdict.Reason)
	}
	th.Holds = !th.Holds
	tb.Result = th.Holds
	if verdict := v.VerifyAggregateProto(tb, anchored, verifier.Expect{}); verdict.Valid {
		t.Fatal("a flipped threshold answer verified")
	}
	t.Logf("%s; %d shipments of the lot over 8.0 °C", bundle.Statement(b), over)
}

// cloneAgg copies an aggregate bundle for tampering.
func cloneAgg(b *zkv1.Bundle) *zkv1.Bundle { return proto.Clone(b).(*zkv1.Bundle) }

// reveal is an aggregate bundle's revealed answer (nil for a threshold).
func reveal(b *zkv1.Bundle) *zkv1.AggregateReveal { return b.GetAggregate().GetReveal() }
