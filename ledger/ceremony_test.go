package ledger_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// newProdNet is a test ledger not marked for development.
func newProdNet(t *testing.T) *net {
	t.Helper()
	dir := t.TempDir()
	admin, _ := ledger.NewIdentity("admin")
	node, _ := ledger.NewIdentity("node")
	g := genesis(t, admin, node)
	g.Development = false
	if err := ledger.Init(dir, g); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(dir, node, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := &net{t: t, l: l, dir: dir, admin: admin, node: node, ids: map[string]*ledger.Identity{"admin": admin, "node": node}}
	t.Cleanup(func() { n.l.Close() })
	return n
}

// receipt is contribution index of a ceremony, chained to prev and signed
// by id.
func receipt(id *ledger.Identity, ceremony []byte, index uint32, prev []byte, beacon uint64) *zkv1.ContributionReceipt {
	r := &zkv1.ContributionReceipt{CeremonyId: ceremony, Index: index, Previous: prev, StateHash: h32(id.ID + string(rune('0'+index))), BeaconHeight: beacon}
	ledger.SignReceipt(id, r)
	return r
}

func TestDevelopmentKeysNeedADevelopmentLedger(t *testing.T) {
	dev := &zkv1.RegisterCircuit{CircuitId: h32("subject"), Name: "subject", VkSha256: h32("vk"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}
	p := newProdNet(t)
	if _, err := p.submit("admin", ledger.RegisterCircuit(dev)); !errors.Is(err, ledger.ErrPermission) || !strings.Contains(err.Error(), "not marked for development") {
		t.Fatalf("development keys on a production ledger: %v", err)
	}
	if len(p.l.State().Circuits) != 0 {
		t.Fatal("a refused registration changed the registry")
	}
	d := newNet(t, t.TempDir())
	d.must("admin", ledger.RegisterCircuit(dev))
	if !d.l.State().Development || p.l.State().Development {
		t.Fatal("the development mark is not the genesis's")
	}
}

// plan is a ceremony plan (the fields the ledger reads) for ledger n.
func plan(n *net, beacon uint64, participants []*ledger.Identity, circuits ...string) []byte {
	type pp struct {
		ID  string `json:"id"`
		Key string `json:"public_key"`
	}
	type pc struct {
		Name string `json:"name"`
		ID   string `json:"circuit_id"`
	}
	v := struct {
		Genesis      string `json:"genesis_hash"`
		Beacon       uint64 `json:"beacon_height"`
		Circuits     []pc   `json:"circuits"`
		Participants []pp   `json:"participants"`
		Note         string `json:"note"`
	}{Genesis: hex.EncodeToString(n.l.State().GenesisHash), Beacon: beacon, Note: fmt.Sprint(time.Now().UnixNano())}
	for _, c := range circuits {
		v.Circuits = append(v.Circuits, pc{c, hex.EncodeToString(h32(c))})
	}
	for _, p := range participants {
		v.Participants = append(v.Participants, pp{p.ID, hex.EncodeToString(p.Public())})
	}
	b, _ := json.Marshal(v)
	return b
}

func open(plan []byte) func(*zkv1.TxBody) { return ledger.ProposeAction(ledger.ActOpenCeremony(plan)) }

func attestation(id *ledger.Identity, ceremony, transcript, beacon []byte, keys ...*zkv1.CeremonyKey) *zkv1.KeysAttestation {
	a := &zkv1.KeysAttestation{CeremonyId: ceremony, TranscriptHash: transcript, Beacon: beacon, Keys: keys}
	ledger.SignAttestation(id, a)
	return a
}

func TestCeremonyOnTheLedger(t *testing.T) {
	n := newProdNet(t)
	orgs := []*ledger.Identity{n.join("org1", zkv1.Role_ROLE_HOLDER), n.join("org2", zkv1.Role_ROLE_CONSUMER), n.join("org3", zkv1.Role_ROLE_HOLDER)}
	n.join("relay", zkv1.Role_ROLE_HOLDER)
	stranger, _ := ledger.NewIdentity("stranger")
	beacon := n.l.Head().Height + 14

	// Opening: the plan must be this ledger's, with two or more distinct
	// participants holding their ledger keys, and a beacon to come.
	p := plan(n, beacon, orgs, "subject", "exists")
	cid := func(p []byte) []byte { s := sha256.Sum256(p); return s[:] }(p)
	other := newProdNet(t)
	other.join("org1", zkv1.Role_ROLE_HOLDER)
	wrongKey := *orgs[1]
	wrongKey.Key = stranger.Key
	for _, tc := range []struct {
		name string
		plan []byte
		msg  string
	}{
		{"another ledger's plan", plan(other, beacon, orgs, "subject"), "not this one"},
		{"a beacon in the past", plan(n, 1, orgs, "subject"), "not in the future"},
		{"one participant", plan(n, beacon, orgs[:1], "subject"), "1 participants"},
		{"a participant twice", plan(n, beacon, []*ledger.Identity{orgs[0], orgs[0]}, "subject"), "named twice"},
		{"a stranger", plan(n, beacon, []*ledger.Identity{orgs[0], stranger}, "subject"), "not an active participant"},
		{"a key that is not the ledger's", plan(n, beacon, []*ledger.Identity{orgs[0], &wrongKey}, "subject"), "not an active participant"},
		{"no circuits", plan(n, beacon, orgs), "0 circuits"},
		{"garbage", []byte("{not json"), "ceremony plan"},
	} {
		if _, err := n.submit("admin", open(tc.plan)); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("open %s: %v, want %q", tc.name, err, tc.msg)
		}
	}
	if _, err := n.submit("org1", open(p)); err == nil {
		t.Fatal("a holder opened a ceremony")
	}
	early := receipt(orgs[0], cid, 1, cid, beacon)
	if _, err := n.submit("relay", ledger.RecordContributionTx(early)); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "not open") {
		t.Fatalf("a contribution to a ceremony not opened: %v", err)
	}
	n.must("admin", open(p))
	if _, err := n.submit("admin", open(p)); !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("opening twice: %v", err)
	}

	// Six contributions (each participant once a phase), each relayed by
	// someone else, in the plan's order only.
	prev := cid
	var receipts []*zkv1.ContributionReceipt
	for i := range 2 * len(orgs) {
		if i == 1 {
			if _, err := n.submit("relay", ledger.RecordContributionTx(receipt(orgs[2], cid, 2, prev, beacon))); !errors.Is(err, ledger.ErrPermission) {
				t.Fatalf("org3 taking org2's turn: %v", err)
			}
		}
		r := receipt(orgs[i%3], cid, uint32(i+1), prev, beacon)
		n.must("relay", ledger.RecordContributionTx(r))
		receipts = append(receipts, r)
		prev = ledger.ReceiptHash(r)
	}
	c, ok := n.l.State().CeremonyOf(cid)
	if !ok || !c.Complete() || strings.Join(c.Contributors(), ",") != "org1,org2,org3,org1,org2,org3" || !bytes.Equal(c.Last(), prev) || c.BeaconHeight != beacon {
		t.Fatalf("ceremony record: %+v", c)
	}
	forged := receipt(orgs[0], cid, 7, prev, beacon)
	forged.StateHash = h32("other state")
	if _, err := n.submit("relay", ledger.RecordContributionTx(forged)); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "every contribution") {
		t.Fatalf("a seventh contribution: %v", err)
	}

	// Attesting the keys: only once complete and past the beacon block.
	vk := []byte("a verifying key")
	sum := sha256.Sum256(vk)
	key := &zkv1.CeremonyKey{Name: "subject", CircuitId: h32("subject"), VkSha256: sum[:]}
	ekey := &zkv1.CeremonyKey{Name: "exists", CircuitId: h32("exists"), VkSha256: h32("exists vk")}
	beaconHash := h32("beacon")
	if _, err := n.submit("relay", ledger.AttestCeremonyKeysTx(attestation(orgs[0], cid, prev, beaconHash, key, ekey))); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "not final") {
		t.Fatalf("attesting before the beacon block: %v", err)
	}
	late := receipt(orgs[0], cid, 7, prev, beacon)
	for i := 0; n.l.Head().Height < beacon; i++ {
		n.join(fmt.Sprintf("filler%d", i), zkv1.Role_ROLE_CONSUMER)
	}
	if _, err := n.submit("relay", ledger.RecordContributionTx(late)); !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("a contribution once the beacon block exists: %v", err)
	}
	badSig := attestation(orgs[1], cid, prev, beaconHash, key, ekey)
	badSig.Keys[0] = &zkv1.CeremonyKey{Name: "subject", CircuitId: h32("subject"), VkSha256: h32("forged")}
	for _, tc := range []struct {
		name string
		a    *zkv1.KeysAttestation
		want error
	}{
		{"by a stranger", attestation(stranger, cid, prev, beaconHash, key), ledger.ErrPermission},
		{"altered after signing", badSig, ledger.ErrUnauthenticated},
		{"over an earlier receipt", attestation(orgs[1], cid, ledger.ReceiptHash(receipts[4]), beaconHash, key), ledger.ErrRejected},
		{"of a circuit not planned", attestation(orgs[1], cid, prev, beaconHash, &zkv1.CeremonyKey{Name: "absent", CircuitId: h32("absent"), VkSha256: sum[:]}), ledger.ErrRejected},
		{"of a circuit twice", attestation(orgs[1], cid, prev, beaconHash, key, key), ledger.ErrRejected},
	} {
		if _, err := n.submit("relay", ledger.AttestCeremonyKeysTx(tc.a)); !errors.Is(err, tc.want) {
			t.Errorf("attestation %s: %v, want %v", tc.name, err, tc.want)
		}
	}
	reg := func(name string, id, vk []byte, vkBytes []byte, transcript []byte) func(*zkv1.TxBody) {
		return ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: id, Name: name, VkSha256: vk, Vk: vkBytes,
			Setup: zkv1.SetupKind_SETUP_KIND_CEREMONY, CeremonyId: cid, TranscriptHash: transcript})
	}
	n.must("relay", ledger.AttestCeremonyKeysTx(attestation(orgs[0], cid, prev, beaconHash, key, ekey)))
	if _, err := n.submit("relay", ledger.AttestCeremonyKeysTx(attestation(orgs[0], cid, prev, beaconHash, key, ekey))); !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("attesting twice: %v", err)
	}
	if _, err := n.submit("relay", ledger.AttestCeremonyKeysTx(attestation(orgs[1], cid, prev, beaconHash, key))); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "disputed") {
		t.Fatalf("attesting other keys than the first attester: %v", err)
	}
	n.must("relay", ledger.AttestCeremonyKeysTx(attestation(orgs[1], cid, prev, beaconHash, key, ekey)))
	if _, err := n.submit("admin", reg("subject", h32("subject"), sum[:], vk, prev)); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "2 of 3 attested") {
		t.Fatalf("registering before every participant attested: %v", err)
	}
	n.must("relay", ledger.AttestCeremonyKeysTx(attestation(orgs[2], cid, prev, beaconHash, key, ekey)))

	// Ceremony keys: only the attested ones, over the last receipt.
	for _, tc := range []struct {
		name   string
		tx     func(*zkv1.TxBody)
		msg    string
		reason error
	}{
		{"keys nobody attested", reg("subject", h32("subject"), h32("a dev key"), nil, prev), "have not all attested", ledger.ErrRejected},
		{"attested keys under another name", reg("absent", h32("subject"), sum[:], vk, prev), "have not all attested", ledger.ErrRejected},
		{"not the last receipt", reg("subject", h32("subject"), sum[:], vk, ledger.ReceiptHash(receipts[1])), "last recorded contribution", ledger.ErrRejected},
		{"a verifying key that is not vk_sha256's", reg("subject", h32("subject"), sum[:], []byte("other"), prev), "does not hash", ledger.ErrRejected},
	} {
		if _, err := n.submit("admin", tc.tx); !errors.Is(err, tc.reason) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	n.must("admin", reg("subject", h32("subject"), sum[:], vk, prev))
	e, ok := n.l.State().CircuitVersion(h32("subject"), sum[:])
	if !ok || e.Version != 1 || strings.Join(e.Contributors, ",") != "org1,org2,org3,org1,org2,org3" || !bytes.Equal(e.TranscriptHash, prev) || !bytes.Equal(e.CeremonyID, cid) || !bytes.Equal(e.VK, vk) {
		t.Fatalf("registry entry: %+v", e)
	}
	if _, err := n.submit("admin", reg("subject", h32("subject"), sum[:], vk, prev)); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "is registered") {
		t.Fatalf("the same keys twice: %v", err)
	}

	// The record and the entry survive a restart, and the chain verifies.
	n.l.Close()
	l, err := ledger.Open(n.dir, n.node, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n.l = l
	if c2, _ := n.l.State().CeremonyOf(cid); !c2.Attested() || len(c2.Contributed) != 6 {
		t.Fatalf("after reopen: %+v", c2)
	}
	if err := n.l.Verify(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestCircuitVersions(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.join("agency", zkv1.Role_ROLE_HOLDER)
	v1 := &zkv1.RegisterCircuit{CircuitId: h32("subject/1"), Name: "subject", VkSha256: h32("vk1"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}
	same := &zkv1.RegisterCircuit{CircuitId: h32("subject/1"), Name: "subject", VkSha256: h32("vk1b"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}
	v3 := &zkv1.RegisterCircuit{CircuitId: h32("subject/2"), Name: "subject", VkSha256: h32("vk2"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}
	other := &zkv1.RegisterCircuit{CircuitId: h32("exists"), Name: "exists", VkSha256: h32("vk-e"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}
	for _, r := range []*zkv1.RegisterCircuit{v1, same, v3, other} {
		n.must("admin", ledger.RegisterCircuit(r))
	}
	st := n.l.State()
	for _, tc := range []struct {
		r    *zkv1.RegisterCircuit
		want uint32
	}{{v1, 1}, {same, 2}, {v3, 3}, {other, 1}} {
		if c, ok := st.CircuitVersion(tc.r.GetCircuitId(), tc.r.GetVkSha256()); !ok || c.Version != tc.want {
			t.Errorf("%s %x: version %d, want %d", tc.r.GetName(), tc.r.GetVkSha256()[:4], c.Version, tc.want)
		}
	}
	if c, _ := st.LatestCircuit(h32("subject/1")); c.Version != 2 {
		t.Errorf("latest of subject/1: version %d, want 2", c.Version)
	}

	retire := ledger.RetireCircuitTx(&zkv1.RetireCircuit{CircuitId: v1.GetCircuitId(), VkSha256: v1.GetVkSha256()})
	if _, err := n.submit("agency", retire); !errors.Is(err, ledger.ErrPermission) {
		t.Fatalf("a holder retires a circuit: %v", err)
	}
	n.must("admin", retire)
	if c, _ := n.l.State().CircuitVersion(v1.GetCircuitId(), v1.GetVkSha256()); c.RetiredAt == 0 {
		t.Fatal("retired version has no retirement height")
	}
	if _, err := n.submit("admin", retire); !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("retiring twice: %v", err)
	}
	if _, err := n.submit("admin", ledger.RetireCircuitTx(&zkv1.RetireCircuit{CircuitId: h32("nope"), VkSha256: h32("nope")})); !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("retiring an unknown version: %v", err)
	}
	// The other versions are untouched, and a new collection may still
	// name the circuit (its newest version is live).
	if c, _ := n.l.State().CircuitVersion(same.GetCircuitId(), same.GetVkSha256()); c.RetiredAt != 0 {
		t.Fatal("retiring one version retired another")
	}
	list := n.l.State().CircuitList()
	if len(list) != 4 || list[0].Name != "exists" || list[1].Version != 1 || list[3].Version != 3 {
		t.Fatalf("registry list: %+v", list)
	}
}
