package client_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/device/sensor"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/records"
)

// TestDevices: the holder registers a sensor on a device-fed collection,
// the sensor's readings go in messages of ReadingsChunk on one anonymous
// stream, ListDevices shows its counter, and a replayed attestation is
// refused naming the reading, over every protocol.
func TestDevices(t *testing.T) {
	ctx := t.Context()
	sc, err := records.ParseSchema([]byte(shipmentsSchema))
	if err != nil {
		t.Fatal(err)
	}
	const n = client.ReadingsChunk + 88
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			h := dial(t, node.URL, p.opt, client.WithToken(node.HolderToken))
			anon := dial(t, node.URL, p.opt)
			name := "devices-" + p.name
			created, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(shipmentsSchema), Name: name, DeviceFed: true})
			if err != nil {
				t.Fatal(err)
			}
			s, err := sensor.New("fridge-"+p.name, sc)
			if err != nil {
				t.Fatal(err)
			}
			req, err := s.Registration(created.GetCollection().GetName(), "test", "", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.RegisterDevice(ctx, req); err != nil {
				t.Fatal(err)
			}
			var rs []*zkv1.Reading
			for i := range n {
				r, err := s.Read([]string{"L-1", fmt.Sprintf("%d.%d", i%9, i%10)}, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				rs = append(rs, r)
			}
			var seen []int
			resp, err := anon.SubmitReadings(ctx, slices.Values(rs), client.WithProgress(func(done, _ int) { seen = append(seen, done) }))
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetAccepted() != n || len(resp.GetTxHashes()) == 0 || resp.GetHeight() == 0 {
				t.Errorf("accepted %d in %d txs at height %d; want %d", resp.GetAccepted(), len(resp.GetTxHashes()), resp.GetHeight(), n)
			}
			if want := []int{client.ReadingsChunk, n}; fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("progress %v, want %v", seen, want)
			}
			ds, err := anon.ListDevices(ctx, created.GetCollection().GetName())
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 || ds[0].GetId() != s.ID || ds[0].GetLastCounter() != n || ds[0].GetReadings() != n || ds[0].GetMissing() != 0 {
				t.Fatalf("devices of %s: %v", name, ds)
			}
			// A relayer's replay: the attestation alone, again.
			_, err = anon.SubmitReadings(ctx, slices.Values([]*zkv1.Reading{{Attestation: rs[0].GetAttestation()}}))
			if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "readings[0]") {
				t.Errorf("a replay: %v, want FailedPrecondition naming readings[0]", err)
			}
			if strings.Contains(fmt.Sprint(err), "L-1") {
				t.Errorf("the refusal shows a value: %v", err)
			}
		})
	}
}
