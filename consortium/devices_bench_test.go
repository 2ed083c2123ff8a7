package consortium_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zkshare/zkshare/device/sensor"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
)

// BenchmarkConsortiumReadings: four validators, each an organisation's
// full node. 16 sensors' pre-signed readings are relayed in calls of 100
// (one AttestReadings transaction each) through the holder's node with
// openings (which then mirrors the tree), or through another
// organisation's node as attestations only. Reports readings/s, and the
// end-to-end latency of one reading: from the SubmitReadings call to the
// holder's store having the anchored root (ms/reading-to-provable).
func BenchmarkConsortiumReadings(b *testing.B) {
	if testing.Short() {
		b.Skip("runs four CometBFT nodes")
	}
	ctx := context.Background()
	c := newKeyedNet(b, 4)
	h1 := c.holderTB(b, 0)
	schemaJSON, err := os.ReadFile(filepath.Join("..", "testdata", "coldchain", "schema.json"))
	if err != nil {
		b.Fatal(err)
	}
	sc, err := records.ParseSchema(schemaJSON)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h1.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: schemaJSON, Name: "coldchain", DeviceFed: true}); err != nil {
		b.Fatal(err)
	}
	const name = "holder1/coldchain"
	cidElem := records.CollectionID(name)
	cid := cidElem.Bytes()
	var probes []*sensor.Sensor
	for d := range 16 {
		s, err := sensor.New(fmt.Sprintf("probe-%02d", d), sc)
		if err != nil {
			b.Fatal(err)
		}
		probes = append(probes, s)
		req, err := s.Registration(name, "", "", time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h1.RegisterDevice(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	// Every organisation knows the devices before any relays for them.
	for k := range 4 {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			ds, err := c.devices(k).ListDevices(ctx, &zkv1.ListDevicesRequest{Collection: name})
			if err == nil && len(ds.GetDevices()) == 16 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("org%d: devices not registered: %v", k+1, err)
			}
		}
	}
	sign := func(per int) []*zkv1.Reading {
		var rs []*zkv1.Reading
		for range per {
			for _, s := range probes {
				r, err := s.Read([]string{"L-1", "SUP-A", "NL", "4.5", "12", "1.25", "true"}, time.Now())
				if err != nil {
					b.Fatal(err)
				}
				rs = append(rs, r)
			}
		}
		return rs
	}
	// provable waits until the holder's store has the collection's
	// anchored root.
	provable := func() {
		lc := zksharev1connect.NewLedgerServiceClient(c.client, c.orgs[0].url)
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
			a, err := lc.GetAnchor(ctx, &zkv1.GetAnchorRequest{CollectionId: cid[:]})
			if err != nil {
				b.Fatal(err)
			}
			tr, err := lc.GetTransaction(ctx, &zkv1.GetTransactionRequest{Hash: a.GetTxHash()})
			if err != nil {
				b.Fatal(err)
			}
			tx, err := ledger.DecodeTx(tr.GetTx())
			if err != nil {
				b.Fatal(err)
			}
			info, err := h1.GetCollection(ctx, &zkv1.GetCollectionRequest{Name: "coldchain"})
			if err == nil && bytes.Equal(info.GetCollection().GetRoot(), ledger.AnchorOf(tx.Body).GetRoot()) {
				return
			}
			if time.Now().After(deadline) {
				b.Fatal("the holder's store never reached the anchored root")
			}
		}
	}
	for _, via := range []struct {
		name  string
		org   int
		strip bool
	}{{"holder-node", 0, false}, {"other-org", 1, true}} {
		b.Run(via.name, func(b *testing.B) {
			var readings int
			var elapsed time.Duration
			for range b.N {
				rs := sign(250) // 4,000 readings
				if via.strip {
					for i, r := range rs {
						rs[i] = &zkv1.Reading{Attestation: r.GetAttestation()}
					}
				}
				t0 := time.Now()
				// Calls of 1,000: each relayed as one AttestReadings.
				for lo := 0; lo < len(rs); lo += 1000 {
					if _, err := c.submitReadings(ctx, via.org, rs[lo:min(lo+1000, len(rs))]...); err != nil {
						b.Fatal(err)
					}
					// The next call's plan needs this one's block on the relaying node.
				}
				elapsed += time.Since(t0)
				readings += len(rs)
			}
			b.ReportMetric(float64(readings)/elapsed.Seconds(), "readings/s")
		})
	}
	b.Run("latency", func(b *testing.B) {
		var total time.Duration
		for i := range b.N {
			r := sign(1)[i%16 : i%16+1]
			t0 := time.Now()
			if _, err := c.submitReadings(ctx, 0, r...); err != nil {
				b.Fatal(err)
			}
			provable()
			total += time.Since(t0)
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/reading-to-provable")
	})
}
