package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zkshare/zkshare/device"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// TestDeviceEndorsements: a holder may register a key it made itself and
// sign any "reading" with it (found in review): the ledger cannot tell a
// sensor's key from one on the holder's server. What it can do is say who
// besides the holder vouches for a key; a verdict warns of a device no one
// else endorses.
func TestDeviceEndorsements(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.setup(nil, 0)
	s := n.fleet("fridge-1")
	n.join("inspector", zkv1.Role_ROLE_CONSUMER)
	mine, _ := device.GenerateKey(nil)
	s.keys["fridge-fake"] = mine
	n.must("agency", ledger.RegisterDeviceTx(&zkv1.RegisterDevice{Id: "fridge-fake", PublicKey: mine.Public(), CollectionId: fridgeID, Proof: consent(t, mine, "fridge-fake", fridgeID, "agency")}))
	if _, err := n.attest("agency", s.reading("fridge-fake", 1, time.Now())); err != nil {
		t.Fatal(err)
	}
	n.must("inspector", ledger.EndorseDeviceTx("fridge-1"))
	st := n.l.State()
	if got := st.Devices["fridge-1"].Endorsers; len(got) != 1 || got[0] != "inspector" {
		t.Fatalf("fridge-1 endorsers %v", got)
	}
	if d := st.Devices["fridge-fake"]; len(d.Endorsers) != 0 || d.Operator != "agency" {
		t.Fatalf("the holder-made key shows endorsers %v", d.Endorsers)
	}
	for _, tt := range []struct {
		name, sender, id string
		want             error
	}{
		{"by its operator", "agency", "fridge-fake", ledger.ErrPermission},
		{"twice", "inspector", "fridge-1", ledger.ErrRejected},
		{"an unknown device", "inspector", "fridge-9", ledger.ErrRejected},
	} {
		if _, err := n.submit(tt.sender, ledger.EndorseDeviceTx(tt.id)); !errors.Is(err, tt.want) {
			t.Errorf("endorse %s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	n.must("agency", ledger.RevokeDeviceTx("fridge-fake"))
	if _, err := n.submit("inspector", ledger.EndorseDeviceTx("fridge-fake")); !errors.Is(err, ledger.ErrRejected) {
		t.Errorf("endorse a revoked device: %v", err)
	}
	if d := n.l.State().Devices["fridge-fake"]; d.Proto("agency/fridges").GetRevokedHeight() == 0 {
		t.Error("a revoked device shows no revocation height")
	}
}

// TestDeviceInterval: a device states in its consent how often it
// reports, so a verdict can warn when it falls silent (a holder that drops
// a device's newest readings leaves no counter gap: found in review).
func TestDeviceInterval(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.setup(nil, 0)
	n.fleet()
	k, _ := device.GenerateKey(nil)
	hour := uint64(time.Hour.Milliseconds())
	proof, err := k.SignRegistration("fridge-1", fridgeID, "agency", hour)
	if err != nil {
		t.Fatal(err)
	}
	// The holder cannot state another interval than the device's.
	if _, err := n.submit("agency", ledger.RegisterDeviceTx(&zkv1.RegisterDevice{Id: "fridge-1", PublicKey: k.Public(), CollectionId: fridgeID, Proof: proof, ReportIntervalMs: 10 * hour})); !errors.Is(err, ledger.ErrUnauthenticated) {
		t.Fatalf("another interval than the consented one: %v", err)
	}
	n.must("agency", ledger.RegisterDeviceTx(&zkv1.RegisterDevice{Id: "fridge-1", PublicKey: k.Public(), CollectionId: fridgeID, Proof: proof, ReportIntervalMs: hour}))
	if d := n.l.State().Devices["fridge-1"]; d.Proto("agency/fridges").GetReportIntervalMs() != hour {
		got := d.IntervalMs
		t.Fatalf("interval %d", got)
	}
}

// TestAttackDeviceIDSquatting: device ids are global, first come first
// served, and registration needs no proof that the registrant's
// collection is the device's (the device never signs its registration, and
// its attestations do not name the collection). Another holder who learns
// a sensor's id and public key (both public once used, or from the
// mempool) registers them first: the real holder can no longer register
// its own sensor, and the sensor's genuine readings are attested into the
// squatter's collection.
func TestAttackDeviceIDSquatting(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.setup(nil, 0)
	s := n.fleet()
	n.join("rival", zkv1.Role_ROLE_HOLDER)
	rivalID := ledger.CollectionID("rival/fridges")
	n.must("rival", ledger.RegisterCollection(&zkv1.RegisterCollection{
		CollectionId: rivalID, Name: "rival/fridges", SchemaHash: h32("schema"), TreeDepth: 64,
		CircuitIds: [][]byte{h32("subject")}, DeviceFed: true,
	}))
	// agency's sensor, provisioned as "fridge-7".
	k, _ := device.GenerateKey(nil)
	s.keys["fridge-7"] = k
	// rival front-runs agency's registration with the sensor's id and key,
	// replaying the consent agency's registration carries (seen in the
	// mempool), or with none.
	for _, proof := range [][]byte{consent(t, k, "fridge-7", fridgeID, "agency"), nil} {
		if _, err := n.submit("rival", ledger.RegisterDeviceTx(&zkv1.RegisterDevice{Id: "fridge-7", PublicKey: k.Public(), CollectionId: rivalID, Proof: proof})); err == nil {
			break
		}
	}
	_, regErr := n.submit("agency", ledger.RegisterDeviceTx(&zkv1.RegisterDevice{Id: "fridge-7", PublicKey: k.Public(), CollectionId: fridgeID, Proof: consent(t, k, "fridge-7", fridgeID, "agency")}))
	// The sensor's genuine reading now lands in rival's collection.
	a := s.reading("fridge-7", 1, time.Now())
	plan, planErr := n.l.State().PlanAttestations(context.Background(), rivalID, []*zkv1.Attestation{a}, time.Now().UnixMilli())
	if planErr == nil {
		_, planErr = n.submit("rival", ledger.AttestReadingsTx(plan, []*zkv1.Attestation{a}))
	}
	if planErr == nil {
		t.Errorf("another holder registered agency's sensor (id and key) without the device's consent; agency's own registration: %v; the sensor's genuine reading was attested into rival's collection", regErr)
	}
}

// TestAttackSetConfirmersOnDeviceFed: registration refuses confirmers on
// a device-fed collection ("its anchors are the ledger's own"), but a
// SetConfirmers proposal is accepted for one. The collection then lists
// confirmers and a required count that attest() ignores: its anchors
// count at once, and a ConfirmAnchor always fails.
func TestAttackSetConfirmersOnDeviceFed(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.setup(nil, 0)
	s := n.fleet("fridge-1")
	n.join("auditor", zkv1.Role_ROLE_HOLDER)
	set := ledger.ActSetConfirmers(&zkv1.SetConfirmers{CollectionId: fridgeID, Confirmers: []string{"auditor"}, ConfirmationsRequired: 1})
	if _, err := n.submit("agency", ledger.ProposeAction(set)); err != nil {
		if errors.Is(err, ledger.ErrRejected) {
			return // refused, as registration refuses it
		}
		t.Fatalf("propose: %v", err)
	}
	id, err := ledger.ProposalID(set)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.submit("admin", ledger.ApproveProposal(id)); err != nil {
		t.Logf("approve: %v", err)
	}
	c := n.fridges()
	if c.Required == 0 {
		return
	}
	a := s.reading("fridge-1", 1, time.Now())
	if _, err := n.attest("agency", a); err != nil {
		t.Fatal(err)
	}
	c = n.fridges()
	t.Errorf("a device-fed collection took confirmers (%v, %d required), which attest ignores: anchor %d counts with no confirmation (pending %d)",
		c.Confirmers, c.Required, c.Latest.Sequence, len(c.Pending))
}
