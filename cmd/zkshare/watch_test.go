package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"golang.org/x/mod/sumdb/note"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLedgerWatch: `zkshare ledger watch` against a node whose log grows
// while it watches: each checkpoint is signed by the pinned key and
// consistent with the last; a wrong key fails.
func TestLedgerWatch(t *testing.T) {
	if os.Getenv(testkeys.Env) == "" && testing.Short() {
		t.Skip("key setup is slow")
	}
	keyDir, cleanup, err := testkeys.Dir(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	dir := t.TempDir()
	data := filepath.Join(dir, "node")
	url := serveForTest(t, keyDir, data)
	cp := checkpointOf(t, url)
	vkey, err := note.NewEd25519VerifierKey(cp.GetOrigin(), cp.GetNodeKey())
	if err != nil {
		t.Fatal(err)
	}

	var out, errs lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"ledger", "watch", "--server", url, "--ledger-key", vkey, "--interval", "100ms", "--count", "20"}, &out, &errs)
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "first seen"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no first checkpoint: %s", errs.String())
		}
	}
	if _, _, err := zk(t, "participant", "add", "--server", url, "--token-file", node.TokenPath(data, node.AdminID), "--id", "bank", "--out", filepath.Join(dir, "bank.json")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("watch: %v\n%s", err, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 20 || !strings.Contains(out.String(), "consistent with size") {
		t.Fatalf("watch printed %d lines:\n%s", len(lines), out.String())
	}

	// Another ledger's key: the node's checkpoints do not verify.
	other, _ := ledger.NewIdentity("node")
	otherKey, _ := note.NewEd25519VerifierKey(cp.GetOrigin(), other.Public())
	if _, _, err := zk(t, "ledger", "watch", "--server", url, "--ledger-key", otherKey, "--count", "1"); err == nil || !strings.Contains(err.Error(), "not signed by the ledger key") {
		t.Fatalf("watch with another key: %v", err)
	}
}

// forkServer serves the checkpoint of a first ledger once, then those of
// a second one with the same origin and key but another history: a node
// showing two histories.
type forkServer struct {
	zksharev1connect.UnimplementedLedgerServiceHandler
	mu    sync.Mutex
	calls int
	ls    []*ledger.Ledger
}

func (f *forkServer) current() *ledger.Ledger {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ls[min(f.calls, len(f.ls)-1)]
}

func (f *forkServer) GetCheckpoint(context.Context, *zkv1.GetCheckpointRequest) (*zkv1.GetCheckpointResponse, error) {
	l := f.current()
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	cp, h, err := l.Checkpoint()
	return &zkv1.GetCheckpointResponse{Checkpoint: cp, Height: h.Height, NodeKey: l.NodeKey(), Origin: l.Origin()}, err
}

func (f *forkServer) GetConsistencyProof(_ context.Context, req *zkv1.GetConsistencyProofRequest) (*zkv1.GetConsistencyProofResponse, error) {
	p, err := f.current().ConsistencyProof(req.GetFromSize(), req.GetToSize())
	return &zkv1.GetConsistencyProofResponse{Proof: p}, err
}

// TestLedgerWatchFork: a node that shows a history which does not extend
// the one it showed before is caught, loudly.
func TestLedgerWatchFork(t *testing.T) {
	admin, _ := ledger.NewIdentity("admin")
	node, _ := ledger.NewIdentity("node")
	g := &ledger.Genesis{Origin: "fork.example/ledger", TimeUnixMs: time.Now().UnixMilli(), Participants: []ledger.Participant{
		{ID: admin.ID, Role: zkv1.Role_ROLE_ADMIN, Key: admin.Public()},
		{ID: node.ID, Role: zkv1.Role_ROLE_VALIDATOR, Key: node.Public()},
	}}
	build := func(ids ...string) *ledger.Ledger {
		dir := t.TempDir()
		if err := ledger.Init(dir, g); err != nil {
			t.Fatal(err)
		}
		l, err := ledger.Open(dir, node, ledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		for i, id := range ids {
			p, _ := ledger.NewIdentity(id)
			tx, err := ledger.NewTx(l.Chain(), admin, uint64(i+1), time.Now(), ledger.RegisterParticipant(id, zkv1.Role_ROLE_CONSUMER, p.Public()))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.SubmitTx(t.Context(), tx); err != nil {
				t.Fatal(err)
			}
		}
		return l
	}
	for name, second := range map[string]*ledger.Ledger{
		"rewritten":   build("alice", "mallory", "carol"),
		"same size":   build("alice", "mallory"),
		"rolled back": build("alice"),
	} {
		t.Run(name, func(t *testing.T) {
			fs := &forkServer{ls: []*ledger.Ledger{build("alice", "bob"), second}}
			path, h := zksharev1connect.NewLedgerServiceHandler(fs)
			mux := http.NewServeMux()
			mux.Handle(path, h)
			srv := httptest.NewUnstartedServer(mux)
			srv.Config.Protocols = new(http.Protocols)
			srv.Config.Protocols.SetHTTP1(true)
			srv.Config.Protocols.SetUnencryptedHTTP2(true) // as the node serves it
			srv.Start()
			defer srv.Close()
			out, errs, err := zk(t, "ledger", "watch", "--server", srv.URL, "--interval", "10ms", "--count", "3")
			if !errors.Is(err, errInconsistent) {
				t.Fatalf("watch over a fork: %v\n%s%s", err, out, errs)
			}
			if strings.Count(out, "\n") != 1 {
				t.Fatalf("watch printed past the fork:\n%s", out)
			}
		})
	}
}
