package ledger_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// chainKey is the k-th key of sender in a deterministic chain, so the
// crash child and its parent agree on keys without sharing state.
func chainKey(id string, k int) *ledger.Identity {
	seed := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", id, k)))
	return &ledger.Identity{ID: id, Key: ed25519.NewKeyFromSeed(seed[:])}
}

const (
	crashSenders = 32
	crashTotal   = 10_000
	crashKillAt  = 3_000
)

// TestCrashRecovery kills a child process with SIGKILL in the middle of a
// load of 10,000 transactions from 32 concurrent senders, reopens the
// ledger, and finds every transaction the child saw acknowledged, and a
// chain that verifies.
func TestCrashRecovery(t *testing.T) {
	if dir := os.Getenv("ZKSHARE_LEDGER_CRASH_DIR"); dir != "" {
		crashChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	admin, node := chainKey("admin", 0), chainKey("node", 0)
	g := genesis(t, admin, node)
	for i := range crashSenders {
		id := fmt.Sprintf("s%02d", i)
		g.Participants = append(g.Participants, ledger.Participant{ID: id, Role: zkv1.Role_ROLE_CONSUMER, Key: chainKey(id, 0).Public()})
	}
	if err := ledger.Init(dir, g); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashRecovery$", "-test.v")
	cmd.Env = append(os.Environ(), "ZKSHARE_LEDGER_CRASH_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		hash, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		acked[hash] = true
		if len(acked) == crashKillAt && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL: no chance to flush or close
				t.Fatal(err)
			}
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("child finished after %d acknowledgements without being killed", len(acked))
	}

	l, err := ledger.Open(dir, nil, ledger.Options{})
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer l.Close()
	for h := range acked {
		b, _ := hex.DecodeString(h)
		if _, err := l.Transaction(b); err != nil {
			t.Fatalf("acknowledged transaction %s lost: %v", h, err)
		}
	}
	if err := l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged before the kill, %d in the ledger after restart", len(acked), l.Head().LogSize)
}

func crashChild(t *testing.T, dir string) {
	l, err := ledger.Open(dir, chainKey("node", 0), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range crashSenders {
		id := fmt.Sprintf("s%02d", i)
		wg.Go(func() {
			for k := 1; k <= crashTotal/crashSenders; k++ {
				tx, err := ledger.NewTx(l.Chain(), chainKey(id, k-1), uint64(k), time.Now(), ledger.RotateKey(id, chainKey(id, k).Public()))
				if err != nil {
					panic(err)
				}
				if _, err := l.SubmitTx(context.Background(), tx); err != nil {
					panic(err)
				}
				mu.Lock()
				fmt.Printf("ack %x\n", tx.Hash)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	l.Close()
}
