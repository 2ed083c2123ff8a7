package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
)

// demoNode is how the demo reaches its node.
type demoNode struct {
	url                 string
	third               *client.Client // the third party: no token, pinned keys
	adminTok, holderTok string
}

// demoSupplier is the supplier scenario: the supplier commits its
// shipments, a buyer asks whether each of two lots kept the cold chain
// (no shipment above 8.0 °C), and a third party checks both answers, a
// verified yes and a verified no, against the ledger.
func demoSupplier(ctx context.Context, d demoNode, dir string, n int, stdout, stderr io.Writer) error {
	schemaRaw, err := os.ReadFile(filepath.Join(dir, "schema.json"))
	if err != nil {
		return err
	}
	sc, err := records.ParseSchema(schemaRaw)
	if err != nil {
		return err
	}
	recs, err := readRecords(sc, filepath.Join(dir, "shipments.csv"))
	if err != nil {
		return err
	}
	recs = recs[:min(n, len(recs))]
	buyer, err := ledger.NewIdentity("buyer")
	if err != nil {
		return err
	}
	admin, err := client.New(d.url, client.WithToken(d.adminTok))
	if err != nil {
		return err
	}
	reg, err := admin.RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: buyer.ID, Role: zkv1.Role_ROLE_CONSUMER, PublicKey: buyer.Public()})
	if err != nil {
		return err
	}
	supplier, err := client.New(d.url, client.WithToken(d.holderTok))
	if err != nil {
		return err
	}
	created, err := supplier.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: schemaRaw})
	if err != nil {
		return err
	}
	// The ledger names it HOLDER/NAME; the third party pins that full name.
	fullName := created.GetCollection().GetName()
	if err := supplier.SetPolicy(ctx, sc.Name, &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{
		Consumer: buyer.ID, Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_AGGREGATE},
		AggregateFields: []string{"max_temp"}, AggregateModes: []zkv1.AggregateMode{zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD}}}}); err != nil {
		return err
	}
	start := time.Now()
	res, err := supplier.Commit(ctx, sc.Name, slices.Values(recs))
	if err != nil {
		return err
	}
	fprintf(stderr, "\n6. supplier: committed %d shipments to %s in %s, anchored at height %d\n",
		res.GetRecordCount(), fullName, time.Since(start).Round(time.Millisecond), res.GetAnchorHeight())

	// The expected answers, straight from the CSV text.
	over := map[string]int{}
	lots := []string{}
	for _, r := range recs {
		if _, ok := over[r.Values[0]]; !ok {
			over[r.Values[0]] = 0
			lots = append(lots, r.Values[0])
		}
		if t, _ := strconv.ParseFloat(r.Values[3], 64); t > 8.0 {
			over[r.Values[0]]++
		}
	}
	var good, bad string
	for _, l := range lots {
		if over[l] == 0 && good == "" {
			good = l
		}
		if over[l] > 0 && bad == "" {
			bad = l
		}
	}
	if good == "" || bad == "" {
		return fmt.Errorf("supplier demo: the first %d shipments need a compliant and a non-compliant lot", len(recs))
	}
	buyerClient, err := client.New(d.url, client.WithToken(reg.GetToken()))
	if err != nil {
		return err
	}
	fprintln(stderr, "7. the buyer asks, for two lots, whether every shipment stayed at or below 8.0 °C; the supplier proves over every record; a third party verifies:")
	fprintln(stderr)
	tw := newTable(stdout)
	fprintln(tw, "lot\tstatement\tanswer\tchunks\tprove s\tverify ms\tbundle KiB\tverified\texpected")
	show := progress(stderr) // a terminal only: a log file gets no control characters
	for _, lot := range []string{good, bad} {
		t0 := time.Now()
		q := fmt.Sprintf("lot == %q AND max_temp > 8.0", lot)
		th := &zkv1.AggregateThreshold{Aggregate: "count", Relation: "==", Value: "0"}
		nonce, err := prover.NewNonce()
		if err != nil {
			return err
		}
		nb := nonce.Bytes()
		pr, err := buyerClient.ProveAggregate(ctx, &zkv1.ProveAggregateRequest{Collection: sc.Name, Field: "max_temp", Query: q, Threshold: th, Nonce: nb[:]},
			client.WithProgress(func(done, total int) { show("   "+lot+": chunks proven", done, total) }))
		if err != nil {
			return fmt.Errorf("lot %s: %w", lot, err)
		}
		proveS := time.Since(t0).Seconds()
		t1 := time.Now()
		v, err := d.third.Verify(ctx, pr.GetBundle(), verifier.Expect{Kind: bundle.KindAggregate, Collection: fullName, Query: q, Field: "max_temp",
			Mode: verifier.ModeThreshold, Threshold: &verifier.Threshold{Which: records.AggCount, Relation: records.RelEQ, Value: th.GetValue()}, Nonce: &nonce})
		if err != nil {
			return err
		}
		holds := strings.HasSuffix(v.Statement, " holds")
		ok := v.Valid && holds == (over[lot] == 0)
		answer := "yes: none above 8.0"
		if !holds {
			answer = "no: some above 8.0"
		}
		fprintf(tw, "%s\tcount(max_temp > 8.0) == 0\t%s\t%d\t%.1f\t%.1f\t%.0f\t%v\t%s\n", lot, answer, pr.GetChunksTotal(), proveS,
			float64(time.Since(t1).Microseconds())/1000, float64(proto.Size(pr.GetBundle()))/1024, v.Valid, mark(ok))
		if !ok {
			// v.Err is nil for a valid verdict that answered wrongly.
			return errors.Join(fmt.Errorf("supplier demo: lot %s: verdict %v, %d shipments over the limit", lot, v.Valid, over[lot]), v.Err(), tw.Flush())
		}
	}
	return tw.Flush()
}
