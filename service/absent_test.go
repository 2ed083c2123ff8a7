package service_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/service"
)

// TestAbsent: over the wire (Connect and gRPC clients of one node), an
// absent question the policy grants is answered with a bundle the Verify
// RPC accepts with every pin, and rejects as a subject answer or for
// another key; one the policy does not grant is PermissionDenied; a
// present key is FailedPrecondition; an unknown collection NotFound. No
// raw key or value appears in any response or error (the privacy canary).
func TestAbsent(t *testing.T) {
	if testing.Short() {
		t.Skip("key setup and proofs are slow")
	}
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.register("insurer", zkv1.Role_ROLE_CONSUMER)
	n.createAndCommit("people", people(10, 100))
	absent, subject := zkv1.StatementKind_STATEMENT_KIND_ABSENT, zkv1.StatementKind_STATEMENT_KIND_SUBJECT
	n.setPolicy("people",
		&zkv1.PolicyRule{Consumer: "bank", Kinds: []zkv1.StatementKind{absent, subject}},
		&zkv1.PolicyRule{Consumer: "insurer", Kinds: []zkv1.StatementKind{subject}})
	const missing = "CANARY-MISSING-1d7e"
	ask := func(who, coll, key string, nb byte) (*zkv1.ProveResponse, error) {
		return n.holder(who).Prove(t.Context(), &zkv1.ProveRequest{Collection: coll, Kind: absent, Subject: key, Nonce: nonce(nb), Blind: nonce(200)})
	}

	for _, p := range protocols[:2] {
		t.Run(p.name, func(t *testing.T) {
			n.opts = p.opts
			ctx := t.Context()
			pr, err := ask("bank", "people", missing, 1)
			if err != nil {
				t.Fatal(err)
			}
			if pr.GetBundle().GetKind() != absent || pr.GetAudit().GetStatement() != "absent" || !strings.Contains(pr.GetStatement(), "has no live record") {
				t.Fatalf("answer: %v", pr)
			}
			vf := n.verifier("")
			pins := &zkv1.Expectation{Kind: absent, Collection: "holder/people", Subject: missing, Blind: nonce(200), Nonce: nonce(1)}
			v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), Expect: pins})
			if err != nil || !v.GetValid() || v.GetAnchorHeight() == 0 {
				t.Fatalf("verify: %v %v", v, err)
			}
			for _, tc := range []struct {
				name   string
				expect *zkv1.Expectation
				failed zkv1.Check
			}{
				{"as a subject answer", &zkv1.Expectation{Kind: subject}, zkv1.Check_CHECK_EXPECTATION},
				{"another key", &zkv1.Expectation{Kind: absent, Subject: "p0001", Blind: nonce(200)}, zkv1.Check_CHECK_SUBJECT},
				{"another nonce", &zkv1.Expectation{Kind: absent, Nonce: nonce(2)}, zkv1.Check_CHECK_NONCE},
				{"another collection", &zkv1.Expectation{Collection: "holder/other"}, zkv1.Check_CHECK_EXPECTATION},
			} {
				v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), Expect: tc.expect})
				if err != nil || v.GetValid() || v.GetFailed() != tc.failed {
					t.Errorf("%s: %v %v, want %v", tc.name, v, err, tc.failed)
				}
			}

			for _, tc := range []struct {
				name, who, coll, key string
				want                 connect.Code
			}{
				{"not granted", "insurer", "people", missing, connect.CodePermissionDenied},
				{"present key", "bank", "people", canaries[0], connect.CodeFailedPrecondition},
				{"unknown collection", "bank", "nosuch", missing, connect.CodeNotFound},
			} {
				_, err := ask(tc.who, tc.coll, tc.key, 3)
				if code(err) != tc.want {
					t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
				}
				if err != nil && strings.Contains(err.Error(), tc.key) {
					t.Errorf("%s: the error %q names the key", tc.name, err)
				}
			}
			if _, err := n.holder("bank").Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: absent, Subject: missing, Query: "age >= 1",
				Nonce: nonce(4), Blind: nonce(200)}); code(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "query") {
				t.Errorf("an absent question with a query: %v", err)
			}
		})
	}
	seen := n.seen.String() + n.logs.String()
	for _, secret := range []string{missing, canaries[0], canaries[1]} {
		if strings.Contains(seen, secret) {
			t.Errorf("%q reached a response, an error or the logs", secret)
		}
	}
}
