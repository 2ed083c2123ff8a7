package node_test

import (
	"errors"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
)

// TestAdminCannotMintTokens (found in review): an admin "registering" a
// participant that exists (its id, role and key are public on the ledger)
// got a fresh token for it, the node's own holder included, and so acted
// as it. A token now goes with a registration only, under one governor
// (direct registration) and under M-of-N (a proposal).
func TestAdminCannotMintTokens(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	n := open(t, data)
	bank, _ := ledger.NewIdentity("bank")
	if _, err := n.RegisterParticipant(ctx, adminC, "bank", zkv1.Role_ROLE_CONSUMER, bank.Public()); err != nil {
		t.Fatal(err)
	}
	l := n.Ledger()
	for _, m := range []string{"M = 1", "M = 2"} {
		for _, id := range []string{node.HolderID, node.AdminID, "bank"} {
			p := l.State().Participants[id]
			if _, err := n.RegisterParticipant(ctx, adminC, id, p.Role, p.Key); !errors.Is(err, node.ErrAlreadyExists) {
				t.Errorf("%s: RegisterParticipant of existing %q: %v, want ErrAlreadyExists", m, id, err)
			}
			if _, _, err := n.Propose(ctx, adminC, ledger.ActRegisterParticipant(id, p.Role, p.Key)); !errors.Is(err, node.ErrAlreadyExists) {
				t.Errorf("%s: Propose of existing %q: %v, want ErrAlreadyExists", m, id, err)
			}
		}
		if m == "M = 1" { // a second governor: M = 2
			gov2, _ := ledger.NewIdentity("gov2")
			st, tok, err := n.Propose(ctx, adminC, ledger.ActRegisterParticipant("gov2", zkv1.Role_ROLE_ADMIN, gov2.Public()))
			if err != nil || !st.GetApplied() || tok == "" {
				t.Fatalf("propose gov2: %v %q %v", st, tok, err)
			}
			if got := l.State().GovernanceThreshold(); got != 2 {
				t.Fatalf("M = %d", got)
			}
		}
	}
	// Under M = 2 a registration is a proposal; its token comes with it.
	carol, _ := ledger.NewIdentity("carol")
	r, err := n.RegisterParticipant(ctx, adminC, "carol", zkv1.Role_ROLE_CONSUMER, carol.Public())
	if err != nil || !r.Pending || len(r.ProposalID) != 32 || r.Token == "" {
		t.Fatalf("register under M = 2: %+v %v", r, err)
	}
	if _, err := n.Authenticate(r.Token); !errors.Is(err, node.ErrUnauthenticated) {
		t.Fatalf("a pending participant's token authenticates: %v", err)
	}
	// The holder's own token still works.
	if c, err := n.Authenticate(token(t, data, node.HolderID)); err != nil || c.ID != node.HolderID {
		t.Fatalf("the holder's token was replaced: %+v %v", c, err)
	}
}
