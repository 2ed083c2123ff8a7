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
	"github.com/zkshare/zkshare/device/sensor"
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

// demoSensors is how many sensors feed the demo's cold-chain collection;
// demoGapSensor is the one that loses a reading (counter demoGapCounter).
const (
	demoSensors    = 8
	demoGapSensor  = 2 // fridge-03
	demoGapCounter = 5
	demoBuyerID    = "buyer"
)

// demoSupplier is the supplier scenario on device-signed readings: sensors
// sign each shipment's reading and the ledger builds the collection's tree
// from their attestations; a buyer asks whether each of two lots kept the
// cold chain (no reading above 8.0 °C), and a third party checks both
// answers, a verified yes and a verified no, against the ledger. Then the
// supplier tries to swap a bad reading for a good one, and every way is
// refused.
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
	buyerTok, err := demoBuyer(ctx, d)
	if err != nil {
		return err
	}
	supplier, err := client.New(d.url, client.WithToken(d.holderTok))
	if err != nil {
		return err
	}
	created, err := supplier.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: schemaRaw, DeviceFed: true})
	if err != nil {
		return err
	}
	// The ledger names it HOLDER/NAME; the third party pins that full name.
	fullName := created.GetCollection().GetName()
	if err := supplier.SetPolicy(ctx, sc.Name, &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{
		Consumer: demoBuyerID, Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_AGGREGATE},
		AggregateFields: []string{"max_temp"}, AggregateModes: []zkv1.AggregateMode{zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD}}}}); err != nil {
		return err
	}
	ids := make([]string, demoSensors)
	for i := range ids {
		ids[i] = fmt.Sprintf("fridge-%02d", i+1)
	}
	fleet, err := registerSensors(ctx, supplier, sc.Name, sc, ids, "ColdTrack T8", time.Hour)
	if err != nil {
		return err
	}
	fprintf(stderr, "\n6. supplier: created %s, fed by devices only (the ledger builds its tree from signed readings); registered %d sensors on the ledger, each with its consent\n", fullName, len(fleet))
	// A key the supplier registered could be one it made itself: another
	// organisation must vouch for it. On this one-node ledger there is
	// none (the node's own admin may not endorse its holder's devices), so
	// the verdicts say so.
	own, err := client.New(d.url, client.WithToken(d.adminTok))
	if err != nil {
		return err
	}
	if _, err := own.EndorseDevice(ctx, fleet[0].ID); err == nil {
		return errors.New("supplier demo: the node's own admin endorsed its holder's sensor")
	}
	fprintf(stderr, "   no other organisation is on this ledger to endorse the sensors (`zkshare device endorse` in a consortium): verdicts will say so\n")
	readings, err := demoReadings(ctx, d.url, fleet, recs, stderr)
	if err != nil {
		return err
	}
	good, bad, over, err := demoLots(recs)
	if err != nil {
		return err
	}
	buyerClient, err := client.New(d.url, client.WithToken(buyerTok))
	if err != nil {
		return err
	}
	if err := demoBuyerAsks(ctx, d, buyerClient, sc.Name, fullName, []string{good, bad}, over, stdout, stderr); err != nil {
		return err
	}
	if err := demoSwap(ctx, d.url, supplier, sc, fleet, recs, readings, bad, stdout, stderr); err != nil {
		return err
	}
	ds, err := supplier.ListDevices(ctx, fullName)
	if err != nil {
		return err
	}
	fprintln(stderr, "\n10. the ledger's view of the sensors (a gap is a counter never attested: no proof covers it):")
	fprintln(stderr)
	return writeDevices(stdout, ds)
}

// demoBuyer registers the buyer as a consumer and returns its token.
func demoBuyer(ctx context.Context, d demoNode) (string, error) {
	buyer, err := ledger.NewIdentity(demoBuyerID)
	if err != nil {
		return "", err
	}
	admin, err := client.New(d.url, client.WithToken(d.adminTok))
	if err != nil {
		return "", err
	}
	reg, err := admin.RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: buyer.ID, Role: zkv1.Role_ROLE_CONSUMER, PublicKey: buyer.Public()})
	if err != nil {
		return "", err
	}
	return reg.GetToken(), nil
}

// demoReadings has the sensors take turns, one signed reading per shipment
// row (the reading key, SENSOR/COUNTER, replaces the shipment id), and
// submits them all on one DeviceService stream, with no token. One sensor
// loses a reading, so the ledger shows a gap.
func demoReadings(ctx context.Context, url string, fleet []*sensor.Sensor, recs []records.Record, stderr io.Writer) ([]*zkv1.Reading, error) {
	readings := make([]*zkv1.Reading, len(recs))
	for i, rec := range recs {
		s := fleet[i%len(fleet)]
		if i%len(fleet) == demoGapSensor && s.Next == demoGapCounter {
			s.Next++ // lost in transit: never sent, never attested
		}
		r, err := s.Read(rec.Values, time.Now())
		if err != nil {
			return nil, err
		}
		readings[i] = r
	}
	devices, err := client.New(url)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := devices.SubmitReadings(ctx, slices.Values(readings))
	if err != nil {
		return nil, err
	}
	fprintf(stderr, "7. sensors: %d signed readings (one per shipment) submitted in %s; the ledger attested %d in %d transactions (height %d)\n",
		len(readings), time.Since(start).Round(time.Millisecond), resp.GetAccepted(), len(resp.GetTxHashes()), resp.GetHeight())
	fprintf(stderr, "   %s lost reading %d on the way: a counter gap\n", fleet[demoGapSensor].ID, demoGapCounter)
	return readings, nil
}

// demoLots finds a lot with no reading above 8.0 °C and one with some,
// straight from the CSV text, and how many each lot has above.
func demoLots(recs []records.Record) (good, bad string, over map[string]int, err error) {
	over = map[string]int{}
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
	for _, l := range lots {
		if over[l] == 0 && good == "" {
			good = l
		}
		if over[l] > 0 && bad == "" {
			bad = l
		}
	}
	if good == "" || bad == "" {
		return "", "", nil, fmt.Errorf("supplier demo: the first %d shipments need a compliant and a non-compliant lot", len(recs))
	}
	return good, bad, over, nil
}

// demoBuyerAsks has the buyer ask, per lot, whether no reading is above
// 8.0 °C; the supplier's node proves over every record, and the third
// party verifies, with the verifier's warnings (the sensors' gaps).
func demoBuyerAsks(ctx context.Context, d demoNode, buyer *client.Client, name, fullName string, lots []string, over map[string]int, stdout, stderr io.Writer) error {
	fprintln(stderr, "8. the buyer asks, for two lots, whether every reading stayed at or below 8.0 °C; the supplier proves over every record; a third party verifies:")
	fprintln(stderr)
	tw := newTable(stdout)
	fprintln(tw, "lot\tstatement\tanswer\tchunks\tprove s\tverify ms\tbundle KiB\tverified\texpected")
	show := progress(stderr) // a terminal only: a log file gets no control characters
	var warnings []string
	for _, lot := range lots {
		t0 := time.Now()
		q := fmt.Sprintf("lot == %q AND max_temp > 8.0", lot)
		th := &zkv1.AggregateThreshold{Aggregate: "count", Relation: "==", Value: "0"}
		nonce, err := prover.NewNonce()
		if err != nil {
			return err
		}
		nb := nonce.Bytes()
		pr, err := buyer.ProveAggregate(ctx, &zkv1.ProveAggregateRequest{Collection: name, Field: "max_temp", Query: q, Threshold: th, Nonce: nb[:]},
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
			return errors.Join(fmt.Errorf("supplier demo: lot %s: verdict %v, %d readings over the limit", lot, v.Valid, over[lot]), v.Err(), tw.Flush())
		}
		for _, w := range v.Warnings {
			// The development keys were announced at step 1.
			if strings.HasPrefix(w, "device ") && !slices.Contains(warnings, w) {
				warnings = append(warnings, w)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	unendorsed := 0
	for _, w := range warnings {
		if strings.Contains(w, "vouched for by its holder") {
			unendorsed++
			continue
		}
		fprintf(stderr, "   the verifier warns: %s\n", w)
	}
	if unendorsed > 0 {
		fprintf(stderr, "   the verifier warns, for each of the %d sensors: its key is vouched for by its holder alone, who could have made it\n", unendorsed)
	}
	return nil
}
