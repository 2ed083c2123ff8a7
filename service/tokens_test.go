package service_test

import (
	"testing"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/service"
)

// TestAdminCannotMintTokens (found in review): an admin "registering" a
// participant that exists (its id, role and key are public on the ledger)
// got a fresh token for it, the node's own holder included, and so acted
// as it. A token now goes with a registration only.
func TestAdminCannotMintTokens(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	adm := n.admin(service.AdminID)
	l := n.srv.Ledger()
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	for _, m := range []string{"M = 1", "M = 2"} {
		for _, id := range []string{service.HolderID, service.AdminID, "bank"} {
			p := l.State().Participants[id]
			if _, err := adm.RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: id, Role: p.Role, PublicKey: p.Key}); connect.CodeOf(err) != connect.CodeAlreadyExists {
				t.Errorf("%s: RegisterParticipant of existing %q: %v, want AlreadyExists", m, id, err)
			}
			if _, err := adm.Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRegisterParticipant(id, p.Role, p.Key)}); connect.CodeOf(err) != connect.CodeAlreadyExists {
				t.Errorf("%s: Propose of existing %q: %v, want AlreadyExists", m, id, err)
			}
		}
		if m == "M = 1" { // a second governor: M = 2
			gov2, _ := ledger.NewIdentity("gov2")
			if _, err := adm.Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRegisterParticipant("gov2", zkv1.Role_ROLE_ADMIN, gov2.Public())}); err != nil {
				t.Fatal(err)
			}
			if got := l.State().GovernanceThreshold(); got != 2 {
				t.Fatalf("M = %d", got)
			}
		}
	}
	// The holder's own token still works.
	if _, err := n.holder(service.HolderID).GetPolicy(ctx, &zkv1.GetPolicyRequest{Collection: "people"}); connect.CodeOf(err) == connect.CodeUnauthenticated {
		t.Fatalf("the holder's token was replaced: %v", err)
	}
}
