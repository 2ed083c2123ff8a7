package node_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/records"
)

// copyDir copies a data directory as it is on disk right now: with synced
// writes, what a kill -9 at this instant would leave behind. cp keeps
// badger's sparse files sparse.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", "--sparse=always", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	// The crashed process's locks die with it.
	for _, store := range []string{"holder", "ledger"} {
		if err := os.Remove(filepath.Join(dst, store, "LOCK")); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

// withPeople makes collection people on n, with a consumer bank allowed
// subject questions, and returns bank.
func withPeople(tb testing.TB, n *node.Node) node.Caller {
	tb.Helper()
	ctx := tb.Context()
	if _, _, err := n.CreateCollection(ctx, holderC, node.NewCollection{Schema: []byte(schema)}); err != nil {
		tb.Fatal(err)
	}
	ident, _ := ledger.NewIdentity("bank")
	if _, err := n.RegisterParticipant(ctx, adminC, "bank", zkv1.Role_ROLE_CONSUMER, ident.Public()); err != nil {
		tb.Fatal(err)
	}
	pol := &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{Consumer: "bank", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT}}}}
	if err := n.SetPolicy(ctx, holderC, "people", pol); err != nil {
		tb.Fatal(err)
	}
	return node.Caller{ID: "bank", Role: zkv1.Role_ROLE_CONSUMER}
}

func people(from, n int, income int) []records.Record {
	out := make([]records.Record, n)
	for i := range out {
		out[i] = records.Record{Key: fmt.Sprintf("p%06d", from+i), Values: []string{fmt.Sprint(income), "40"}}
	}
	return out
}

// TestCrashPoints stops a commit at each of its steps, takes the data
// directory as a kill -9 there would leave it, and starts a node on it:
// without any manual step it proves against an anchored root (the last
// one, or the commit's own if the ledger anchored it), every acknowledged
// record is there, nothing of an unacknowledged commit is visible, the
// ledger verifies, and GetCollection says what recovery did. A proof asked
// while the commit runs does not wait for it, and verifies.
func TestCrashPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Groth16 keys")
	}
	ctx := t.Context()
	data := t.TempDir()
	images := map[node.CommitStep]string{}
	var mu sync.Mutex
	var during chan struct{} // closed by the hook's proof when done
	var proveDuring func()
	hook := func(step node.CommitStep, done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := images[step]; ok || proveDuring == nil {
			return
		}
		dir := filepath.Join(t.TempDir(), "image")
		copyDir(t, data, dir)
		images[step] = dir
		if step == node.StepChunk {
			// The commit is held here until a proof has run: if proofs
			// waited for commits, this would never return.
			go proveDuring()
			select {
			case <-during:
			case <-time.After(3 * time.Minute):
				t.Error("a proof waited for the running commit")
			}
		}
	}
	n, err := node.Open(ctx, node.Config{Data: data, Keys: sharedKeys(t), ProveConcurrency: 1, ProveQueue: 1, OnCommitStep: hook, CommitChunk: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	bank := withPeople(t, n)
	first, err := n.Commit(ctx, holderC, "people", people(0, 2000, 100))
	if err != nil {
		t.Fatal(err)
	}
	// ask proves a subject of the first commit on m and verifies it; it
	// returns the root the bundle is of.
	ask := func(m *node.Node, subject string) []byte {
		t.Helper()
		nonce, blind := scalarBytes(11), scalarBytes(12)
		q := node.Question{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: subject, Query: "income <= 30000", Nonce: nonce, Blind: blind}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		a, err := m.Prove(pctx, bank, q)
		if err != nil {
			t.Errorf("prove %s: %v", subject, err)
			return nil
		}
		exp := &zkv1.Expectation{Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Collection: "holder/people", Subject: subject, Blind: blind, Nonce: nonce, Query: "income <= 30000"}
		v, err := m.Verify(ctx, node.VerifyRequest{Bundle: a.Bundle, Expect: exp})
		if err != nil || !v.Valid {
			t.Errorf("verify %s: %+v %v", subject, v, err)
		}
		return a.Bundle.GetRoot()
	}
	var duringRoot []byte
	during = make(chan struct{})
	proveDuring = func() {
		defer close(during)
		duringRoot = ask(n, "p000007")
		// GetCollection shows the anchored state, not the half-written one.
		info, err := n.Collection(ctx, holderC, "people")
		if err != nil || info.GetRecordCount() != 2000 || !info.GetProving().GetCommitting() {
			t.Errorf("collection during a commit: %v %v", info, err)
		}
	}
	// 1,000 new records: four chunks.
	second, err := n.Commit(ctx, holderC, "people", people(2000, 1000, 200))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(duringRoot, first.Root) {
		t.Fatal("the proof during the commit is not of the last anchored root")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		step node.CommitStep
		// the commit took effect: the ledger anchored its root
		took     bool
		recovery string
	}{
		{node.StepChunk, false, "rolled back a commit cut short"},
		{node.StepWritten, false, "rolled back a commit cut short"},
		{node.StepAnchored, true, "anchored but not yet recorded by the store"},
	} {
		t.Run(fmt.Sprint(tc.step), func(t *testing.T) {
			dir := images[tc.step]
			if dir == "" {
				t.Fatal("no image taken at this step")
			}
			m, err := node.Open(ctx, node.Config{Data: dir, Keys: sharedKeys(t), ProveConcurrency: 1, ProveQueue: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			// Proofs are served at once, recovery or not.
			root := ask(m, "p000007")
			want, count := first.Root, uint64(2000)
			if tc.took {
				want, count = second.Root, 3000
			}
			if !bytes.Equal(root, want) {
				t.Fatalf("proved against another root than the anchored one")
			}
			info := waitRecovered(t, m)
			if !strings.Contains(info.GetProving().GetRecovery(), tc.recovery) {
				t.Fatalf("recovery %q, want %q", info.GetProving().GetRecovery(), tc.recovery)
			}
			if info.GetRecordCount() != count || info.GetProving().GetRecordCount() != count || !bytes.Equal(info.GetProving().GetRoot(), want) {
				t.Fatalf("collection after recovery: %v", info)
			}
			if err := m.Ledger().Verify(ctx, nil); err != nil {
				t.Fatalf("ledger verify: %v", err)
			}
			// A record of the interrupted commit is there only if it took.
			_, err = m.IssueReceipt(ctx, holderC, "people", "p002999")
			if (err == nil) != tc.took {
				t.Fatalf("record of the interrupted commit: %v (took %v)", err, tc.took)
			}
			if _, err := m.IssueReceipt(ctx, holderC, "people", "p001999"); err != nil {
				t.Fatalf("acknowledged record: %v", err)
			}
			// Committing goes on from the recovered state.
			c, err := m.Commit(ctx, holderC, "people", people(50000, 10, 300))
			if err != nil || c.Count != count+10 {
				t.Fatalf("commit after recovery: %+v %v", c, err)
			}
			if root := ask(m, "p050003"); !bytes.Equal(root, c.Root) {
				t.Fatal("the commit after recovery is not what proofs read")
			}
		})
	}
}

// waitRecovered waits for recovery's background rollback to finish (the
// next commit would wait for it too) and returns the collection.
func waitRecovered(t *testing.T, m *node.Node) *zkv1.CollectionInfo {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := m.Collection(t.Context(), holderC, "people")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(info.GetProving().GetRecovery(), "rolling back") || time.Now().After(deadline) {
			return info
		}
		time.Sleep(50 * time.Millisecond)
	}
}
