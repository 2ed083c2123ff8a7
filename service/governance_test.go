package service_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
)

func (n *testNode) admin(id string) zksharev1connect.AdminServiceClient {
	return zksharev1connect.NewAdminServiceClient(client.HTTPClient(), n.url, n.as(id)...)
}

// wantCode fails unless err has code c and its message names what.
func wantCode(t *testing.T, what string, err error, c connect.Code, names string) {
	t.Helper()
	if code(err) != c || !strings.Contains(err.Error(), names) {
		t.Errorf("%s: %v, want %v naming %q", what, err, c, names)
	}
}

// TestGovernanceSingleNode: on a single node (one governor, M = 1) an
// admin's proposal applies at once; a holder's confirmer set waits for the
// admin's approval; malformed requests are InvalidArgument naming the
// field, refused actions FailedPrecondition or PermissionDenied. With a
// second governor M is 2 and a proposal stays open until it approves.
func TestGovernanceSingleNode(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	adm := n.admin(node.AdminID)
	l := n.srv.Ledger()

	lp, err := adm.ListProposals(ctx, &zkv1.ListProposalsRequest{})
	if err != nil || len(lp.GetProposals()) != 0 || lp.GetNeeded() != 1 || strings.Join(lp.GetGovernors(), ",") != node.AdminID {
		t.Fatalf("ListProposals on a new node: %v %v", lp, err)
	}

	// M = 1: the admin's proposal applies at once, and the new
	// participant's token works.
	bank, _ := ledger.NewIdentity("bank")
	pr, err := adm.Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRegisterParticipant("bank", zkv1.Role_ROLE_CONSUMER, bank.Public())})
	if err != nil {
		t.Fatal(err)
	}
	if st := pr.GetStatus(); !st.GetApplied() || st.GetNeeded() != 1 || strings.Join(st.GetApprovals(), ",") != node.AdminID || len(st.GetTxHash()) != 32 || pr.GetToken() == "" {
		t.Fatalf("Propose at M=1: %v", pr)
	}
	if p, ok := l.State().Participants["bank"]; !ok || p.Role != zkv1.Role_ROLE_CONSUMER {
		t.Fatal("bank not registered")
	}
	n.tokens["bank"] = pr.GetToken()
	if _, err := n.ledgerClient("bank").ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{Consumer: "bank"}); err != nil {
		t.Fatalf("the new participant's token: %v", err)
	}

	// Malformed requests name the field; refused actions say why.
	_, err = adm.Propose(ctx, &zkv1.ProposeRequest{})
	wantCode(t, "Propose without an action", err, connect.CodeInvalidArgument, "action")
	_, err = adm.Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRegisterParticipant("shop", zkv1.Role_ROLE_CONSUMER, []byte{1, 2})})
	wantCode(t, "Propose with a short key", err, connect.CodeInvalidArgument, "action.register_participant.public_key")
	_, err = adm.Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRegisterParticipant("Shop!", zkv1.Role_ROLE_CONSUMER, bank.Public())})
	wantCode(t, "Propose with a bad id", err, connect.CodeInvalidArgument, "action.register_participant.id")
	_, err = adm.Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRegisterCircuit(&zkv1.RegisterCircuit{CircuitId: []byte{1}})})
	wantCode(t, "Propose a circuit with a short id", err, connect.CodeInvalidArgument, "action.register_circuit.circuit_id")
	_, err = adm.Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRegisterParticipant("bank", zkv1.Role_ROLE_CONSUMER, bank.Public())})
	wantCode(t, "Propose an existing participant", err, connect.CodeAlreadyExists, "registered already")
	_, err = adm.Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRevokeParticipant(node.AdminID)})
	wantCode(t, "Propose revoking the last governor", err, connect.CodeFailedPrecondition, "governors")
	_, err = adm.Approve(ctx, &zkv1.ApproveRequest{ProposalId: []byte{1, 2, 3}})
	wantCode(t, "Approve a short id", err, connect.CodeInvalidArgument, "proposal_id")
	_, err = adm.Approve(ctx, &zkv1.ApproveRequest{ProposalId: bytes.Repeat([]byte{7}, 32)})
	wantCode(t, "Approve an unknown proposal", err, connect.CodeNotFound, "no open proposal")
	_, err = n.admin(node.HolderID).Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRevokeParticipant("bank")})
	wantCode(t, "a holder proposing", err, connect.CodePermissionDenied, "may not call")
	_, err = n.admin("bank").ListProposals(ctx, &zkv1.ListProposalsRequest{})
	wantCode(t, "a consumer listing proposals", err, connect.CodePermissionDenied, "may not call")

	// The holder proposes its collection's confirmers; the admin approves.
	h := n.holder(node.HolderID)
	cr, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "people"})
	if err != nil {
		t.Fatal(err)
	}
	n.register("mallory", zkv1.Role_ROLE_HOLDER)
	sc := &zkv1.SetConfirmersRequest{Collection: "people", Confirmers: []string{"mallory"}, ConfirmationsRequired: 1}
	_, err = h.SetConfirmers(ctx, &zkv1.SetConfirmersRequest{Confirmers: []string{"mallory"}})
	wantCode(t, "SetConfirmers without a collection", err, connect.CodeInvalidArgument, "collection")
	_, err = h.SetConfirmers(ctx, &zkv1.SetConfirmersRequest{Collection: "people", Confirmers: []string{"mallory"}, ConfirmationsRequired: 2})
	wantCode(t, "SetConfirmers requiring too many", err, connect.CodeInvalidArgument, "confirmations_required")
	_, err = h.SetConfirmers(ctx, &zkv1.SetConfirmersRequest{Collection: "people", Confirmers: []string{"mallory", "mallory"}, ConfirmationsRequired: 1})
	wantCode(t, "SetConfirmers naming one twice", err, connect.CodeInvalidArgument, "confirmers")
	_, err = h.SetConfirmers(ctx, &zkv1.SetConfirmersRequest{Collection: "people", Confirmers: []string{"nobody"}, ConfirmationsRequired: 1})
	wantCode(t, "SetConfirmers naming an unknown participant", err, connect.CodeFailedPrecondition, "nobody")
	_, err = h.SetConfirmers(ctx, &zkv1.SetConfirmersRequest{Collection: "others", Confirmers: []string{"mallory"}, ConfirmationsRequired: 1})
	wantCode(t, "SetConfirmers of an unknown collection", err, connect.CodeNotFound, "others")
	_, err = n.holder("mallory").SetConfirmers(ctx, sc)
	wantCode(t, "another holder's SetConfirmers", err, connect.CodePermissionDenied, `"mallory"`)
	_, err = n.holder(node.AdminID).SetConfirmers(ctx, sc)
	wantCode(t, "an admin's SetConfirmers", err, connect.CodePermissionDenied, "may not call")

	sr, err := h.SetConfirmers(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if st := sr.GetStatus(); st.GetApplied() || len(st.GetApprovals()) != 0 || st.GetNeeded() != 1 || len(st.GetTxHash()) != 32 {
		t.Fatalf("SetConfirmers: %v (a holder's proposal waits for a governor)", sr)
	}
	again, err := h.SetConfirmers(ctx, sc)
	if err != nil || !bytes.Equal(again.GetStatus().GetProposalId(), sr.GetStatus().GetProposalId()) || len(again.GetStatus().GetTxHash()) != 0 {
		t.Fatalf("SetConfirmers again: %v %v (the same open proposal, nothing sent)", again, err)
	}
	lp, err = n.admin(node.HolderID).ListProposals(ctx, &zkv1.ListProposalsRequest{})
	if err != nil || len(lp.GetProposals()) != 1 {
		t.Fatalf("ListProposals by the holder: %v %v", lp, err)
	}
	p := lp.GetProposals()[0]
	if !bytes.Equal(p.GetId(), sr.GetStatus().GetProposalId()) || p.GetKind() != "set_confirmers" || p.GetProposer() != node.HolderID ||
		len(p.GetApprovals()) != 0 || p.GetNeeded() != 1 || p.GetExpiresUnixMs() <= time.Now().UnixMilli() ||
		!bytes.Equal(p.GetAction().GetSetConfirmers().GetCollectionId(), cr.GetCollection().GetId()) {
		t.Fatalf("listed proposal: %v", p)
	}
	ar, err := adm.Approve(ctx, &zkv1.ApproveRequest{ProposalId: p.GetId()})
	if err != nil || !ar.GetStatus().GetApplied() || strings.Join(ar.GetStatus().GetApprovals(), ",") != node.AdminID {
		t.Fatalf("Approve: %v %v", ar, err)
	}
	if c := l.State().Collections[hex.EncodeToString(cr.GetCollection().GetId())]; strings.Join(c.Confirmers, ",") != "mallory" || c.Required != 1 {
		t.Fatalf("confirmers after approval: %v of %v", c.Required, c.Confirmers)
	}
	_, err = adm.Approve(ctx, &zkv1.ApproveRequest{ProposalId: p.GetId()})
	wantCode(t, "Approve an applied proposal", err, connect.CodeNotFound, "no open proposal")

	// A second governor: M is 2 of 2. Its token on this node cannot act as
	// this node's admin; the node's admin's proposal stays open until the
	// other governor approves it (through its own node: here, directly).
	gov2, _ := ledger.NewIdentity("gov2")
	pr, err = adm.Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRegisterParticipant("gov2", zkv1.Role_ROLE_ADMIN, gov2.Public())})
	if st := pr.GetStatus(); err != nil || !st.GetApplied() || st.GetNeeded() != 1 || len(st.GetApprovals()) != 1 {
		t.Fatalf("register a second governor: %v %v (applied by 1 of 1)", pr, err)
	}
	n.tokens["gov2"] = pr.GetToken()
	_, err = n.admin("gov2").Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRevokeParticipant("bank")})
	wantCode(t, "another admin's token proposing as this node's admin", err, connect.CodePermissionDenied, `acts for admin "admin"`)
	_, err = n.admin("gov2").RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: "shop", Role: zkv1.Role_ROLE_CONSUMER, PublicKey: bank.Public()})
	wantCode(t, "another admin's token registering as this node's admin", err, connect.CodePermissionDenied, `acts for admin "admin"`)
	rev := ledger.ActRevokeParticipant("bank")
	pr, err = adm.Propose(ctx, &zkv1.ProposeRequest{Action: rev})
	if st := pr.GetStatus(); err != nil || st.GetApplied() || st.GetNeeded() != 2 || strings.Join(st.GetApprovals(), ",") != node.AdminID {
		t.Fatalf("Propose at M=2: %v %v", pr, err)
	}
	if lp, err := n.admin("gov2").ListProposals(ctx, &zkv1.ListProposalsRequest{}); err != nil || len(lp.GetProposals()) != 1 || lp.GetProposals()[0].GetKind() != "revoke_participant" || lp.GetNeeded() != 2 {
		t.Fatalf("ListProposals at M=2: %v %v", lp, err)
	}
	if l.State().Participants["bank"].Revoked {
		t.Fatal("revoked by one of two governors")
	}
	tx, err := ledger.NewTx(l.Chain(), gov2, l.State().Participants["gov2"].Sequence+1, time.Now(), ledger.ApproveProposal(pr.GetStatus().GetProposalId()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.SubmitTx(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if !l.State().Participants["bank"].Revoked {
		t.Fatal("not revoked with both governors' approvals")
	}
}
