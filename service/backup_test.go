package service_test

import (
	"bytes"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
)

// TestBackupOnline takes a backup of a serving node through the API while
// proofs run, restores it into a new directory, and serves that: it proves
// a subject statement against the same anchored root, the bundle verifies,
// and the commit made after the backup is not there. Only the node's
// admin may take a backup.
func TestBackupOnline(t *testing.T) {
	if testing.Short() {
		t.Skip("proofs are slow")
	}
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	committed := n.createAndCommit("people", people(20, 10000))

	anon, err := client.New(n.url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Backup(ctx, io.Discard); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("backup without a token: %v", err)
	}
	for _, id := range []string{node.HolderID, "bank"} {
		c, err := client.New(n.url, client.WithToken(n.tokens[id]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Backup(ctx, io.Discard); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Fatalf("backup by %s: %v", id, err)
		}
	}

	// Proofs in flight while the backup streams.
	bank := n.holder("bank")
	var wg sync.WaitGroup
	proofErrs := make(chan error, 2)
	proofsDone := make(chan time.Time, 2)
	for i := range 2 {
		wg.Go(func() {
			_, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: canaries[2],
				Query: "income >= 50000", Nonce: nonce(byte(20 + i)), Blind: nonce(byte(120 + i))})
			proofErrs <- err
			proofsDone <- time.Now()
		})
	}
	time.Sleep(50 * time.Millisecond)
	admin, err := client.New(n.url, client.WithToken(n.tokens[node.AdminID]))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var progress []int
	start := time.Now()
	size, err := admin.Backup(ctx, &buf, client.WithProgress(func(done, _ int) { progress = append(progress, done) }))
	if err != nil {
		t.Fatal(err)
	}
	backupDone := time.Now()
	wg.Wait()
	close(proofErrs)
	close(proofsDone)
	for err := range proofErrs {
		if err != nil {
			t.Fatalf("a proof during the backup: %v", err)
		}
	}
	overlapped := false
	for at := range proofsDone {
		overlapped = overlapped || at.After(start)
	}
	if !overlapped {
		t.Log("no proof was still running when the backup started")
	}
	if size != int64(buf.Len()) || len(progress) == 0 || progress[len(progress)-1] != buf.Len() {
		t.Fatalf("backup of %d bytes, %d received, progress %v", size, buf.Len(), progress)
	}
	t.Logf("backup: %d bytes in %s", size, backupDone.Sub(start))

	// A commit after the backup: the restored node must not have it.
	n.commit("people", []*zkv1.Record{{Key: "LATER", Values: []string{"1", "20", "active", "north"}}})

	dst := filepath.Join(t.TempDir(), "restored")
	m, err := node.Restore(ctx, &buf, dst, node.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.LedgerHeight < committed.GetAnchorHeight() {
		t.Fatalf("the archive's ledger is at height %d, before the anchor at %d", m.LedgerHeight, committed.GetAnchorHeight())
	}
	r := startNode(t, service.Config{Data: dst})
	r.tokens["bank"] = n.tokens["bank"] // tokens.json came with the archive
	info, err := r.holder("").GetCollection(ctx, &zkv1.GetCollectionRequest{Name: "holder/people"})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetCollection().GetRecordCount() != 20 || !bytes.Equal(info.GetCollection().GetRoot(), committed.GetRoot()) {
		t.Fatalf("restored collection %v; want 20 records under root %x", info.GetCollection(), committed.GetRoot())
	}
	pr, err := r.holder("bank").Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: canaries[0],
		Query: "income <= 20000 AND age >= 65", Nonce: nonce(1), Blind: nonce(101)})
	if err != nil {
		t.Fatal(err)
	}
	if !pr.GetBundle().GetResult() || !bytes.Equal(pr.GetBundle().GetRoot(), committed.GetRoot()) {
		t.Fatalf("proof on the restored node: result %v, root %x", pr.GetBundle().GetResult(), pr.GetBundle().GetRoot())
	}
	v, err := r.verifier("").Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), Nonce: nonce(1), Subject: canaries[0], Expect: &zkv1.Expectation{Blind: nonce(101)}})
	if err != nil || !v.GetValid() {
		t.Fatalf("verify on the restored node: %v %v", v, err)
	}
	if _, err := r.holder("bank").Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: "LATER",
		Query: "income <= 20000", Nonce: nonce(2), Blind: nonce(102)}); err == nil {
		t.Fatal("the restored node proved about a record committed after the backup")
	}
}
