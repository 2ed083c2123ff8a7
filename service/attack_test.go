package service_test

// Review 12 (security review of the one bundle format and the verifier's
// three ledger views): each test reproduces one finding.

import (
	"bytes"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
	"github.com/zkshare/zkshare/verifier"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"
)

// Finding 1: offline, the confirmation rule is the one in the collection's
// registration. A collection registered without confirmers that governance
// later put under M-of-N (SetConfirmers) gets new anchors that await their
// confirmations; the offline view counts such a pending anchor with no
// confirmation at all, and said nothing about confirmations (its warning
// was only given when the registration itself required some). The holder
// assembles the evidence from public reads (GetAnchor, GetTransaction).
func TestAttackOfflinePendingAnchorAfterSetConfirmers(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.register("mallory", zkv1.Role_ROLE_HOLDER)
	n.createAndCommit("people", people(10, 100))
	pr, err := n.holder("bank").Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income >= 0", Nonce: nonce(5)})
	if err != nil {
		t.Fatal(err)
	}
	good := pr.GetBundle()

	// Governance puts the collection under 1-of-1 confirmation.
	h := n.holder(node.HolderID)
	sr, err := h.SetConfirmers(ctx, &zkv1.SetConfirmersRequest{Collection: "people", Confirmers: []string{"mallory"}, ConfirmationsRequired: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.admin(node.AdminID).Approve(ctx, &zkv1.ApproveRequest{ProposalId: sr.GetStatus().GetProposalId()}); err != nil {
		t.Fatal(err)
	}
	// The holder anchors a new root that nobody confirms: it does not count.
	update := people(10, 100)[:1]
	update[0].Values[0] = "1"
	n.commit("people", update)
	// Proofs read the newest anchored root that counts: the first one.
	if pr, err := n.holder("bank").Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income >= 0", Nonce: nonce(5)}); err != nil || !bytes.Equal(pr.GetBundle().GetRoot(), good.GetRoot()) {
		t.Fatalf("prove while the new anchor is pending: %v, want a bundle of the anchor that counts", err)
	}

	// The holder's own bundle on the pending anchor, evidence from public reads.
	lc := n.ledgerClient("")
	ar, err := lc.GetAnchor(ctx, &zkv1.GetAnchorRequest{CollectionId: good.GetCollectionId(), Sequence: 2})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := ledger.DecodeTx(good.GetCollectionTxs()[0].GetTx())
	if err != nil {
		t.Fatal(err)
	}
	at, err := lc.GetTransaction(ctx, &zkv1.GetTransactionRequest{Hash: ar.GetTxHash()})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := lc.GetTransaction(ctx, &zkv1.GetTransactionRequest{Hash: reg.Hash[:]})
	if err != nil || !bytes.Equal(at.GetCheckpoint(), rt.GetCheckpoint()) {
		t.Fatalf("registration evidence: %v (or a block was cut between reads)", err)
	}
	forged := proto.CloneOf(good)
	forged.Root = ar.GetAnchor().GetRoot()
	forged.AnchorTx, forged.AnchorLogIndex, forged.AnchorInclusion, forged.Checkpoint = at.GetTx(), at.GetLogIndex(), at.GetInclusion(), at.GetCheckpoint()
	forged.CollectionTxs = []*zkv1.LedgerEvidence{{Tx: rt.GetTx(), LogIndex: rt.GetLogIndex(), Inclusion: rt.GetInclusion()}}
	forged.HolderKeyTx, forged.Confirmations = nil, nil

	pinned, err := verifier.FromDir(sharedKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := lc.GetCheckpoint(ctx, &zkv1.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := note.NewEd25519VerifierKey(cp.GetOrigin(), cp.GetNodeKey())
	if err != nil {
		t.Fatal(err)
	}
	off, err := verifier.NewOffline(forged, vkey, pinned)
	if err != nil {
		t.Fatal(err)
	}
	local := pinned.Verify(ctx, verifier.Local{L: n.srv.Ledger()}, forged, verifier.Expect{}, verifier.Options{})
	if local.Valid || local.Failed != verifier.CheckAnchor {
		t.Fatalf("local: valid=%v %s: %s", local.Valid, verifier.CheckName(local.Failed), local.Reason)
	}
	offline := pinned.Verify(ctx, off, forged, verifier.Expect{}, verifier.Options{})
	// The proof is of the old root (the test has no prover of its own; a
	// holder has): it fails only at the proof check, the anchor check passed.
	passedAnchor := false
	for _, c := range offline.Passed {
		passedAnchor = passedAnchor || c == verifier.CheckAnchor
	}
	t.Logf("offline: passed %v, failed %s (%s), warnings %q", offline.Checked(), verifier.CheckName(offline.Failed), offline.Reason, offline.Warnings)
	if passedAnchor && !strings.Contains(strings.Join(offline.Warnings, "\n"), "confirm") {
		t.Errorf("offline counted a pending anchor (no confirmations, the ledger requires 1) without a word about confirmations")
	}
}

// fakeAggregate is an aggregate bundle that passes bundle.Check and
// nothing else.
func fakeAggregate() *zkv1.Bundle {
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	return &zkv1.Bundle{Version: bundle.Version, Kind: bundle.KindAggregate, Collection: "holder/people", CollectionId: h(0),
		Query: "income >= 0", QueryHash: h(0), Root: h(0), Nonce: h(0), Circuit: zkv1.Circuit_CIRCUIT_AGGREGATE_TOTAL,
		CircuitId: h(1), VkSha256: h(2), Proof: []byte{1},
		Aggregate: &zkv1.AggregateBody{Field: "income", ChunkCircuitId: h(4), ChunkVkSha256: h(5),
			Chunks: []*zkv1.AggregateChunk{{Partial: h(0), Proof: []byte{1}, Root: h(3)}},
			Answer: &zkv1.AggregateBody_Reveal{Reveal: &zkv1.AggregateReveal{Sum: "0"}}}}
}

// Finding 2: Verify takes aggregate bundles too, and so bypasses the rate
// and concurrency bound VerifyAggregate puts on them (up to 128 chunk
// proofs and a combining proof each, for an anonymous caller).
func TestAttackVerifyBypassesAggregateLimit(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{}, service.WithVerifyAggregateLimit(1, 1))
	vc := n.verifier("")
	b := fakeAggregate()
	if _, err := vc.VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := vc.VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: b}); code(err) != connect.CodeResourceExhausted {
		t.Fatalf("second VerifyAggregate in a minute: %v", err)
	}
	for i := range 3 {
		if _, err := vc.Verify(ctx, &zkv1.VerifyRequest{Bundle: b}); code(err) != connect.CodeResourceExhausted {
			t.Errorf("Verify %d of an aggregate bundle past the aggregate limit: %v", i, err)
		}
	}
	// Subject and exists bundles are not limited by it.
	sb := fakeAggregate()
	sb.Kind, sb.Circuit, sb.Aggregate = bundle.KindExists, zkv1.Circuit_CIRCUIT_EXISTS, nil
	sb.Result = true
	if _, err := vc.Verify(ctx, &zkv1.VerifyRequest{Bundle: sb}); err != nil {
		t.Errorf("Verify of an exists bundle: %v", err)
	}
}

// Finding 3: the documented bundle size limit (bundle.MaxSize, 1 MiB) is
// not enforced on the wire: Verify and VerifyAggregate never call
// bundle.FromWire, so a bundle of up to the server's 16 MiB message limit
// is decoded and checked (its schema parsed, its transactions hashed).
func TestAttackVerifyBundleSizeLimit(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	b := fakeAggregate()
	b.Kind, b.Circuit, b.Aggregate, b.Result = bundle.KindExists, zkv1.Circuit_CIRCUIT_EXISTS, nil, true
	b.Schema = bytes.Repeat([]byte(" "), 2*bundle.MaxSize)
	_, err := n.verifier("").Verify(ctx, &zkv1.VerifyRequest{Bundle: b})
	wantCode(t, "Verify of a 2 MiB bundle", err, connect.CodeInvalidArgument, "bundle")
	ab := fakeAggregate()
	ab.Schema = b.Schema
	_, err = n.verifier("").VerifyAggregate(ctx, &zkv1.VerifyAggregateRequest{Bundle: ab})
	wantCode(t, "VerifyAggregate of a 2 MiB bundle", err, connect.CodeInvalidArgument, "bundle")
}
