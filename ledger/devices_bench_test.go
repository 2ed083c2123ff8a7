package ledger_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zkshare/zkshare/device"
	"github.com/zkshare/zkshare/device/sensor"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/tree"
)

// deviceFleet registers a device-fed collection of agency and devices
// devices for it, and pre-signs per readings of each, interleaved.
func (n *net) deviceFleet(coll string, devices, per int) ([]byte, []*zkv1.Attestation) {
	n.t.Helper()
	id := ledger.CollectionID(coll)
	n.must("agency", ledger.RegisterCollection(&zkv1.RegisterCollection{
		CollectionId: id, Name: coll, SchemaHash: h32("schema"), TreeDepth: 64, CircuitIds: [][]byte{h32("subject")}, DeviceFed: true,
	}))
	s := &sensors{t: n.t, keys: map[string]*device.Key{}, expect: tree.NewMemory()}
	var ids []string
	for d := range devices {
		did := fmt.Sprintf("%s-d%03d", coll[len("agency/"):], d)
		k, err := device.GenerateKey(nil)
		if err != nil {
			n.t.Fatal(err)
		}
		s.keys[did] = k
		ids = append(ids, did)
		n.must("agency", ledger.RegisterDeviceTx(&zkv1.RegisterDevice{Id: did, PublicKey: k.Public(), CollectionId: id, Proof: consent(n.t, k, did, id, "agency")}))
	}
	var as []*zkv1.Attestation
	now := time.Now()
	for c := 1; c <= per; c++ {
		for _, did := range ids {
			as = append(as, s.reading(did, uint64(c), now))
		}
	}
	return id, as
}

// relay relays as in AttestReadings transactions of batch attestations,
// each planned on the tip.
func (n *net) relay(b *testing.B, sender string, collID []byte, as []*zkv1.Attestation, batch int) {
	for lo := 0; lo < len(as); lo += batch {
		chunk := as[lo:min(lo+batch, len(as))]
		plan, err := n.l.PlanAttestations(context.Background(), collID, chunk, time.Now().UnixMilli())
		if err != nil {
			b.Error(err)
			return
		}
		if _, err := n.submit(sender, ledger.AttestReadingsTx(plan, chunk)); err != nil {
			b.Error(err)
			return
		}
	}
}

// BenchmarkAttestReadings: one ledger on disk, 64 devices' pre-signed
// readings relayed in AttestReadings transactions of 100 attestations,
// by one relayer on one collection, or by several relayers (distinct
// senders) at once, each on its own collection.
func BenchmarkAttestReadings(b *testing.B) {
	const devices, perDevice, batch = 64, 100, 1000
	for _, relayers := range []int{1, 4} {
		b.Run(fmt.Sprintf("relayers=%d", relayers), func(b *testing.B) {
			n := newNet(b, b.TempDir())
			n.setup(nil, 0)
			// Each relayer its own sender: a sender's transactions are sequenced.
			for r := range relayers {
				n.join(fmt.Sprintf("relay%d", r), zkv1.Role_ROLE_CONSUMER)
			}
			var readings, written uint64
			var elapsed time.Duration
			for i := range b.N {
				colls := make([][]byte, relayers)
				work := make([][]*zkv1.Attestation, relayers)
				for r := range relayers {
					colls[r], work[r] = n.deviceFleet(fmt.Sprintf("agency/fridges-%d-%d", i, r), devices/relayers, perDevice)
				}
				w0, t0 := n.l.BytesWrittenForTest(), time.Now()
				var wg sync.WaitGroup
				for r := range relayers {
					wg.Go(func() { n.relay(b, fmt.Sprintf("relay%d", r), colls[r], work[r], batch) })
				}
				wg.Wait()
				elapsed += time.Since(t0)
				written += n.l.BytesWrittenForTest() - w0
				for _, w := range work {
					readings += uint64(len(w))
				}
			}
			b.ReportMetric(float64(readings)/elapsed.Seconds(), "readings/s")
			b.ReportMetric(float64(written)/float64(readings), "bytes/reading")
		})
	}
}

// BenchmarkSealReading: what a device does per reading, a cold-chain
// record's salted leaf commitment and its EdDSA signature.
func BenchmarkSealReading(b *testing.B) {
	sc, err := records.LoadSchema(filepath.Join("..", "testdata", "coldchain", "schema.json"))
	if err != nil {
		b.Fatal(err)
	}
	k, err := device.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now()
	values := []string{"L-2026-Q1", "SUP-A", "NL", "4.5", "12", "1.25", "true"}
	b.ResetTimer()
	for i := range b.N {
		if _, err := sensor.Seal(k, sc, "probe-1", uint64(i+1), at, values); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
