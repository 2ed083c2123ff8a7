package node_test

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zkshare/zkshare/device/sensor"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/records"
)

// deviceNode opens a node with a device-fed collection "coldchain" and one
// registered sensor.
func deviceNode(t *testing.T) (*node.Node, *sensor.Sensor) {
	t.Helper()
	ctx := t.Context()
	n := open(t, "")
	schemaJSON, err := os.ReadFile(filepath.Join("..", "testdata", "coldchain", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := records.ParseSchema(schemaJSON)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.CreateCollection(ctx, holderC, node.NewCollection{Name: "coldchain", Schema: schemaJSON, DeviceFed: true}); err != nil {
		t.Fatal(err)
	}
	s, err := sensor.New("probe-1", sc)
	if err != nil {
		t.Fatal(err)
	}
	cid := records.CollectionID(node.HolderID + "/coldchain")
	cb := cid.Bytes()
	lc := n.Ledger().State().Collections[hex.EncodeToString(cb[:])]
	proof, err := s.Key.SignRegistration("probe-1", lc.ID, node.HolderID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.RegisterDevice(ctx, holderC, node.DeviceInfo{ID: "probe-1", Collection: "coldchain", PublicKey: s.Key.Public(), Proof: proof}); err != nil {
		t.Fatal(err)
	}
	return n, s
}

// TestAttackOversizedAttestationHangsRelay: an anonymous caller of the
// public DeviceService sends one reading of a registered device whose
// attestation is bigger than one AttestReadings transaction may carry (a
// padded signature or commitment). nextBatch returns an empty batch with
// no error, attestBatch takes 0 readings with no error, and SubmitReadings
// loops forever on the same index while holding attestMu, so no device's
// reading is relayed by this node again.
func TestAttackOversizedAttestationHangsRelay(t *testing.T) {
	n, s := deviceNode(t)
	r, err := s.Read([]string{"L-7", "SUP-A", "NL", "4.0", "12", "1.25", "true"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bad := &zkv1.Reading{Attestation: &zkv1.Attestation{
		DeviceId: r.GetAttestation().GetDeviceId(), Counter: r.GetAttestation().GetCounter(),
		TimeUnixMs: r.GetAttestation().GetTimeUnixMs(), Commitment: r.GetAttestation().GetCommitment(),
		Signature: make([]byte, 130<<10), // > attestTxBytes
	}}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := n.SubmitReadings(ctx, []*zkv1.Reading{bad})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("an oversized attestation was accepted")
		}
		t.Logf("refused: %v", err)
		return
	case <-time.After(10 * time.Second):
	}
	// The relay is stuck; a genuine reading now waits for ever too.
	good := make(chan error, 1)
	go func() {
		_, err := n.SubmitReadings(context.Background(), []*zkv1.Reading{r})
		good <- err
	}()
	select {
	case err := <-good:
		t.Errorf("SubmitReadings of an oversized attestation never returned (genuine reading after it: %v)", err)
	case <-time.After(5 * time.Second):
		t.Errorf("SubmitReadings of an oversized attestation never returned, and a genuine device reading is blocked behind it (attestMu held by an endless loop)")
	}
}
