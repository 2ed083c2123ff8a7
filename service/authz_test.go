package service_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
)

// TestOtherHolderCannotActAsNodeHolder: a second holder registered on a
// node, with its own token, can neither act as the node's holder nor touch
// its collections; the node's holder still can (issue 18, item 1).
func TestOtherHolderCannotActAsNodeHolder(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.register("mallory", zkv1.Role_ROLE_HOLDER)
	h := n.holder(node.HolderID)
	cr, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "people", Confirmers: []string{node.HolderID, "mallory"}, ConfirmationsRequired: 1})
	if err != nil {
		t.Fatal(err)
	}
	n.setPolicy("people", &zkv1.PolicyRule{Consumer: "*", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_EXISTS}})
	r1 := n.commit("people", people(10, 100))
	id := cr.GetCollection().GetId()

	m := n.holder("mallory")
	refused := func(what string, err error) {
		t.Helper()
		if code(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), `"mallory"`) {
			t.Errorf("%s by another holder: %v, want PermissionDenied naming mallory", what, err)
		}
	}
	_, err = m.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "mallorys"})
	refused("CreateCollection", err)
	if err == nil || !strings.Contains(err.Error(), `this node acts for holder "holder"`) {
		t.Errorf("CreateCollection: the message should say whom the node acts for: %v", err)
	}
	stream, err := m.CommitRecords(ctx)
	if err == nil {
		stream.Send(&zkv1.CommitRecordsRequest{Collection: "people", Records: people(10, 5)[:1]})
		_, err = stream.CloseAndReceive()
	}
	refused("CommitRecords", err)
	_, err = m.UpdateRecords(ctx, &zkv1.UpdateRecordsRequest{Collection: "people", Records: []*zkv1.Record{{Key: "p0001", Values: []string{"1", "40", "active", "north"}}}})
	refused("UpdateRecords", err)
	_, err = m.DeleteRecords(ctx, &zkv1.DeleteRecordsRequest{Collection: "people", Keys: []string{"p0001"}})
	refused("DeleteRecords", err)
	_, err = m.SetPolicy(ctx, &zkv1.SetPolicyRequest{Collection: "people", Policy: &zkv1.AccessPolicy{}})
	refused("SetPolicy", err)
	_, err = m.GetPolicy(ctx, &zkv1.GetPolicyRequest{Collection: "people"})
	refused("GetPolicy", err)
	_, err = m.IssueReceipt(ctx, &zkv1.IssueReceiptRequest{Collection: "people", Subject: "p0001"})
	refused("IssueReceipt", err)
	// mallory is a named confirmer, but the node would sign as its own holder.
	_, err = m.ConfirmAnchor(ctx, &zkv1.ConfirmAnchorRequest{CollectionId: id, Sequence: 1, Root: r1.GetRoot()})
	refused("ConfirmAnchor", err)
	_, err = n.ledgerClient("mallory").ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{CollectionId: id})
	refused("ListAuditEntries", err)
	if _, err := n.ledgerClient(node.AdminID).ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{CollectionId: id}); code(err) != connect.CodePermissionDenied {
		t.Errorf("an admin listing a holder's audit entries: %v", err)
	}
	if lc := n.srv.Ledger().State().Collections[hex.EncodeToString(id)]; lc.Last.Sequence != 1 || len(lc.Pending[1].Confirmations) != 0 {
		t.Fatalf("another holder changed the collection's anchors: %+v", lc)
	}

	// The node's holder still does all of it.
	if _, err := h.GetPolicy(ctx, &zkv1.GetPolicyRequest{Collection: "people"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ConfirmAnchor(ctx, &zkv1.ConfirmAnchorRequest{CollectionId: id, Sequence: 1, Root: r1.GetRoot()}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.UpdateRecords(ctx, &zkv1.UpdateRecordsRequest{Collection: "people", Records: []*zkv1.Record{{Key: "p0001", Values: []string{"1", "40", "active", "north"}}}}); err != nil {
		t.Fatal(err)
	}
	// The update's anchor awaits its confirmation: the receipt is under
	// the anchor that counts, the first one.
	if rr, err := h.IssueReceipt(ctx, &zkv1.IssueReceiptRequest{Collection: "people", Subject: "p0002"}); err != nil || !bytes.Equal(rr.GetReceipt().GetRoot(), r1.GetRoot()) {
		t.Fatalf("receipt while the newest anchor awaits its confirmation: %v, want one under the anchor that counts", err)
	}
	if _, err := n.ledgerClient(node.HolderID).ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{CollectionId: id}); err != nil {
		t.Fatal(err)
	}
}
