package ledger_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

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

func TestCeremonyOnTheLedger(t *testing.T) {
	n := newProdNet(t)
	orgs := []*ledger.Identity{n.join("org1", zkv1.Role_ROLE_HOLDER), n.join("org2", zkv1.Role_ROLE_CONSUMER), n.join("org3", zkv1.Role_ROLE_HOLDER)}
	n.join("relay", zkv1.Role_ROLE_HOLDER)
	cid := h32("ceremony plan")
	beacon := n.l.Head().Height + 12

	// Three contributions, each relayed by someone else.
	prev := cid
	var receipts []*zkv1.ContributionReceipt
	for i, o := range orgs {
		r := receipt(o, cid, uint32(i+1), prev, beacon)
		n.must("relay", ledger.RecordContributionTx(r))
		receipts = append(receipts, r)
		prev = ledger.ReceiptHash(r)
	}
	c, ok := n.l.State().CeremonyOf(cid)
	if !ok || len(c.Contributed) != 3 || strings.Join(c.Contributors(), ",") != "org1,org2,org3" || string(c.Last()) != string(prev) || c.BeaconHeight != beacon {
		t.Fatalf("ceremony record: %+v", c)
	}

	stranger, _ := ledger.NewIdentity("stranger")
	forged := receipt(orgs[0], cid, 4, prev, beacon)
	forged.StateHash = h32("other state")
	refused := []struct {
		name string
		r    *zkv1.ContributionReceipt
		want error
		msg  string
	}{
		{"altered after signing", forged, ledger.ErrUnauthenticated, "not signed by"},
		{"unknown contributor", receipt(stranger, cid, 4, prev, beacon), ledger.ErrUnauthenticated, "not an active participant"},
		{"skips an index", receipt(orgs[0], cid, 5, prev, beacon), ledger.ErrRejected, "next is 4"},
		{"repeats an index", receipt(orgs[0], cid, 3, ledger.ReceiptHash(receipts[1]), beacon), ledger.ErrRejected, "next is 4"},
		{"forks the chain", receipt(orgs[0], cid, 4, ledger.ReceiptHash(receipts[1]), beacon), ledger.ErrRejected, "next is 4"},
		{"moves the beacon", receipt(orgs[0], cid, 4, prev, beacon+100), ledger.ErrRejected, "beacon height"},
		{"no ceremony id", receipt(orgs[0], nil, 4, prev, beacon), ledger.ErrRejected, "ceremony_id"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			before := n.l.Head().Height
			if _, err := n.submit("relay", ledger.RecordContributionTx(tc.r)); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v (%q)", err, tc.want, tc.msg)
			}
			if c, _ := n.l.State().CeremonyOf(cid); n.l.Head().Height != before || len(c.Contributed) != 3 {
				t.Fatal("a refused contribution changed the ledger")
			}
		})
	}

	// Ceremony keys: the registration must name the recorded ceremony and
	// its last receipt, after the beacon block.
	vk := []byte("a verifying key")
	sum := sha256.Sum256(vk)
	reg := func(ceremony, transcript []byte) func(*zkv1.TxBody) {
		return ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("subject"), Name: "subject", VkSha256: sum[:], Vk: vk,
			Setup: zkv1.SetupKind_SETUP_KIND_CEREMONY, CeremonyId: ceremony, TranscriptHash: transcript})
	}
	if _, err := n.submit("admin", reg(cid, prev)); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "does not exist yet") {
		t.Fatalf("registration before the beacon block: %v", err)
	}
	for i := 0; n.l.Head().Height < beacon; i++ {
		n.join(fmt.Sprintf("filler%d", i), zkv1.Role_ROLE_CONSUMER)
	}
	late := receipt(orgs[0], cid, 4, prev, beacon)
	if _, err := n.submit("relay", ledger.RecordContributionTx(late)); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "beacon block") {
		t.Fatalf("a contribution once the beacon block exists: %v", err)
	}
	for _, tc := range []struct {
		name             string
		ceremony, transc []byte
		msg              string
	}{
		{"unknown ceremony", h32("other"), prev, "no contributions"},
		{"not the last receipt", cid, ledger.ReceiptHash(receipts[1]), "last recorded contribution"},
	} {
		if _, err := n.submit("admin", reg(tc.ceremony, tc.transc)); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	bad := &zkv1.RegisterCircuit{CircuitId: h32("subject"), Name: "subject", VkSha256: h32("not it"), Vk: vk, Setup: zkv1.SetupKind_SETUP_KIND_CEREMONY, CeremonyId: cid, TranscriptHash: prev}
	if _, err := n.submit("admin", ledger.RegisterCircuit(bad)); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "does not hash") {
		t.Errorf("a verifying key that is not vk_sha256's: %v", err)
	}
	n.must("admin", reg(cid, prev))
	e, ok := n.l.State().CircuitVersion(h32("subject"), sum[:])
	if !ok || e.Version != 1 || strings.Join(e.Contributors, ",") != "org1,org2,org3" || string(e.TranscriptHash) != string(prev) || string(e.CeremonyID) != string(cid) || string(e.VK) != string(vk) {
		t.Fatalf("registry entry: %+v", e)
	}
	if _, err := n.submit("admin", reg(cid, prev)); !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "is registered") {
		t.Fatalf("the same keys twice: %v", err)
	}

	// The record and the entry survive a restart, and the chain verifies.
	n.l.Close()
	l, err := ledger.Open(n.dir, n.node, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n.l = l
	if c2, _ := n.l.State().CeremonyOf(cid); len(c2.Contributed) != 3 {
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
