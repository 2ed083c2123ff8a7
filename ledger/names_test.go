package ledger_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
)

// TestCollectionNamesScopedByHolder: a holder registers collections under
// its own prefix only, with the id of that full name, so no holder can
// squat another's name (or its id), and two holders can both have "x".
func TestCollectionNamesScopedByHolder(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.join("holder", zkv1.Role_ROLE_HOLDER)
	n.join("mallory", zkv1.Role_ROLE_HOLDER)
	n.must("admin", ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("subject"), Name: "subject", VkSha256: h32("vk"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}))
	reg := func(name string, id []byte) func(*zkv1.TxBody) {
		return ledger.RegisterCollection(&zkv1.RegisterCollection{CollectionId: id, Name: name, SchemaHash: h32("schema"), TreeDepth: 32, CircuitIds: [][]byte{h32("subject")}})
	}
	for _, tc := range []struct {
		what, name string
		id         []byte
		want       error
	}{
		{"another holder's prefix", "holder/x", ledger.CollectionID("holder/x"), ledger.ErrPermission},
		{"another holder's id under its own name", "mallory/x", ledger.CollectionID("holder/x"), ledger.ErrRejected},
		{"an unqualified name", "x", ledger.CollectionID("x"), ledger.ErrRejected},
		{"an empty short name", "mallory/", ledger.CollectionID("mallory/"), ledger.ErrRejected},
		{"two slashes", "mallory/x/y", ledger.CollectionID("mallory/x/y"), ledger.ErrRejected},
		{"an empty holder", "/x", ledger.CollectionID("/x"), ledger.ErrRejected},
	} {
		if _, err := n.submit("mallory", reg(tc.name, tc.id)); !errors.Is(err, tc.want) {
			t.Errorf("mallory registers %s (%q): got %v, want %v", tc.what, tc.name, err, tc.want)
		}
	}
	if _, ok := n.l.State().Collections[hexID("holder/x")]; ok {
		t.Fatal("mallory took holder/x")
	}
	// Each registers its own "x".
	n.must("mallory", reg("mallory/x", ledger.CollectionID("mallory/x")))
	n.must("holder", reg("holder/x", ledger.CollectionID("holder/x")))
	st := n.l.State()
	for _, who := range []string{"holder", "mallory"} {
		c, ok := st.Collections[hexID(who+"/x")]
		if !ok || c.Holder != who || c.Name != who+"/x" {
			t.Fatalf("%s/x: got %+v (registered %v)", who, c, ok)
		}
	}
	if _, err := n.submit("holder", reg("holder/x", ledger.CollectionID("holder/x"))); !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("holder/x registered twice: %v", err)
	}
}

// TestCollectionIDMatchesRecords: the ledger's id of a name is the one the
// circuits, the prover and the verifier use.
func TestCollectionIDMatchesRecords(t *testing.T) {
	for _, name := range []string{"holder/x", "agency/benefits", "a", ""} {
		e := records.CollectionID(name)
		want := e.Bytes()
		if got := ledger.CollectionID(name); !bytes.Equal(got, want[:]) {
			t.Fatalf("%q: ledger id %x, records id %x", name, got, want)
		}
	}
	if h, s, ok := ledger.SplitName("holder/x"); !ok || h != "holder" || s != "x" {
		t.Fatalf("SplitName(holder/x) = %q, %q, %v", h, s, ok)
	}
	if got := ledger.Qualify("holder", "x"); got != "holder/x" {
		t.Fatalf("Qualify(holder, x) = %q", got)
	}
	if got := ledger.Qualify("holder", "mallory/x"); got != "mallory/x" {
		t.Fatalf("Qualify(holder, mallory/x) = %q", got)
	}
}

func hexID(name string) string { return hex.EncodeToString(ledger.CollectionID(name)) }
