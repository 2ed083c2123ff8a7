package service_test

import (
	"bytes"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
)

// TestProvingStateIsTheHolders: GetCollection is public, but what proofs
// read, whether a commit runs and what recovery did are the holder's (and
// the admin's): an anonymous caller, a consumer and another holder get the
// anchored count and root only; the holder gets the ProvingState too.
func TestProvingStateIsTheHolders(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.register("mallory", zkv1.Role_ROLE_HOLDER)
	r := n.createAndCommit("people", people(10, 100))
	for _, tc := range []struct {
		who  string
		sees bool
	}{{"", false}, {"bank", false}, {"mallory", false}, {node.HolderID, true}, {node.AdminID, true}} {
		resp, err := n.holder(tc.who).GetCollection(ctx, &zkv1.GetCollectionRequest{Name: "holder/people"})
		if err != nil {
			t.Fatalf("%q: %v", tc.who, err)
		}
		c := resp.GetCollection()
		if c.GetRecordCount() != 10 || !bytes.Equal(c.GetRoot(), r.GetRoot()) {
			t.Errorf("%q: count %d, root %x; want the anchored 10, %x", tc.who, c.GetRecordCount(), c.GetRoot(), r.GetRoot())
		}
		if got := c.GetProving() != nil; got != tc.sees {
			t.Errorf("%q sees the proving state: %v, want %v", tc.who, got, tc.sees)
		}
		if tc.sees && (c.GetProving().GetAnchorSequence() != 1 || !bytes.Equal(c.GetProving().GetRoot(), r.GetRoot())) {
			t.Errorf("%q: proving state %v, want anchor 1 of the committed root", tc.who, c.GetProving())
		}
	}
}
