package service_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
)

// linkKeys makes a key directory of src's keys, with the circuits of over
// (a directory of newer keys) taking the place of src's.
func linkKeys(t *testing.T, src, over string) string {
	t.Helper()
	dir := t.TempDir()
	if err := testkeys.Merge(dir, src); err != nil {
		t.Fatal(err)
	}
	if over != "" {
		if err := testkeys.Merge(dir, over); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCircuitVersions: a node restarted with new keys for a circuit
// registers them as its next version; bundles made under version 1 keep
// verifying (with the registry's key) and say so, until version 1 is
// retired by a ledger transaction.
func TestCircuitVersions(t *testing.T) {
	ctx := t.Context()
	shared := sharedKeys(t)
	data := t.TempDir()
	n := startNode(t, service.Config{Data: data, Keys: linkKeys(t, shared, "")})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.createAndCommit("people", people(12, 10000))
	ask := func(n *testNode, b byte) *zkv1.Bundle {
		t.Helper()
		pr, err := n.holder("bank").Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: canaries[0], Query: "age >= 65", Nonce: nonce(b), Blind: nonce(100 + b)})
		if err != nil {
			t.Fatal(err)
		}
		return pr.GetBundle()
	}
	check := func(n *testNode, b *zkv1.Bundle, nb byte) *zkv1.VerifyResponse {
		t.Helper()
		v, err := n.verifier("").Verify(ctx, &zkv1.VerifyRequest{Bundle: b, Nonce: nonce(nb), Subject: canaries[0], Expect: &zkv1.Expectation{Blind: nonce(100 + nb)}})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	version := func(v *zkv1.VerifyResponse) uint32 {
		for _, c := range v.GetCircuits() {
			if c.GetName() == "subject" {
				return c.GetVersion()
			}
		}
		return 0
	}
	old := ask(n, 1)
	if v := check(n, old, 1); !v.GetValid() || version(v) != 1 {
		t.Fatalf("version 1 bundle under version 1: %v", v)
	}
	bankToken := n.tokens["bank"]
	n.closeFn()

	// New keys for subject (the same shape, another setup): version 2.
	v2, err := os.MkdirTemp(t.TempDir(), "v2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Setup(ctx, v2, nil, nil, "subject"); err != nil {
		t.Fatal(err)
	}
	n = startNode(t, service.Config{Data: data, Keys: linkKeys(t, shared, v2)})
	n.tokens["bank"] = bankToken // tokens survive a restart
	fresh := ask(n, 2)
	if bytes.Equal(fresh.GetVkSha256(), old.GetVkSha256()) {
		t.Fatal("the restarted node still proves with version 1's keys")
	}
	for _, tc := range []struct {
		name string
		b    *zkv1.Bundle
		nb   byte
		want uint32
	}{{"version 1", old, 1, 1}, {"version 2", fresh, 2, 2}} {
		if v := check(n, tc.b, tc.nb); !v.GetValid() || version(v) != tc.want {
			t.Fatalf("%s bundle after version 2 is registered: %v", tc.name, v)
		}
	}
	reg, err := n.ledgerClient("").ListCircuits(ctx, &zkv1.ListCircuitsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	versions := 0
	for _, c := range reg.GetCircuits() {
		if c.GetName() == "subject" {
			versions++
			if len(c.GetVk()) == 0 {
				t.Errorf("subject v%d: the registry carries no verifying key", c.GetVersion())
			}
		}
	}
	if versions != 2 || !reg.GetDevelopment() {
		t.Fatalf("registry: %d subject versions, development %v", versions, reg.GetDevelopment())
	}

	// Retiring version 1 is a ledger transaction (the admin's; a consumer
	// may not), and its bundles stop verifying; version 2's do not.
	retire := &zkv1.ProposeRequest{Action: &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_RetireCircuit{RetireCircuit: &zkv1.RetireCircuit{CircuitId: old.GetCircuitId(), VkSha256: old.GetVkSha256()}}}}
	if _, err := zksharev1connect.NewAdminServiceClient(client.HTTPClient(), n.url, n.as("bank")...).Propose(ctx, retire); err == nil {
		t.Fatal("a consumer retired a circuit")
	}
	admin := zksharev1connect.NewAdminServiceClient(client.HTTPClient(), n.url, n.as(node.AdminID)...)
	st, err := admin.Propose(ctx, retire)
	if err != nil || !st.GetStatus().GetApplied() {
		t.Fatalf("retire: %v %v", st, err)
	}
	if v := check(n, old, 1); v.GetValid() || v.GetFailed() != zkv1.Check_CHECK_KEY_REGISTRY || !strings.Contains(v.GetReason(), "retired") {
		t.Fatalf("a retired version's bundle: %v", v)
	}
	if v := check(n, fresh, 2); !v.GetValid() || version(v) != 2 {
		t.Fatalf("version 2 after version 1 is retired: %v", v)
	}
}
