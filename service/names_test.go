package service_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
	"github.com/zkshare/zkshare/verifier"
)

// TestCollectionNamesQualified: the node names its holder's collections
// HOLDER/NAME and qualifies a short name in every request with its holder;
// another holder that goes first can neither take the name nor its id, and
// has its own "people" (issue 18, item 6).
func TestCollectionNamesQualified(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	mallory, _ := ledger.NewIdentity("mallory")
	admin := zksharev1connect.NewAdminServiceClient(client.HTTPClient(), n.url, n.as(node.AdminID)...)
	if _, err := admin.RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: "mallory", Role: zkv1.Role_ROLE_HOLDER, PublicKey: mallory.Public()}); err != nil {
		t.Fatal(err)
	}
	l := n.srv.Ledger()
	var circuit []byte
	for _, c := range l.State().Circuits {
		circuit = c.ID
		break
	}
	schemaHash := sha256.Sum256([]byte(schema))
	register := func(name string, id []byte) error {
		tx, err := ledger.NewTx(l.Chain(), mallory, l.State().Participants["mallory"].Sequence+1, time.Now(), ledger.RegisterCollection(&zkv1.RegisterCollection{
			CollectionId: id, Name: name, SchemaHash: schemaHash[:], TreeDepth: 32, CircuitIds: [][]byte{circuit}}))
		if err != nil {
			return err
		}
		_, err = l.SubmitTx(ctx, tx)
		return err
	}
	// Mallory goes first, and cannot squat the holder's name or its id.
	if err := register("holder/people", ledger.CollectionID("holder/people")); !errors.Is(err, ledger.ErrPermission) {
		t.Fatalf("mallory registers holder/people: %v", err)
	}
	if err := register("mallory/people", ledger.CollectionID("holder/people")); !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("mallory registers holder/people's id: %v", err)
	}
	if err := register("mallory/people", ledger.CollectionID("mallory/people")); err != nil {
		t.Fatal(err)
	}

	// The holder's short names are its own.
	n.createAndCommit("people", people(10, 100))
	h := n.holder(node.HolderID)
	for _, name := range []string{"people", "holder/people"} {
		got, err := n.holder("").GetCollection(ctx, &zkv1.GetCollectionRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		c := got.GetCollection()
		if c.GetName() != "holder/people" || c.GetHolder() != node.HolderID || !bytes.Equal(c.GetId(), ledger.CollectionID("holder/people")) || c.GetRecordCount() != 10 {
			t.Fatalf("GetCollection(%q): %v", name, c)
		}
	}
	// Another holder's collection, from the ledger alone.
	got, err := n.holder("").GetCollection(ctx, &zkv1.GetCollectionRequest{Name: "mallory/people"})
	if err != nil || got.GetCollection().GetHolder() != "mallory" || got.GetCollection().GetName() != "mallory/people" || len(got.GetCollection().GetSchema()) != 0 {
		t.Fatalf("GetCollection(mallory/people): %v %v", got, err)
	}
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "mallory/other"}); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("the holder creates under mallory's prefix: %v", err)
	}
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema)}); code(err) != connect.CodeAlreadyExists {
		t.Fatalf("the schema's name again: %v", err)
	}
	if _, err := h.SetPolicy(ctx, &zkv1.SetPolicyRequest{Collection: "mallory/people", Policy: &zkv1.AccessPolicy{}}); code(err) != connect.CodePermissionDenied {
		t.Fatalf("the holder sets mallory's policy: %v", err)
	}
	if _, err := os.Stat(filepath.Join(n.data, "policies", "holder%2Fpeople.json")); err != nil {
		t.Fatalf("the policy file of holder/people: %v", err)
	}

	// A consumer asks with the short name; the bundle names the full one.
	bank := n.holder("bank")
	pr, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income >= 0", Nonce: nonce(1)})
	if err != nil {
		t.Fatal(err)
	}
	if c := pr.GetBundle().GetCollection(); c != "holder/people" {
		t.Fatalf("the bundle names %q", c)
	}
	if _, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: "mallory/people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income >= 0", Nonce: nonce(2)}); err == nil {
		t.Fatal("the node proved mallory's collection")
	}
	vf := n.verifier("")
	for pin, valid := range map[string]bool{"holder/people": true, "mallory/people": false, "people": false} {
		v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), Expect: &zkv1.Expectation{Collection: pin}})
		if err != nil {
			t.Fatal(err)
		}
		if v.GetValid() != valid || !valid && v.GetFailed() != verifier.CheckExpect {
			t.Errorf("pinned %q: valid=%v failed %q (%s)", pin, v.GetValid(), v.GetFailedCheck(), v.GetReason())
		}
	}
}
