package service_test

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/transparency-dev/formats/log"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/service"
)

// TestGetConsistencyProof: anyone, without a token, gets a proof that an
// earlier checkpoint's log is a prefix of a later one's; bad sizes get
// InvalidArgument or OutOfRange.
func TestGetConsistencyProof(t *testing.T) {
	n := startNode(t, service.Config{})
	lc := n.ledgerClient("")
	ctx := t.Context()
	checkpoint := func() (*zkv1.GetCheckpointResponse, uint64) {
		t.Helper()
		r, err := lc.GetCheckpoint(ctx, &zkv1.GetCheckpointRequest{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := ledger.NoteVerifier(r.GetOrigin(), r.GetNodeKey())
		if err != nil {
			t.Fatal(err)
		}
		cp, _, _, err := log.ParseCheckpoint(r.GetCheckpoint(), r.GetOrigin(), v)
		if err != nil {
			t.Fatal(err)
		}
		return r, cp.Size
	}
	first, size1 := checkpoint()
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.register("court", zkv1.Role_ROLE_CONSUMER)
	second, size2 := checkpoint()
	if size2 <= size1 {
		t.Fatalf("log did not grow: %d then %d", size1, size2)
	}
	v, _ := ledger.NoteVerifier(first.GetOrigin(), first.GetNodeKey())
	resp, err := lc.GetConsistencyProof(ctx, &zkv1.GetConsistencyProofRequest{FromSize: size1, ToSize: size2})
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyConsistency(first.GetCheckpoint(), second.GetCheckpoint(), first.GetOrigin(), v, resp.GetProof()); err != nil {
		t.Fatalf("consistency: %v", err)
	}
	if len(resp.GetProof()) > 0 {
		resp.Proof[0][0] ^= 1
		if err := ledger.VerifyConsistency(first.GetCheckpoint(), second.GetCheckpoint(), first.GetOrigin(), v, resp.GetProof()); err == nil {
			t.Fatal("tampered proof verified")
		}
	}
	for _, tc := range []struct {
		from, to uint64
		want     connect.Code
	}{
		{size2, size1, connect.CodeInvalidArgument},
		{size1, size2 + 1, connect.CodeOutOfRange},
		{0, 1 << 62, connect.CodeOutOfRange},
	} {
		if _, err := lc.GetConsistencyProof(ctx, &zkv1.GetConsistencyProofRequest{FromSize: tc.from, ToSize: tc.to}); connect.CodeOf(err) != tc.want {
			t.Errorf("from %d to %d: %v, want %v", tc.from, tc.to, err, tc.want)
		}
	}
	for _, sizes := range [][2]uint64{{0, size2}, {size2, size2}} {
		if r, err := lc.GetConsistencyProof(ctx, &zkv1.GetConsistencyProofRequest{FromSize: sizes[0], ToSize: sizes[1]}); err != nil || len(r.GetProof()) != 0 {
			t.Errorf("from %d to %d: %v, %d hashes", sizes[0], sizes[1], err, len(r.GetProof()))
		}
	}
}
