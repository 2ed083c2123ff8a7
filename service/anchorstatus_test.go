package service_test

import (
	"testing"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
)

// TestGetAnchorStatus: GetAnchor at a height returns only anchors that
// count unless asked for pending ones, and says which they are (issue 18,
// item 7).
func TestGetAnchorStatus(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	h := n.holder(node.HolderID)
	cr, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "people", Confirmers: []string{node.HolderID}, ConfirmationsRequired: 1})
	if err != nil {
		t.Fatal(err)
	}
	id := cr.GetCollection().GetId()
	lg := n.ledgerClient("")
	get := func(at uint64, pending bool) (*zkv1.GetAnchorResponse, error) {
		return lg.GetAnchor(ctx, &zkv1.GetAnchorRequest{CollectionId: id, AtHeight: at, IncludePending: pending})
	}
	want := func(r *zkv1.GetAnchorResponse, err error, seq uint64, status zkv1.AnchorStatus) {
		t.Helper()
		if err != nil || r.GetAnchor().GetSequence() != seq || r.GetStatus() != status {
			t.Fatalf("got anchor %d %v (%v), want %d %v", r.GetAnchor().GetSequence(), r.GetStatus(), err, seq, status)
		}
	}
	recs := people(10, 100)
	r1 := n.commit("people", recs)
	if _, err := get(r1.GetAnchorHeight(), false); code(err) != connect.CodeNotFound {
		t.Fatalf("an unconfirmed anchor returned as if it counted: %v", err)
	}
	if _, err := get(0, false); code(err) != connect.CodeNotFound {
		t.Fatalf("latest before any confirmation: %v", err)
	}
	r, err := get(r1.GetAnchorHeight(), true)
	want(r, err, 1, zkv1.AnchorStatus_ANCHOR_STATUS_PENDING_CONFIRMATION)
	if _, err := h.ConfirmAnchor(ctx, &zkv1.ConfirmAnchorRequest{CollectionId: id, Sequence: 1, Root: r1.GetRoot()}); err != nil {
		t.Fatal(err)
	}
	r, err = get(r1.GetAnchorHeight(), false)
	want(r, err, 1, zkv1.AnchorStatus_ANCHOR_STATUS_LATEST)

	recs[0].Values[0] = "101"
	r2 := n.commit("people", recs)
	r, err = get(r2.GetAnchorHeight(), false)
	want(r, err, 1, zkv1.AnchorStatus_ANCHOR_STATUS_LATEST) // anchor 2 awaits its confirmation
	r, err = get(r2.GetAnchorHeight(), true)
	want(r, err, 2, zkv1.AnchorStatus_ANCHOR_STATUS_PENDING_CONFIRMATION)
	r, err = get(0, true)
	want(r, err, 2, zkv1.AnchorStatus_ANCHOR_STATUS_PENDING_CONFIRMATION)
	if _, err := h.ConfirmAnchor(ctx, &zkv1.ConfirmAnchorRequest{CollectionId: id, Sequence: 2, Root: r2.GetRoot()}); err != nil {
		t.Fatal(err)
	}
	r, err = get(r1.GetAnchorHeight(), false)
	want(r, err, 1, zkv1.AnchorStatus_ANCHOR_STATUS_SUPERSEDED)
	r, err = get(0, false)
	want(r, err, 2, zkv1.AnchorStatus_ANCHOR_STATUS_LATEST)
	r, err = get(n.srv.Ledger().Head().Height, false)
	want(r, err, 2, zkv1.AnchorStatus_ANCHOR_STATUS_LATEST)
}
