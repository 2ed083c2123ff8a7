package service_test

import (
	"bytes"
	"testing"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/audit"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
	"google.golang.org/protobuf/proto"
)

// TestAuditContentsPrivate: an audit entry on the ledger shows that a
// question about a collection was answered, not who asked what or the
// answer; the consumer's receipt opens it, and only the parties can list
// its contents (issue 18, item 9).
func TestAuditContentsPrivate(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank-of-canaries", zkv1.Role_ROLE_CONSUMER)
	n.register("insurer", zkv1.Role_ROLE_CONSUMER)
	n.createAndCommit("people", people(10, 100))
	pr, err := n.holder("bank-of-canaries").Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income >= 105", Nonce: nonce(1)})
	if err != nil {
		t.Fatal(err)
	}
	r := pr.GetAudit()
	if r == nil || r.GetConsumer() != "bank-of-canaries" || r.GetStatement() != "exists" || !r.GetResult() || len(r.GetSalt()) != audit.SaltSize ||
		!bytes.Equal(r.GetQueryHash(), pr.GetBundle().GetQueryHash()) || !bytes.Equal(r.GetNonce(), nonce(1)) {
		t.Fatalf("audit receipt %v", r)
	}

	// The public view of the entry.
	tr, err := n.ledgerClient("").GetTransaction(ctx, &zkv1.GetTransactionRequest{Hash: r.GetTxHash()})
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string][]byte{"consumer": []byte("bank-of-canaries"), "statement": []byte("exists"), "query hash": r.GetQueryHash(), "nonce": r.GetNonce(), "bundle hash": r.GetBundleHash()} {
		if bytes.Contains(tr.GetTx(), secret) {
			t.Errorf("the public audit transaction shows the %s", name)
		}
		// Its block (the consumer's id is public elsewhere: its registration).
		blk, _, err := n.srv.Ledger().Block(tr.GetHeight())
		if err != nil {
			t.Fatal(err)
		}
		if bb, _ := proto.Marshal(blk); bytes.Contains(bb, secret) {
			t.Errorf("the audit's block shows the %s", name)
		}
	}
	tx, err := ledger.DecodeTx(tr.GetTx())
	if err != nil {
		t.Fatal(err)
	}
	a := tx.Body.GetAudit()
	if a == nil || len(a.GetCommitment()) != 32 || len(a.ProtoReflect().GetUnknown()) != 0 {
		t.Fatalf("audit transaction %v", a)
	}
	if !proto.Equal(a, &zkv1.Audit{CollectionId: r.GetCollectionId(), Commitment: a.GetCommitment()}) {
		t.Fatalf("the audit transaction carries more than the collection and the commitment (so no result bit): %v", a)
	}

	// The consumer's receipt opens the entry; a changed one does not.
	if err := audit.Check(r, a); err != nil {
		t.Fatalf("the receipt does not open its entry: %v", err)
	}
	for name, mut := range map[string]func(*zkv1.AuditReceipt){
		"consumer": func(r *zkv1.AuditReceipt) { r.Consumer = "insurer" },
		"result":   func(r *zkv1.AuditReceipt) { r.Result = false },
		"query":    func(r *zkv1.AuditReceipt) { r.QueryHash = nonce(9) },
		"salt":     func(r *zkv1.AuditReceipt) { r.Salt = nonce(9) },
	} {
		m := proto.CloneOf(r)
		mut(m)
		if err := audit.Check(m, a); err == nil {
			t.Errorf("a receipt with another %s opened the entry", name)
		}
	}

	// Listing: the consumer its own, the holder its collection's, no one else.
	mine, err := n.ledgerClient("bank-of-canaries").ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{Consumer: "bank-of-canaries"})
	if err != nil || len(mine.GetEntries()) != 1 || !proto.Equal(mine.GetEntries()[0].GetReceipt(), r) || audit.Check(mine.GetEntries()[0].GetReceipt(), mine.GetEntries()[0].GetAudit()) != nil {
		t.Fatalf("the consumer's own entries: %v %v", mine, err)
	}
	if _, err := n.ledgerClient("insurer").ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{Consumer: "bank-of-canaries"}); code(err) != connect.CodePermissionDenied {
		t.Fatalf("a consumer listing another's entries: %v", err)
	}
	if theirs, err := n.ledgerClient("insurer").ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{Consumer: "insurer"}); err != nil || len(theirs.GetEntries()) != 0 {
		t.Fatalf("a consumer that asked nothing: %v %v", theirs, err)
	}
	if _, err := n.ledgerClient("insurer").ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{CollectionId: r.GetCollectionId()}); code(err) != connect.CodePermissionDenied {
		t.Fatalf("a consumer listing a collection's entries: %v", err)
	}
	if _, err := n.ledgerClient("").ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{Consumer: "bank-of-canaries"}); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("listing without a token: %v", err)
	}
	held, err := n.ledgerClient(node.HolderID).ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{CollectionId: r.GetCollectionId()})
	if err != nil || len(held.GetEntries()) != 1 || held.GetEntries()[0].GetReceipt().GetConsumer() != "bank-of-canaries" {
		t.Fatalf("the holder's entries: %v %v", held, err)
	}
	if after, err := n.ledgerClient(node.HolderID).ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{CollectionId: r.GetCollectionId(), AfterLogIndex: r.GetLogIndex()}); err != nil || len(after.GetEntries()) != 0 {
		t.Fatalf("entries after the last: %v %v", after, err)
	}
}
