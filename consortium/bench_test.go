package consortium_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	cmthttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/zkshare/zkshare/consortium"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

func chainKey(id string, k int) *ledger.Identity {
	seed := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", id, k)))
	return &ledger.Identity{ID: id, Key: ed25519.NewKeyFromSeed(seed[:])}
}

// benchConsortium starts n bare organisations whose genesis has senders
// with chain keys, and returns their RPC clients.
func benchConsortium(b *testing.B, n, senders int) ([]*cmthttp.HTTP, ledger.Chain) {
	dir := b.TempDir()
	var extra []ledger.Participant
	for i := range senders {
		id := fmt.Sprintf("s%03d", i)
		extra = append(extra, ledger.Participant{ID: id, Role: zkv1.Role_ROLE_CONSUMER, Key: chainKey(id, 0).Public()})
	}
	m, err := consortium.Init(n, dir, consortium.Options{Development: true, Origin: "bench.consortium/ledger", Participants: extra})
	if err != nil {
		b.Fatal(err)
	}
	var clients []*cmthttp.HTTP
	for k, name := range m.Orgs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "ZKSHARE_TEST_ORG="+filepath.Join(dir, name), "ZKSHARE_TEST_BARE=1")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
			}
		})
		c, err := cmthttp.New(m.RPC[k], "/websocket")
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, c := range clients {
		for {
			st, err := c.Status(context.Background())
			if err == nil && st.SyncInfo.LatestBlockHeight >= 1 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("consortium did not start: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return clients, m.Chain()
}

// BenchmarkConsortiumCommit: committed transactions per second with 256
// senders spread over the nodes, and commit latency (p50, p99) of single
// submissions waiting for their commit; 4 validators against 1.
func BenchmarkConsortiumCommit(b *testing.B) {
	for _, validators := range []int{1, 4} {
		b.Run(fmt.Sprintf("validators=%d", validators), func(b *testing.B) {
			const senders, per = 256, 20
			clients, chain := benchConsortium(b, validators, senders+16)
			ctx := context.Background()
			// Throughput: each sender's chain goes to one node in order;
			// the last one waits for its commit.
			start := time.Now()
			var wg sync.WaitGroup
			for i := range senders {
				id := fmt.Sprintf("s%03d", i)
				c := clients[i%len(clients)]
				wg.Go(func() {
					for k := 1; k <= per; k++ {
						tx, _ := ledger.NewTx(chain, chainKey(id, k-1), uint64(k), time.Now(), ledger.RotateKey(id, chainKey(id, k).Public()))
						if k < per {
							res, err := c.BroadcastTxSync(ctx, tx.Raw)
							if err != nil || res.Code != 0 {
								b.Errorf("%s #%d: %v %v", id, k, err, res)
								return
							}
							continue
						}
						res, err := c.BroadcastTxCommit(ctx, tx.Raw)
						if err != nil || res.TxResult.Code != 0 {
							b.Errorf("%s last: %v %v", id, err, res)
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			// Latency: 16 senders, each waiting for its commit, 10 times.
			var mu sync.Mutex
			var lat []time.Duration
			for i := range 16 {
				id := fmt.Sprintf("s%03d", senders+i)
				c := clients[i%len(clients)]
				wg.Go(func() {
					for k := 1; k <= 10; k++ {
						tx, _ := ledger.NewTx(chain, chainKey(id, k-1), uint64(k), time.Now(), ledger.RotateKey(id, chainKey(id, k).Public()))
						t0 := time.Now()
						res, err := c.BroadcastTxCommit(ctx, tx.Raw)
						if err != nil || res.TxResult.Code != 0 {
							b.Errorf("%s: %v %v", id, err, res)
							return
						}
						mu.Lock()
						lat = append(lat, time.Since(t0))
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(senders*per)/elapsed.Seconds(), "tx/s")
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50_ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99_ms")
			}
		})
	}
}
