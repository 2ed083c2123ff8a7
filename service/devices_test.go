package service_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/device"
	"github.com/zkshare/zkshare/device/sensor"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/service"
	"github.com/zkshare/zkshare/zkhash"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Device canaries: each appears in exactly one reading's opening, which
// only the holder's store may keep.
const (
	canarySupplier = "CANARY-SUPPLIER-7731"
	canaryLot      = "CANARY-LOT-5521"
	canaryCO2      = "7731.77"
)

func (n *testNode) devices() zksharev1connect.DeviceServiceClient {
	return zksharev1connect.NewDeviceServiceClient(client.HTTPClient(), n.url, n.as("")...)
}

// submit streams readings to the node's DeviceService, two per message,
// and records the response or error for the privacy scan.
func (n *testNode) submit(ctx context.Context, rs ...*zkv1.Reading) (*zkv1.SubmitReadingsResponse, error) {
	stream, err := n.devices().SubmitReadings(ctx)
	if err != nil {
		return nil, err
	}
	for lo := 0; lo < len(rs); lo += 2 {
		if err := stream.Send(&zkv1.SubmitReadingsRequest{Readings: rs[lo:min(lo+2, len(rs))]}); err != nil {
			break // the server ended the call: CloseAndReceive has its error
		}
	}
	resp, err := stream.CloseAndReceive()
	if resp != nil {
		n.seen.WriteString(protojson.Format(resp))
	}
	if err != nil {
		n.seen.WriteString(err.Error())
	}
	return resp, err
}

// attestedBefore is how many readings of a refused call the error says
// were attested before the refused one (-1: it does not say).
func attestedBefore(err error) int {
	m := regexp.MustCompile(`\((\d+) readings of this call were attested before it\)`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil {
		return -1
	}
	k, _ := strconv.Atoi(m[1])
	return k
}

// devState is what a refusal must leave alone: the collection's newest
// anchor and every device's counters.
type devState struct {
	seq      uint64
	root     []byte
	counters map[string]uint64
	missing  map[string]uint64
}

func (n *testNode) devState(t *testing.T, collID []byte) devState {
	t.Helper()
	a, err := n.ledgerClient("").GetAnchor(t.Context(), &zkv1.GetAnchorRequest{CollectionId: collID})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := n.devices().ListDevices(t.Context(), &zkv1.ListDevicesRequest{Collection: node.HolderID + "/coldchain"})
	if err != nil {
		t.Fatal(err)
	}
	// The anchor as the transaction states it (GetAnchor's own anchor
	// field is checked in TestDeviceFedService).
	tr, err := n.ledgerClient("").GetTransaction(t.Context(), &zkv1.GetTransactionRequest{Hash: a.GetTxHash()})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ledger.DecodeTx(tr.GetTx())
	if err != nil {
		t.Fatal(err)
	}
	an := ledger.AnchorOf(tx.Body)
	st := devState{seq: an.GetSequence(), root: an.GetRoot(), counters: map[string]uint64{}, missing: map[string]uint64{}}
	for _, d := range ds.GetDevices() {
		st.counters[d.GetId()] = d.GetLastCounter()
		st.missing[d.GetId()] = d.GetMissing()
	}
	return st
}

// coldReading is a cold-chain reading's values in schema order (the key,
// shipment_id, is the reading's device id and counter).
func coldReading(lot, supplier, temp, co2 string) []string {
	return []string{lot, supplier, "NL", temp, "12", co2, "true"}
}

// TestDeviceFedService: sensors sign cold-chain readings, the node relays
// them over Connect, and the holder's subject, exists and aggregate
// answers over the ledger-built tree verify, naming the devices. Every
// refusal has its code and leaves nothing half-applied; a holder that
// alters, drops or reorders readings cannot make a bundle that verifies;
// a skipped counter shows as a gap in the verdict; and no reading value
// or salt leaves the holder (ledger, responses, errors, logs).
func TestDeviceFedService(t *testing.T) {
	if testing.Short() {
		t.Skip("aggregate keys and proofs are slow")
	}
	ctx := t.Context()
	keyDir, cleanup, err := testkeys.Dir(ctx, append(append([]string{}, keys.Core...), keys.Aggregates...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	n := startNode(t, service.Config{Keys: keyDir}, service.WithVerifyAggregateLimit(0, 1000))
	n.register("buyer", zkv1.Role_ROLE_CONSUMER)
	schemaJSON, err := os.ReadFile(filepath.Join("..", "testdata", "coldchain", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := records.ParseSchema(schemaJSON)
	if err != nil {
		t.Fatal(err)
	}
	h := n.holder(node.HolderID)
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: schemaJSON, Name: "coldchain", DeviceFed: true}); err != nil {
		t.Fatal(err)
	}
	const qualified = node.HolderID + "/coldchain"
	cidElem := records.CollectionID(qualified)
	cid := cidElem.Bytes()
	collID := cid[:]
	n.setPolicy("coldchain", &zkv1.PolicyRule{Consumer: "buyer",
		Kinds:           []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT, zkv1.StatementKind_STATEMENT_KIND_EXISTS, zkv1.StatementKind_STATEMENT_KIND_AGGREGATE},
		AggregateFields: []string{"*"}, AggregateModes: []zkv1.AggregateMode{zkv1.AggregateMode_AGGREGATE_MODE_REVEAL, zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD}})

	probes := map[string]*sensor.Sensor{}
	for _, id := range []string{"probe-1", "probe-2", "probe-3", "probe-9"} {
		s, err := sensor.New(id, sc)
		if err != nil {
			t.Fatal(err)
		}
		probes[id] = s
		req, err := s.Registration(node.HolderID+"/coldchain", "t-100", "dock-4", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.RegisterDevice(ctx, req); err != nil {
			t.Fatalf("register %s: %v", id, err)
		}
	}
	if _, err := h.RevokeDevice(ctx, &zkv1.RevokeDeviceRequest{Id: "probe-9"}); err != nil {
		t.Fatal(err)
	}
	read := func(id string, values []string, at time.Time) *zkv1.Reading {
		t.Helper()
		r, err := probes[id].Read(values, at)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// Three readings from each of three probes: lot L-7 keeps the cold
	// chain, lot L-8 has one reading over 8.0 (probe-1's second).
	now := time.Now()
	var first []*zkv1.Reading
	var canary *zkv1.Reading
	for c := range 3 {
		for _, id := range []string{"probe-1", "probe-2", "probe-3"} {
			vals := coldReading("L-7", "SUP-A", fmt.Sprintf("%d.%d", 2+c, len(first)%10), "1.25")
			switch {
			case id == "probe-1" && c == 1:
				vals = coldReading("L-8", "SUP-B", "9.1", "2.50")
			case id == "probe-2" && c == 2:
				vals = coldReading(canaryLot, canarySupplier, "3.3", canaryCO2)
			}
			r := read(id, vals, now)
			if id == "probe-2" && c == 2 {
				canary = r
			}
			first = append(first, r)
		}
	}
	resp, err := n.submit(ctx, first...)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAccepted() != 9 || len(resp.GetTxHashes()) == 0 || resp.GetHeight() == 0 {
		t.Fatalf("submit: %v", resp)
	}
	st := n.devState(t, collID)
	if st.seq == 0 || len(st.counters) != 4 || st.counters["probe-1"] != 3 || st.counters["probe-2"] != 3 || st.counters["probe-3"] != 3 || st.counters["probe-9"] != 0 {
		t.Fatalf("after the first readings: %+v", st)
	}

	// Every other request names a collection short (this node's
	// holder's) or qualified; RegisterDevice took "coldchain".
	t.Run("ListDevices by the short name", func(t *testing.T) {
		ds, err := n.devices().ListDevices(ctx, &zkv1.ListDevicesRequest{Collection: "coldchain"})
		if err != nil || len(ds.GetDevices()) != 4 {
			t.Errorf("ListDevices{collection: coldchain}: %v %v (the qualified name lists 4)", ds, err)
		}
	})

	t.Run("GetAnchor of a device-fed collection", func(t *testing.T) {
		a, err := n.ledgerClient("").GetAnchor(ctx, &zkv1.GetAnchorRequest{CollectionId: collID})
		if err != nil || a.GetAnchor().GetSequence() != st.seq || !bytes.Equal(a.GetAnchor().GetRoot(), st.root) {
			t.Errorf("GetAnchor: anchor %v, want sequence %d and the attested root (%v)", a.GetAnchor(), st.seq, err)
		}
	})

	buyer, vf := n.holder("buyer"), n.verifier("")
	subject, exists := zkv1.StatementKind_STATEMENT_KIND_SUBJECT, zkv1.StatementKind_STATEMENT_KIND_EXISTS
	wantDevices := func(t *testing.T, what string, ds []*zkv1.DeviceState) {
		t.Helper()
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.GetId())
		}
		if !slices.Equal(ids, []string{"probe-1", "probe-2", "probe-3", "probe-9"}) {
			t.Errorf("%s: verdict devices %v", what, ids)
		}
	}

	// Subject and exists answers over the ledger-built tree verify.
	sub, err := buyer.Prove(ctx, &zkv1.ProveRequest{Collection: "coldchain", Kind: subject, Subject: "probe-1/1", Query: "max_temp <= 8.0", Nonce: nonce(1), Blind: nonce(101)})
	if err != nil {
		t.Fatal(err)
	}
	if !sub.GetBundle().GetResult() {
		t.Fatal("probe-1/1 should keep the cold chain")
	}
	v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: sub.GetBundle(), Nonce: nonce(1), Subject: "probe-1/1", Expect: &zkv1.Expectation{Blind: nonce(101)}})
	if err != nil || !v.GetValid() {
		t.Fatalf("subject: %v %v", v, err)
	}
	wantDevices(t, "subject", v.GetDevices())
	for _, w := range v.GetWarnings() {
		if strings.Contains(w, "never attested") {
			t.Errorf("subject: a gap warning with no gap: %q", w)
		}
	}
	ex, err := buyer.Prove(ctx, &zkv1.ProveRequest{Collection: "coldchain", Kind: exists, Query: "max_temp > 8.0", Nonce: nonce(2)})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: ex.GetBundle(), Nonce: nonce(2)}); err != nil || !v.GetValid() || !ex.GetBundle().GetResult() {
		t.Fatalf("exists: %v %v", v, err)
	} else {
		wantDevices(t, "exists", v.GetDevices())
	}
	// Aggregates: lot L-7 kept the cold chain, L-8 did not.
	for lot, holds := range map[string]bool{"L-7": true, "L-8": false} {
		pr, err := client.Wrap(buyer, nil, nil).ProveAggregate(ctx, &zkv1.ProveAggregateRequest{Nonce: nonce(3), Collection: "coldchain", Field: "max_temp",
			Query: `lot == "` + lot + `" AND max_temp > 8.0`, Threshold: &zkv1.AggregateThreshold{Aggregate: "count", Relation: "==", Value: "0"}})
		if err != nil {
			t.Fatalf("aggregate %s: %v", lot, err)
		}
		n.seen.WriteString(protojson.Format(pr.GetBundle()))
		vr, err := vf.VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: pr.GetBundle()})
		if err != nil || !vr.GetVerdict().GetValid() || strings.HasSuffix(vr.GetVerdict().GetStatement(), " holds") != holds {
			t.Fatalf("aggregate %s: %v %v", lot, vr, err)
		}
		wantDevices(t, "aggregate "+lot, vr.GetVerdict().GetDevices())
	}

	// A holder's bundle from a tree other than the ledger's does not
	// verify: it alters a reading, drops one, or swaps two readings'
	// openings, proves from its own store and attaches the real anchor.
	t.Run("holder forgeries", func(t *testing.T) {
		forgeries(t, n, keyDir, sc, qualified, first, sub.GetBundle())
	})

	// The holder cannot write to the collection itself.
	if _, err := h.UpdateRecords(ctx, &zkv1.UpdateRecordsRequest{Collection: "coldchain", Records: []*zkv1.Record{{Key: "probe-1/2", Values: coldReading("L-8", "SUP-B", "4.0", "2.50")}}}); code(err) != connect.CodeFailedPrecondition {
		t.Errorf("update of a device-fed collection: %v", err)
	}
	if _, err := h.DeleteRecords(ctx, &zkv1.DeleteRecordsRequest{Collection: "coldchain", Keys: []string{"probe-1/2"}}); code(err) != connect.CodeFailedPrecondition {
		t.Errorf("delete from a device-fed collection: %v", err)
	}
	cs, err := h.CommitRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = cs.Send(&zkv1.CommitRecordsRequest{Collection: "coldchain", Records: []*zkv1.Record{{Key: "probe-1/4", Values: coldReading("L-8", "SUP-B", "4.0", "2.50")}}})
	if _, err := cs.CloseAndReceive(); code(err) != connect.CodeFailedPrecondition {
		t.Errorf("commit to a device-fed collection: %v", err)
	}
	if got := n.devState(t, collID); got.seq != st.seq || !bytes.Equal(got.root, st.root) {
		t.Fatalf("a refused write changed the anchor: %+v", got)
	}

	// Refusals, each with its code; readings before the refused one are
	// attested, nothing of it or after it.
	stranger, _ := device.GenerateKey(nil)
	ghost, _ := sensor.New("ghost-1", sc)
	next := func(id string) uint64 { return probes[id].Next }
	tests := []struct {
		name     string
		readings func() []*zkv1.Reading
		want     connect.Code
		accepted int
		advance  map[string]uint64 // devices whose counters the accepted readings move
	}{
		{"unknown device", func() []*zkv1.Reading {
			r, _ := ghost.Read(coldReading("L-7", "SUP-A", "3.0", "1.00"), now)
			return []*zkv1.Reading{r}
		}, connect.CodeUnauthenticated, 0, nil},
		{"revoked device", func() []*zkv1.Reading {
			return []*zkv1.Reading{read("probe-9", coldReading("L-7", "SUP-A", "3.0", "1.00"), now)}
		}, connect.CodeUnauthenticated, 0, nil},
		{"impersonated device", func() []*zkv1.Reading {
			r, _ := sensor.Seal(stranger, sc, "probe-2", next("probe-2"), now, coldReading("L-7", "SUP-A", "3.0", "1.00"))
			return []*zkv1.Reading{r}
		}, connect.CodeUnauthenticated, 0, nil},
		{"commitment altered after signing, opening of the new commitment", func() []*zkv1.Reading {
			// Another reading for the same counter: its opening opens its
			// commitment, but the signature is over the first one's.
			a, _ := sensor.Seal(probes["probe-2"].Key, sc, "probe-2", next("probe-2"), now, coldReading("L-7", "SUP-A", "3.0", "1.00"))
			b, _ := sensor.Seal(probes["probe-2"].Key, sc, "probe-2", next("probe-2"), now, coldReading("L-7", "SUP-A", "8.0", "1.00"))
			b.Attestation.Signature = a.Attestation.Signature
			return []*zkv1.Reading{b}
		}, connect.CodeUnauthenticated, 0, nil},
		{"commitment altered after signing, no opening", func() []*zkv1.Reading {
			a, _ := sensor.Seal(probes["probe-2"].Key, sc, "probe-2", next("probe-2"), now, coldReading("L-7", "SUP-A", "3.0", "1.00"))
			a.Attestation.Commitment = first[0].Attestation.Commitment
			return []*zkv1.Reading{{Attestation: a.Attestation}}
		}, connect.CodeUnauthenticated, 0, nil},
		// A device that signs another reading under a counter already
		// attested: the ledger's leaf for it is the first one's.
		{"replayed counter, another reading", func() []*zkv1.Reading {
			a := first[0].GetAttestation()
			r, _ := sensor.Seal(probes[a.GetDeviceId()].Key, sc, a.GetDeviceId(), a.GetCounter(), now, coldReading("L-7", "SUP-A", "2.0", "1.00"))
			return []*zkv1.Reading{r}
		}, connect.CodeFailedPrecondition, 0, nil},
		{"replayed counter, attestation only", func() []*zkv1.Reading {
			return []*zkv1.Reading{{Attestation: first[3].Attestation}}
		}, connect.CodeFailedPrecondition, 0, nil},
		{"time too far ahead", func() []*zkv1.Reading {
			r, _ := sensor.Seal(probes["probe-2"].Key, sc, "probe-2", next("probe-2"), time.Now().Add(time.Hour), coldReading("L-7", "SUP-A", "3.0", "1.00"))
			return []*zkv1.Reading{r}
		}, connect.CodeFailedPrecondition, 0, nil},
		{"time too far back", func() []*zkv1.Reading {
			r, _ := sensor.Seal(probes["probe-2"].Key, sc, "probe-2", next("probe-2"), time.Now().Add(-time.Hour), coldReading("L-7", "SUP-A", "3.0", "1.00"))
			return []*zkv1.Reading{r}
		}, connect.CodeFailedPrecondition, 0, nil},
		{"opening altered after signing", func() []*zkv1.Reading {
			r, _ := sensor.Seal(probes["probe-2"].Key, sc, "probe-2", next("probe-2"), now, coldReading("L-7", "SUP-A", "9.9", "1.00"))
			r.Values[3] = "3.0"
			return []*zkv1.Reading{r}
		}, connect.CodeInvalidArgument, 0, nil},
		{"salt altered after signing", func() []*zkv1.Reading {
			r, _ := sensor.Seal(probes["probe-2"].Key, sc, "probe-2", next("probe-2"), now, coldReading("L-7", "SUP-A", "3.0", "1.00"))
			r.Salt = slices.Clone(first[0].Salt)
			return []*zkv1.Reading{r}
		}, connect.CodeInvalidArgument, 0, nil},
		{"a good reading, then a replay", func() []*zkv1.Reading {
			return []*zkv1.Reading{read("probe-1", coldReading("L-7", "SUP-A", "3.1", "1.00"), time.Now()), {Attestation: first[1].GetAttestation()}}
		}, connect.CodeFailedPrecondition, 1, map[string]uint64{"probe-1": 4}},
		{"two good readings, then an altered opening", func() []*zkv1.Reading {
			a := read("probe-1", coldReading("L-7", "SUP-A", "3.2", "1.00"), time.Now())
			b := read("probe-2", coldReading("L-7", "SUP-A", "3.3", "1.00"), time.Now())
			c, _ := sensor.Seal(probes["probe-2"].Key, sc, "probe-2", next("probe-2"), time.Now(), coldReading("L-7", "SUP-A", "9.9", "1.00"))
			c.Values[3] = "3.0"
			return []*zkv1.Reading{a, b, c}
		}, connect.CodeInvalidArgument, 2, map[string]uint64{"probe-1": 5, "probe-2": 4}},
		{"a good reading, then an unknown device", func() []*zkv1.Reading {
			r, _ := ghost.Read(coldReading("L-7", "SUP-A", "3.0", "1.00"), now)
			return []*zkv1.Reading{read("probe-2", coldReading("L-7", "SUP-A", "3.4", "1.00"), time.Now()), r}
		}, connect.CodeUnauthenticated, 1, map[string]uint64{"probe-2": 5}},
		// probe-3 skips counter 4: 5 is attested (a gap), then 4 is out of order.
		{"out-of-order counter", func() []*zkv1.Reading {
			four := read("probe-3", coldReading("L-7", "SUP-A", "3.5", "1.00"), time.Now())
			five := read("probe-3", coldReading("L-7", "SUP-A", "3.6", "1.00"), time.Now())
			return []*zkv1.Reading{five, four}
		}, connect.CodeFailedPrecondition, 1, map[string]uint64{"probe-3": 5}},
	}
	// The same reading sent again (a lost reply, or relayed elsewhere
	// first) only delivers its opening: nothing changes on the ledger.
	t.Run("a reading sent again", func(t *testing.T) {
		before := n.devState(t, collID)
		res, err := n.submit(ctx, first[0])
		if err != nil || res.GetAccepted() != 1 || len(res.GetTxHashes()) != 0 {
			t.Fatalf("resent reading: %v %v", res, err)
		}
		if after := n.devState(t, collID); after.seq != before.seq || !bytes.Equal(after.root, before.root) {
			t.Fatal("a resent reading changed the collection")
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := n.devState(t, collID)
			_, err := n.submit(ctx, tt.readings()...)
			if code(err) != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if got := attestedBefore(err); got != tt.accepted {
				t.Errorf("the error says %d readings were attested before it, want %d (%v)", got, tt.accepted, err)
			}
			after := n.devState(t, collID)
			wantSeq := before.seq
			if tt.accepted > 0 {
				wantSeq++
			} else if !bytes.Equal(after.root, before.root) {
				t.Error("a refused call changed the collection's root")
			}
			if after.seq != wantSeq {
				t.Errorf("anchor sequence %d, want %d", after.seq, wantSeq)
			}
			for id, c := range before.counters {
				want := c
				if a, ok := tt.advance[id]; ok {
					want = a
				}
				if after.counters[id] != want {
					t.Errorf("%s: counter %d, want %d", id, after.counters[id], want)
				}
			}
		})
	}

	// The gap shows: probe-3 never attested counter 4, and a verdict
	// over the newest anchor says so.
	st = n.devState(t, collID)
	if st.missing["probe-3"] != 1 || st.missing["probe-1"] != 0 {
		t.Fatalf("missing counters: %v", st.missing)
	}
	gap, err := buyer.Prove(ctx, &zkv1.ProveRequest{Collection: "coldchain", Kind: subject, Subject: "probe-3/5", Query: "max_temp <= 8.0", Nonce: nonce(5), Blind: nonce(105)})
	if err != nil {
		t.Fatal(err)
	}
	v, err = vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: gap.GetBundle(), Nonce: nonce(5), Subject: "probe-3/5", Expect: &zkv1.Expectation{Blind: nonce(105)}})
	if err != nil || !v.GetValid() {
		t.Fatalf("subject after a gap: %v %v", v, err)
	}
	var warned bool
	for _, w := range v.GetWarnings() {
		warned = warned || strings.Contains(w, "probe-3") && strings.Contains(w, "never attested")
	}
	var p3 *zkv1.DeviceState
	for _, d := range v.GetDevices() {
		if d.GetId() == "probe-3" {
			p3 = d
		}
	}
	if !warned || p3.GetMissing() != 1 || len(p3.GetGaps()) != 1 || p3.GetGaps()[0].GetFirst() != 4 || p3.GetGaps()[0].GetLast() != 4 {
		t.Errorf("gap verdict: warnings %q, probe-3 %v", v.GetWarnings(), p3)
	}
	if _, err := n.ledgerClient("").GetCollectionState(ctx, &zkv1.GetCollectionStateRequest{CollectionId: collID}); err != nil {
		t.Fatal(err)
	}

	// The privacy canary: no value or salt of the canary reading left the
	// holder, in a response, an error, a log line or a ledger transaction.
	secrets := []string{canarySupplier, canaryLot, canaryCO2, hex.EncodeToString(canary.GetSalt()),
		base64.StdEncoding.EncodeToString(canary.GetSalt()), base64.RawURLEncoding.EncodeToString(canary.GetSalt())}
	seen := n.seen.String() + n.logs.String()
	for _, s := range secrets {
		if strings.Contains(seen, s) {
			t.Errorf("%q reached a response, an error or the logs", s)
		}
	}
	data := n.data
	n.closeFn()
	id, err := ledger.LoadIdentity(node.IdentityPath(data, node.NodeID))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(node.LedgerDir(data), id, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	raw := [][]byte{canary.GetSalt()}
	for _, s := range secrets[:3] {
		raw = append(raw, []byte(s))
	}
	var txs int
	for h := uint64(1); h <= l.Head().Height; h++ {
		blk, _, err := l.Block(h)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range blk.GetTxs() {
			txs++
			for _, s := range raw {
				if bytes.Contains(tx, s) {
					t.Errorf("block %d: a transaction holds %q", h, s)
				}
			}
		}
	}
	if txs == 0 {
		t.Fatal("no ledger transactions scanned")
	}
}

// forgeries: a dishonest holder builds its own tree of the attested
// readings with one altered, dropped or swapped, proves a subject
// statement from it, and attaches the honest bundle's ledger evidence.
// No such bundle verifies.
func forgeries(t *testing.T, n *testNode, keyDir string, sc *records.Schema, name string, readings []*zkv1.Reading, honest *zkv1.Bundle) {
	ctx := t.Context()
	opening := func(r *zkv1.Reading) holder.Opening {
		var salt fr.Element
		if err := salt.SetBytesCanonical(r.GetSalt()); err != nil {
			t.Fatal(err)
		}
		a := r.GetAttestation()
		return holder.Opening{Key: device.ReadingKey(a.GetDeviceId(), a.GetCounter()), Values: slices.Clone(r.GetValues()), Salt: salt}
	}
	// readings[0] is probe-1/1 (2.0), readings[3] probe-1/2 (9.1, lot L-8).
	tests := []struct {
		name     string
		subject  string
		forge    func([]holder.Opening) []holder.Opening
		anchored bool // the bundle's root set back to the anchored root
	}{
		{"altered temperature", "probe-1/2", func(ops []holder.Opening) []holder.Opening {
			ops[3].Values = coldReading("L-8", "SUP-B", "4.0", "2.50")
			return ops
		}, false},
		{"altered temperature, anchored root claimed", "probe-1/2", func(ops []holder.Opening) []holder.Opening {
			ops[3].Values = coldReading("L-8", "SUP-B", "4.0", "2.50")
			return ops
		}, true},
		{"dropped reading", "probe-1/1", func(ops []holder.Opening) []holder.Opening {
			return slices.Delete(ops, 3, 4)
		}, false},
		{"swapped readings", "probe-1/2", func(ops []holder.Opening) []holder.Opening {
			ops[0].Values, ops[3].Values = ops[3].Values, ops[0].Values
			ops[0].Salt, ops[3].Salt = ops[3].Salt, ops[0].Salt
			return ops
		}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ops []holder.Opening
			for _, r := range readings {
				ops = append(ops, opening(r))
			}
			ops = tt.forge(ops)
			st, err := holder.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.CreateDeviceCollection(ctx, name, sc); err != nil {
				t.Fatal(err)
			}
			// The forged tree's leaves are the forged openings' own.
			var rs []holder.Reading
			for _, o := range ops {
				kd, slots, err := sc.Encode(&records.Record{Key: o.Key, Values: o.Values})
				if err != nil {
					t.Fatal(err)
				}
				rs = append(rs, holder.Reading{Key: o.Key, Leaf: zkhash.Leaf(sc.ID(), kd, o.Salt, &slots)})
			}
			if _, err := st.PutOpenings(ctx, name, ops); err != nil {
				t.Fatal(err)
			}
			res, err := st.AddReadings(ctx, name, 1, rs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rb := res.Root.Bytes(); bytes.Equal(rb[:], honest.GetRoot()) {
				t.Fatal("the forged tree has the ledger's root")
			}
			p, err := prover.New(st, keyDir)
			if err != nil {
				t.Fatal(err)
			}
			var nc, bl fr.Element
			nc.SetBytes(nonce(byte(40 + i)))
			bl.SetBytes(nonce(140))
			pb, err := p.Prove(ctx, prover.Request{Collection: name, Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: tt.subject, Query: "max_temp <= 8.0", Nonce: nc, Blind: bl})
			if err != nil {
				t.Fatal(err)
			}
			// The honest bundle's ledger evidence: the anchor the forged tree claims to be under.
			pb.AnchorTx, pb.AnchorLogIndex, pb.AnchorInclusion, pb.Checkpoint = honest.GetAnchorTx(), honest.GetAnchorLogIndex(), honest.GetAnchorInclusion(), honest.GetCheckpoint()
			pb.CollectionTxs, pb.Confirmations, pb.HolderKeyTx, pb.GenesisHash = honest.GetCollectionTxs(), honest.GetConfirmations(), honest.GetHolderKeyTx(), honest.GetGenesisHash()
			if tt.anchored {
				pb.Root = slices.Clone(honest.GetRoot())
			}
			v, err := n.verifier("").Verify(ctx, &zkv1.VerifyRequest{Bundle: proto.CloneOf(pb), Nonce: nonce(byte(40 + i)), Subject: tt.subject, Expect: &zkv1.Expectation{Blind: nonce(140)}})
			if err != nil {
				t.Fatal(err)
			}
			if v.GetValid() {
				t.Fatalf("a forged bundle verified: %v", v)
			}
			t.Logf("refused: %s: %s", v.GetFailedCheck(), v.GetReason())
		})
	}
}
