package node_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/records"
	"google.golang.org/protobuf/encoding/protojson"
)

// presentKey has a record; missingKey has none.
const (
	presentKey = "CANARY-PRESENT-5e1f"
	presentAge = "77"
	missingKey = "CANARY-MISSING-9a0c"
)

// TestProveAbsent: a consumer the policy grants the absent kind gets an
// absent bundle that verifies with every pin; one it does not is refused;
// a present key fails with FailedPrecondition naming neither the key nor a
// value; an unknown collection is NotFound; malformed questions name the
// field. Every answered question is audited as "absent".
func TestProveAbsent(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Groth16 keys")
	}
	ctx := t.Context()
	n := open(t, "")
	if _, _, err := n.CreateCollection(ctx, holderC, node.NewCollection{Schema: []byte(schema)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"bank", "insurer"} {
		ident, _ := ledger.NewIdentity(id)
		if _, err := n.RegisterParticipant(ctx, adminC, id, zkv1.Role_ROLE_CONSUMER, ident.Public()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.Commit(ctx, holderC, "people", []records.Record{{Key: presentKey, Values: []string{"123456", presentAge}}, {Key: "b", Values: []string{"30", "40"}}}); err != nil {
		t.Fatal(err)
	}
	absent, subject := zkv1.StatementKind_STATEMENT_KIND_ABSENT, zkv1.StatementKind_STATEMENT_KIND_SUBJECT
	pol := &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{
		{Consumer: "bank", Kinds: []zkv1.StatementKind{absent}, Templates: []string{"income <="}},
		{Consumer: "insurer", Kinds: []zkv1.StatementKind{subject}},
	}}
	if err := n.SetPolicy(ctx, holderC, "people", pol); err != nil {
		t.Fatal(err)
	}
	bank := node.Caller{ID: "bank", Role: zkv1.Role_ROLE_CONSUMER}
	insurer := node.Caller{ID: "insurer", Role: zkv1.Role_ROLE_CONSUMER}
	nonce, blind := scalarBytes(7), scalarBytes(9)
	ask := func(key string) node.Question {
		return node.Question{Collection: "people", Kind: absent, Subject: key, Nonce: nonce, Blind: blind}
	}

	a, err := n.Prove(ctx, bank, ask(missingKey))
	if err != nil {
		t.Fatal(err)
	}
	if a.Bundle.GetKind() != bundle.KindAbsent || a.Audit.GetStatement() != "absent" || !strings.Contains(a.Statement, "has no live record in holder/people") {
		t.Fatalf("answer: kind %v, audit %q, statement %q", a.Bundle.GetKind(), a.Audit.GetStatement(), a.Statement)
	}
	expect := &zkv1.Expectation{Kind: absent, Collection: "holder/people", Subject: missingKey, Blind: blind, Nonce: nonce}
	v, err := n.Verify(ctx, node.VerifyRequest{Bundle: a.Bundle, Expect: expect})
	if err != nil || !v.Valid {
		t.Fatalf("verify: %+v %v", v, err)
	}
	// Pinned as a subject question, or about another key, it fails.
	for name, exp := range map[string]*zkv1.Expectation{
		"as subject":  {Kind: subject},
		"another key": {Kind: absent, Subject: "b", Blind: blind, Nonce: nonce},
	} {
		if v, err := n.Verify(ctx, node.VerifyRequest{Bundle: a.Bundle, Expect: exp}); err != nil || v.Valid {
			t.Errorf("%s: %+v %v", name, v, err)
		}
	}
	out, _ := protojson.Marshal(a.Bundle)
	if strings.Contains(string(out)+a.Statement, missingKey) {
		t.Fatal("the answer names the key asked about")
	}

	var ia *node.InvalidArgumentError
	for _, tc := range []struct {
		name   string
		caller node.Caller
		q      node.Question
		want   error
		field  string
	}{
		{"not granted", insurer, ask(missingKey), node.ErrPermissionDenied, ""},
		{"present key", bank, ask(presentKey), node.ErrFailedPrecondition, ""},
		{"unknown collection", bank, node.Question{Collection: "nosuch", Kind: absent, Subject: missingKey, Nonce: nonce, Blind: blind}, node.ErrNotFound, ""},
		{"with a query", bank, node.Question{Collection: "people", Kind: absent, Subject: missingKey, Query: "income <= 5", Nonce: nonce, Blind: blind}, node.ErrInvalidArgument, "query"},
		{"no key", bank, ask(""), node.ErrInvalidArgument, "subject"},
		{"no blind", bank, node.Question{Collection: "people", Kind: absent, Subject: missingKey, Nonce: nonce}, node.ErrInvalidArgument, "blind"},
		{"zero blind", bank, node.Question{Collection: "people", Kind: absent, Subject: missingKey, Nonce: nonce, Blind: make([]byte, 32)}, node.ErrInvalidArgument, "blind"},
	} {
		_, err := n.Prove(ctx, tc.caller, tc.q)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		if tc.field != "" && (!errors.As(err, &ia) || ia.Field != tc.field) {
			t.Errorf("%s: %v, want field %s", tc.name, err, tc.field)
		}
		for _, secret := range []string{presentKey, presentAge, "123456", missingKey} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error %q leaks %q", tc.name, err, secret)
			}
		}
	}

	// The served answer and the present key's refusal are both audited.
	entries, err := n.AuditEntries(ctx, bank, node.AuditQuery{Consumer: "bank"})
	if err != nil {
		t.Fatal(err)
	}
	var served, unproven int
	for _, e := range entries {
		if e.GetReceipt().GetStatement() != "absent" {
			t.Errorf("audit statement %q", e.GetReceipt().GetStatement())
		}
		if len(e.GetReceipt().GetBundleHash()) > 0 {
			served++
		} else {
			unproven++
		}
	}
	if served != 1 || unproven != 1 {
		t.Fatalf("audit: %d served, %d unproven; want 1 and 1", served, unproven)
	}
}

// scalarBytes is a 32-byte BN254 scalar (big-endian, below the modulus).
func scalarBytes(b byte) []byte {
	s := make([]byte, 32)
	s[31], s[1] = b, 0x01
	return s
}
