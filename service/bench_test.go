package service_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/service"
	"github.com/zkshare/zkshare/verifier"
)

// peakHeap samples the process's heap until stop is closed.
func peakHeap(stop chan struct{}) func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { <-done; return peak.Load() }
}

func benchNode(b *testing.B) (*testNode, *zkv1.Bundle) {
	n := startNode(b, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.createAndCommit("people", people(1000, 10000))
	pr, err := n.holder("bank").Prove(b.Context(), &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: "p0010", Query: "income <= 20000 AND age >= 30", Nonce: nonce(1), Blind: nonce(2)})
	if err != nil {
		b.Fatal(err)
	}
	return n, pr.GetBundle()
}

// BenchmarkServiceVerify: concurrent Verify calls over HTTP (Connect).
func BenchmarkServiceVerify(b *testing.B) {
	n, bundle := benchNode(b)
	vf := n.verifier("")
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v, err := vf.Verify(context.Background(), &zkv1.VerifyRequest{Bundle: bundle})
			if err != nil || !v.GetValid() {
				b.Errorf("verify: %v %v", v, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// BenchmarkSDKVerify: concurrent client.Verify calls, which run the
// verifier in the caller's process and read the node's ledger over HTTP
// (the remote view).
func BenchmarkSDKVerify(b *testing.B) {
	n, bundle := benchNode(b)
	c, err := client.New(n.url, client.WithKeyDir(sharedKeys(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v, err := c.Verify(context.Background(), bundle, verifier.Expect{})
			if err != nil || !v.Valid {
				b.Errorf("verify: %v %v", v, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// BenchmarkLocalVerify: the verifier against the node's own ledger in
// process (the local view), no HTTP: what the Verify RPC costs inside.
func BenchmarkLocalVerify(b *testing.B) {
	n, bundle := benchNode(b)
	vf, err := verifier.FromDir(sharedKeys(b))
	if err != nil {
		b.Fatal(err)
	}
	view := verifier.Local{L: n.srv.Ledger()}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if v := vf.Verify(context.Background(), view, bundle, verifier.Expect{}, verifier.Options{Freshness: time.Hour}); !v.Valid {
				b.Errorf("verify: %s", v.Reason)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// BenchmarkServiceProve: concurrent Prove calls over HTTP against the bare
// prover's throughput in the same process (ratio_to_bare).
func BenchmarkServiceProve(b *testing.B) {
	n, _ := benchNode(b)
	const clients = 4
	total := max(b.N, 8)
	run := func(prove func(i int) error) (time.Duration, []time.Duration) {
		var mu sync.Mutex
		var lat []time.Duration
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range clients {
			wg.Go(func() {
				for {
					i := int(next.Add(1))
					if i > total {
						return
					}
					t0 := time.Now()
					if err := prove(i); err != nil {
						b.Error(err)
						return
					}
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return time.Since(start), lat
	}
	b.ResetTimer()
	stop := make(chan struct{})
	peak := peakHeap(stop)
	elapsed, lat := run(func(i int) error {
		_, err := n.holder("bank").Prove(context.Background(), &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT,
			Subject: fmt.Sprintf("p%04d", 10+i%900), Query: "income <= 20000 AND age >= 30", Nonce: nonce(byte(i)), Blind: nonce(byte(i + 1))})
		return err
	})
	close(stop)
	b.StopTimer()
	bare, _ := run(func(i int) error {
		return n.srv.ProveForBench(context.Background(), "people", fmt.Sprintf("p%04d", 10+i%900), "income <= 20000 AND age >= 30")
	})
	slices.Sort(lat)
	b.ReportMetric(float64(total)/elapsed.Seconds(), "proofs/s")
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99_ms")
	b.ReportMetric(float64(peak())/(1<<20), "peak_heap_MiB")
	b.ReportMetric(bare.Seconds()/elapsed.Seconds(), "ratio_to_bare")
}
