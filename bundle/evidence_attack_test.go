package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/verifier"
)

// review2-12 finding 1: the key index (pk/) holds only direct
// RegisterParticipant and RotateKey transactions. A holder key replaced by
// a governance proposal (ActRotateKey: the recovery path for a lost or
// stolen key) leaves no index entry, so Attach handed the offline verifier
// the holder's stale registration as holder_key_tx, and the offline view
// then checked the anchor's signature against a key that no longer signs:
// every honest bundle of that holder failed offline. Attach must never
// attach a key transaction whose key did not sign the anchor.
func TestAttachKeyRotatedByGovernance(t *testing.T) {
	dir := t.TempDir()
	admin, node := key("admin", 0), key("node", 0)
	g := &ledger.Genesis{Development: true, Origin: "test.zkshare.dev/bundle", TimeUnixMs: time.Now().UnixMilli(), Participants: []ledger.Participant{
		{ID: admin.ID, Role: zkv1.Role_ROLE_ADMIN, Key: admin.Public()},
		{ID: node.ID, Role: zkv1.Role_ROLE_VALIDATOR, Key: node.Public()},
	}}
	if err := ledger.Init(dir, g); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(dir, node, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	seqs := map[string]uint64{}
	submit := func(who *ledger.Identity, kind func(*zkv1.TxBody)) {
		t.Helper()
		seqs[who.ID]++
		tx, err := ledger.NewTx(l.Chain(), who, seqs[who.ID], time.Now(), kind)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.SubmitTx(context.Background(), tx); err != nil {
			t.Fatal(err)
		}
	}
	old, fresh := key("bank", 0), key("bank", 1)
	coll := ledger.CollectionID("bank/people")
	cid := sha256.Sum256([]byte("subject"))
	submit(admin, ledger.RegisterParticipant("bank", zkv1.Role_ROLE_HOLDER, old.Public()))
	submit(admin, ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: cid[:], Name: "subject", VkSha256: cid[:], Setup: zkv1.SetupKind_SETUP_KIND_DEV}))
	submit(old, ledger.RegisterCollection(&zkv1.RegisterCollection{CollectionId: coll, Name: "bank/people", SchemaHash: cid[:], TreeDepth: 32, CircuitIds: [][]byte{cid[:]}}))
	// The bank lost its key: the governors (one, here) re-key it.
	submit(admin, ledger.ProposeAction(ledger.ActRotateKey("bank", fresh.Public())))
	if !bytes.Equal(l.State().Participants["bank"].Key, fresh.Public()) {
		t.Fatal("the governance rotation did not apply")
	}
	seqs[fresh.ID] = seqs[old.ID]
	root := sha256.Sum256([]byte("root"))
	submit(fresh, ledger.AnchorRoot(&zkv1.Anchor{CollectionId: coll, Root: root[:], RecordCount: 1, Sequence: 1}))

	b := &zkv1.Bundle{Collection: "bank/people", CollectionId: coll, Root: root[:]}
	if err := bundle.Attach(l, b, 0); err != nil {
		t.Fatal(err)
	}
	nv, err := ledger.NoteVerifier(l.Origin(), node.Public())
	if err != nil {
		t.Fatal(err)
	}
	off := &verifier.Offline{Bundle: b, LedgerKey: nv}
	c, err := off.Collection(context.Background(), coll)
	if err != nil {
		t.Fatal(err)
	}
	if c.HolderKey != nil && !bytes.Equal(c.HolderKey, fresh.Public()) {
		t.Fatalf("offline holder key is the stale one (holder_key_tx at log index %d): the anchor, signed with the governance-set key, fails the anchor check", b.GetHolderKeyTx().GetLogIndex())
	}
}
