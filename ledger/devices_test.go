package ledger_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/device"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/tree"
	"github.com/zkshare/zkshare/zkhash"
)

var fridgeID = ledger.CollectionID("agency/fridges")

// sensors is a test fleet: device keys by id, and the leaves attested so
// far, rebuilt independently of the ledger.
type sensors struct {
	t      testing.TB
	keys   map[string]*device.Key
	expect *tree.Memory
}

// fleet registers a device-fed collection of agency and devices for it.
func (n *net) fleet(ids ...string) *sensors {
	n.t.Helper()
	n.must("agency", ledger.RegisterCollection(&zkv1.RegisterCollection{
		CollectionId: fridgeID, Name: "agency/fridges", SchemaHash: h32("schema"), TreeDepth: 64,
		CircuitIds: [][]byte{h32("subject")}, DeviceFed: true,
	}))
	s := &sensors{t: n.t, keys: map[string]*device.Key{}, expect: tree.NewMemory()}
	for _, id := range ids {
		k, err := device.GenerateKey(nil)
		if err != nil {
			n.t.Fatal(err)
		}
		s.keys[id] = k
		n.must("agency", ledger.RegisterDeviceTx(&zkv1.RegisterDevice{Id: id, PublicKey: k.Public(), CollectionId: fridgeID, Model: "t-100", Proof: consent(n.t, k, id, fridgeID, "agency")}))
	}
	return s
}

// consent is device key k's signature over its registration.
func consent(t testing.TB, k *device.Key, id string, coll []byte, operator string) []byte {
	t.Helper()
	p, err := k.SignRegistration(id, coll, operator, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// reading is device id's signed attestation of counter over a random leaf.
func (s *sensors) reading(id string, counter uint64, at time.Time) *zkv1.Attestation {
	s.t.Helper()
	var leaf fr.Element
	leaf.MustSetRandom()
	lb := leaf.Bytes()
	a := &zkv1.Attestation{DeviceId: id, Counter: counter, TimeUnixMs: at.UnixMilli(), Commitment: lb[:]}
	if err := s.keys[id].Sign(a); err != nil {
		s.t.Fatal(err)
	}
	return a
}

// accepted records attestations the ledger took, in the independent tree.
func (s *sensors) accepted(as ...*zkv1.Attestation) {
	s.t.Helper()
	ch := make([]tree.Change, len(as))
	for i, a := range as {
		var leaf fr.Element
		_ = leaf.SetBytesCanonical(a.GetCommitment())
		key := device.ReadingKey(a.GetDeviceId(), a.GetCounter())
		ch[i] = tree.Change{Op: tree.Insert, Path: zkhash.KeyPath(zkhash.KeyDigest(key)), Leaf: leaf, Ref: key}
	}
	if _, err := tree.Apply(context.Background(), s.expect, ch); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sensors) root() []byte {
	r, err := tree.Root(s.expect)
	if err != nil {
		s.t.Fatal(err)
	}
	b := r.Bytes()
	return b[:]
}

// attest relays attestations as sender with the anchor the ledger plans.
func (n *net) attest(sender string, as ...*zkv1.Attestation) (*ledger.Receipt, error) {
	n.t.Helper()
	a, err := n.l.State().PlanAttestations(context.Background(), fridgeID, as, time.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	return n.submit(sender, ledger.AttestReadingsTx(a, as))
}

func (n *net) fridges() ledger.Collection {
	return n.l.State().Collections[hex.EncodeToString(fridgeID)]
}

func TestDeviceReadings(t *testing.T) {
	dir := t.TempDir()
	n := newNet(t, dir)
	n.setup(nil, 0)
	s := n.fleet("fridge-1", "fridge-2")
	now := time.Now()
	batch := []*zkv1.Attestation{s.reading("fridge-1", 1, now), s.reading("fridge-2", 1, now), s.reading("fridge-1", 2, now)}
	// Anyone active may relay: the signatures are the devices'.
	r, err := n.attest("bank", batch...)
	if err != nil {
		t.Fatal(err)
	}
	s.accepted(batch...)
	c := n.fridges()
	if c.Latest == nil || c.Latest.Sequence != 1 || c.Latest.RecordCount != 3 || !bytes.Equal(c.Latest.Root, s.root()) {
		t.Fatalf("anchor after the first batch: %+v", c.Latest)
	}
	e, err := n.l.AnchorBySequence(fridgeID, 1)
	if err != nil || e.Tx.Hash != r.Hash || !bytes.Equal(ledger.AnchorOf(e.Tx.Body).GetRoot(), s.root()) {
		t.Fatalf("anchor 1 by sequence: %v", err)
	}
	// A gap: fridge-2 skips 2..4.
	more := []*zkv1.Attestation{s.reading("fridge-2", 5, now), s.reading("fridge-1", 3, now)}
	if _, err := n.attest("agency", more...); err != nil {
		t.Fatal(err)
	}
	s.accepted(more...)
	d := n.l.State().Devices["fridge-2"]
	if d.LastCounter != 5 || d.Readings != 2 || d.Missing != 3 || len(d.Gaps) != 1 || d.Gaps[0] != (ledger.CounterGap{First: 2, Last: 4}) {
		t.Fatalf("fridge-2 after a gap: %+v", d)
	}

	// The tree and counters survive a reopen, and the next batch extends them.
	if err := n.l.Close(); err != nil {
		t.Fatal(err)
	}
	if n.l, err = ledger.Open(dir, n.node, ledger.Options{}); err != nil {
		t.Fatal(err)
	}
	last := []*zkv1.Attestation{s.reading("fridge-1", 4, now)}
	if _, err := n.attest("agency", last...); err != nil {
		t.Fatal(err)
	}
	s.accepted(last...)
	if c := n.fridges(); c.Latest.Sequence != 3 || c.Latest.RecordCount != 6 || !bytes.Equal(c.Latest.Root, s.root()) {
		t.Fatalf("anchor after reopening: %+v", c.Latest)
	}
	if err := n.l.Verify(context.Background(), nil); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

func TestDeviceRefusals(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.setup(nil, 0)
	s := n.fleet("fridge-1", "fridge-2", "fridge-3")
	n.join("other", zkv1.Role_ROLE_HOLDER)
	now := time.Now()
	first := s.reading("fridge-1", 1, now)
	if _, err := n.attest("agency", first); err != nil {
		t.Fatal(err)
	}
	s.accepted(first)
	n.must("agency", ledger.RevokeDeviceTx("fridge-3"))
	stranger, _ := device.GenerateKey(nil)

	tests := []struct {
		name string
		as   func() []*zkv1.Attestation
		want error
	}{
		{"unknown device", func() []*zkv1.Attestation {
			s.keys["ghost"] = stranger
			return []*zkv1.Attestation{s.reading("ghost", 1, now)}
		}, ledger.ErrUnauthenticated},
		{"revoked device", func() []*zkv1.Attestation { return []*zkv1.Attestation{s.reading("fridge-3", 1, now)} }, ledger.ErrUnauthenticated},
		{"impersonated device", func() []*zkv1.Attestation {
			a := s.reading("fridge-2", 1, now)
			if err := stranger.Sign(a); err != nil {
				t.Fatal(err)
			}
			return []*zkv1.Attestation{a}
		}, ledger.ErrUnauthenticated},
		{"commitment altered after signing", func() []*zkv1.Attestation {
			a, b := s.reading("fridge-2", 1, now), s.reading("fridge-2", 1, now)
			a.Commitment = b.Commitment
			return []*zkv1.Attestation{a}
		}, ledger.ErrUnauthenticated},
		{"replayed counter", func() []*zkv1.Attestation { return []*zkv1.Attestation{first} }, ledger.ErrRejected},
		{"same counter, new reading", func() []*zkv1.Attestation { return []*zkv1.Attestation{s.reading("fridge-1", 1, now)} }, ledger.ErrRejected},
		{"out of order in a batch", func() []*zkv1.Attestation {
			return []*zkv1.Attestation{s.reading("fridge-2", 3, now), s.reading("fridge-2", 2, now)}
		}, ledger.ErrRejected},
		{"a good reading, then a bad one", func() []*zkv1.Attestation {
			return []*zkv1.Attestation{s.reading("fridge-2", 1, now), s.reading("fridge-1", 1, now)}
		}, ledger.ErrRejected},
		{"time too far ahead", func() []*zkv1.Attestation {
			return []*zkv1.Attestation{s.reading("fridge-2", 1, now.Add(time.Hour))}
		}, ledger.ErrRejected},
		{"time too far back", func() []*zkv1.Attestation {
			return []*zkv1.Attestation{s.reading("fridge-2", 1, now.Add(-time.Hour))}
		}, ledger.ErrRejected},
		{"no attestations", func() []*zkv1.Attestation { return nil }, ledger.ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := n.l.State()
			as := tt.as()
			// Planned as a relayer would: the plan refuses it...
			if _, err := before.PlanAttestations(context.Background(), fridgeID, as, now.UnixMilli()); !errors.Is(err, tt.want) {
				t.Fatalf("plan: got %v, want %v", err, tt.want)
			}
			// ...and so does the ledger, given the last anchor's successor.
			c := n.fridges()
			a := &zkv1.Anchor{CollectionId: fridgeID, Sequence: c.Last.Sequence + 1, PreviousRoot: c.Last.Root, Root: c.Last.Root, RecordCount: c.Last.RecordCount + uint64(len(as))}
			if _, err := n.submit("agency", ledger.AttestReadingsTx(a, as)); !errors.Is(err, tt.want) {
				t.Fatalf("submit: got %v, want %v", err, tt.want)
			}
			after := n.l.State()
			if !bytes.Equal(n.fridges().Latest.Root, s.root()) || after.Devices["fridge-2"].LastCounter != 0 || after.Devices["fridge-1"].LastCounter != 1 {
				t.Fatal("a refused batch changed the collection or a device")
			}
		})
	}

	// The relayer's anchor must be the one the readings make.
	good := s.reading("fridge-2", 1, now)
	plan, err := n.l.State().PlanAttestations(context.Background(), fridgeID, []*zkv1.Attestation{good}, now.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	other := s.reading("fridge-2", 2, now)
	for name, change := range map[string]func(a *zkv1.Anchor){
		"root":          func(a *zkv1.Anchor) { a.Root = other.Commitment },
		"record count":  func(a *zkv1.Anchor) { a.RecordCount++ },
		"sequence":      func(a *zkv1.Anchor) { a.Sequence++ },
		"previous root": func(a *zkv1.Anchor) { a.PreviousRoot = nil },
		"columns":       func(a *zkv1.Anchor) { a.Columns = h32("c") },
	} {
		a := &zkv1.Anchor{CollectionId: plan.CollectionId, Root: plan.Root, RecordCount: plan.RecordCount, Sequence: plan.Sequence, PreviousRoot: plan.PreviousRoot}
		change(a)
		if _, err := n.submit("agency", ledger.AttestReadingsTx(a, []*zkv1.Attestation{good})); !errors.Is(err, ledger.ErrRejected) {
			t.Errorf("anchor with a wrong %s: %v", name, err)
		}
	}

	// The holder never anchors a device-fed collection itself.
	c := n.fridges()
	if _, err := n.submit("agency", ledger.AnchorRoot(&zkv1.Anchor{CollectionId: fridgeID, Root: h32("forged"), Sequence: c.Last.Sequence + 1, PreviousRoot: c.Last.Root, RecordCount: 1})); !errors.Is(err, ledger.ErrPermission) {
		t.Errorf("holder anchor of a device-fed collection: %v", err)
	}
	// Registration and revocation are the collection's holder's.
	k, _ := device.GenerateKey(nil)
	regs := []struct {
		name   string
		sender string
		r      *zkv1.RegisterDevice
		want   error
	}{
		{"another holder", "other", &zkv1.RegisterDevice{Id: "fridge-9", PublicKey: k.Public(), CollectionId: fridgeID, Proof: consent(t, k, "fridge-9", fridgeID, "other")}, ledger.ErrPermission},
		{"a consumer", "bank", &zkv1.RegisterDevice{Id: "fridge-9", PublicKey: k.Public(), CollectionId: fridgeID, Proof: consent(t, k, "fridge-9", fridgeID, "bank")}, ledger.ErrPermission},
		{"a taken id", "agency", &zkv1.RegisterDevice{Id: "fridge-3", PublicKey: k.Public(), CollectionId: fridgeID, Proof: consent(t, k, "fridge-3", fridgeID, "agency")}, ledger.ErrRejected},
		{"a taken key", "agency", &zkv1.RegisterDevice{Id: "fridge-9", PublicKey: s.keys["fridge-1"].Public(), CollectionId: fridgeID, Proof: consent(t, s.keys["fridge-1"], "fridge-9", fridgeID, "agency")}, ledger.ErrRejected},
		{"a bad key", "agency", &zkv1.RegisterDevice{Id: "fridge-9", PublicKey: h32("k"), CollectionId: fridgeID}, ledger.ErrRejected},
		{"a bad id", "agency", &zkv1.RegisterDevice{Id: "Fridge/9", PublicKey: k.Public(), CollectionId: fridgeID, Proof: consent(t, k, "Fridge/9", fridgeID, "agency")}, ledger.ErrRejected},
		{"a collection not device-fed", "agency", &zkv1.RegisterDevice{Id: "fridge-9", PublicKey: k.Public(), CollectionId: benefitsID, Proof: consent(t, k, "fridge-9", benefitsID, "agency")}, ledger.ErrRejected},
		// Without the device's consent, or with consent to another
		// registration, no one can register a sensor.
		{"no consent", "agency", &zkv1.RegisterDevice{Id: "fridge-9", PublicKey: k.Public(), CollectionId: fridgeID}, ledger.ErrUnauthenticated},
		{"consent to another id", "agency", &zkv1.RegisterDevice{Id: "fridge-9", PublicKey: k.Public(), CollectionId: fridgeID, Proof: consent(t, k, "fridge-8", fridgeID, "agency")}, ledger.ErrUnauthenticated},
		{"consent to another holder", "agency", &zkv1.RegisterDevice{Id: "fridge-9", PublicKey: k.Public(), CollectionId: fridgeID, Proof: consent(t, k, "fridge-9", fridgeID, "other")}, ledger.ErrUnauthenticated},
		{"consent to another collection", "agency", &zkv1.RegisterDevice{Id: "fridge-9", PublicKey: k.Public(), CollectionId: fridgeID, Proof: consent(t, k, "fridge-9", benefitsID, "agency")}, ledger.ErrUnauthenticated},
		{"consent by another key", "agency", &zkv1.RegisterDevice{Id: "fridge-9", PublicKey: k.Public(), CollectionId: fridgeID, Proof: consent(t, s.keys["fridge-2"], "fridge-9", fridgeID, "agency")}, ledger.ErrUnauthenticated},
	}
	for _, r := range regs {
		if _, err := n.submit(r.sender, ledger.RegisterDeviceTx(r.r)); !errors.Is(err, r.want) {
			t.Errorf("register by %s: got %v, want %v", r.name, err, r.want)
		}
	}
	if _, err := n.submit("other", ledger.RevokeDeviceTx("fridge-1")); !errors.Is(err, ledger.ErrPermission) {
		t.Errorf("revoke by another holder: %v", err)
	}
	if _, err := n.submit("agency", ledger.RevokeDeviceTx("fridge-3")); !errors.Is(err, ledger.ErrRejected) {
		t.Errorf("revoke twice: %v", err)
	}
	// A device-fed collection has no confirmers.
	if _, err := n.submit("agency", ledger.RegisterCollection(&zkv1.RegisterCollection{
		CollectionId: ledger.CollectionID("agency/fridges2"), Name: "agency/fridges2", SchemaHash: h32("schema"), TreeDepth: 64,
		CircuitIds: [][]byte{h32("subject")}, DeviceFed: true, Confirmers: []string{"other"}, ConfirmationsRequired: 1,
	})); !errors.Is(err, ledger.ErrRejected) {
		t.Errorf("device-fed collection with confirmers: %v", err)
	}
}

// TestDeviceReplicas: replicas that finalize the same attestations (as
// under the consensus engine) build the same tree and state hash.
func TestDeviceReplicas(t *testing.T) {
	admin, _ := ledger.NewIdentity("admin")
	node, _ := ledger.NewIdentity("node")
	g := genesis(t, admin, node)
	var ls []*ledger.Ledger
	for range 2 {
		dir := t.TempDir()
		if err := ledger.Init(dir, g); err != nil {
			t.Fatal(err)
		}
		l, err := ledger.Open(dir, node, ledger.Options{Broadcast: func(context.Context, []byte) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ls = append(ls, l)
	}
	n := &net{t: t, l: ls[0], admin: admin, node: node, ids: map[string]*ledger.Identity{"admin": admin, "node": node}}
	height := uint64(0)
	// run finalizes one transaction on every replica and commits it.
	run := func(tx *ledger.Tx) {
		t.Helper()
		height++
		var hashes [][]byte
		at := time.Now().UnixMilli()
		for _, l := range ls {
			res, h, err := l.Finalize(height, at, "node", [][]byte{tx.Raw})
			if err != nil || res[0] != nil {
				t.Fatalf("finalize: %v %v", err, res)
			}
			if err := l.Commit(); err != nil {
				t.Fatal(err)
			}
			hashes = append(hashes, h)
		}
		if !bytes.Equal(hashes[0], hashes[1]) {
			t.Fatalf("height %d: replicas disagree", height)
		}
	}
	must := func(sender string, kind func(*zkv1.TxBody)) { run(n.tx(sender, kind)) }
	holder, _ := ledger.NewIdentity("agency")
	n.ids["agency"] = holder
	must("admin", ledger.RegisterParticipant("agency", zkv1.Role_ROLE_HOLDER, holder.Public()))
	must("admin", ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("subject"), Name: "subject", VkSha256: h32("vk"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}))
	s := &sensors{t: t, keys: map[string]*device.Key{}, expect: tree.NewMemory()}
	must("agency", ledger.RegisterCollection(&zkv1.RegisterCollection{CollectionId: fridgeID, Name: "agency/fridges", SchemaHash: h32("schema"), TreeDepth: 64, CircuitIds: [][]byte{h32("subject")}, DeviceFed: true}))
	k, _ := device.GenerateKey(nil)
	s.keys["fridge-1"] = k
	must("agency", ledger.RegisterDeviceTx(&zkv1.RegisterDevice{Id: "fridge-1", PublicKey: k.Public(), CollectionId: fridgeID, Proof: consent(t, k, "fridge-1", fridgeID, "agency")}))
	for round := range 3 {
		var as []*zkv1.Attestation
		for i := range 20 {
			as = append(as, s.reading("fridge-1", uint64(round*20+i+1), time.Now()))
		}
		plan, err := ls[0].State().PlanAttestations(context.Background(), fridgeID, as, time.Now().UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		must("agency", ledger.AttestReadingsTx(plan, as))
		s.accepted(as...)
	}
	for i, l := range ls {
		c := l.State().Collections[hex.EncodeToString(fridgeID)]
		if !bytes.Equal(c.Latest.Root, s.root()) || c.Latest.RecordCount != 60 {
			t.Fatalf("replica %d: root or count differs from the fleet's tree", i)
		}
		if err := l.Verify(context.Background(), nil); err != nil {
			t.Fatalf("replica %d: verify: %v", i, err)
		}
	}
}
