package node_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
)

// benchRecords is the size of the commits the continuous-operation
// benchmarks run (ZKSHARE_BENCH_RECORDS, default 100,000).
func benchRecords(b *testing.B) int {
	if s := os.Getenv("ZKSHARE_BENCH_RECORDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 100_000
}

// benchNode is a node with collection people (2,000 records) and a
// consumer allowed subject questions.
func benchNode(b *testing.B, data string, hook func(node.CommitStep, int, int)) (*node.Node, node.Caller) {
	b.Helper()
	ctx := b.Context()
	n, err := node.Open(ctx, node.Config{Data: data, Keys: sharedKeys(b), ProveConcurrency: 1, ProveQueue: 4, OnCommitStep: hook})
	if err != nil {
		b.Fatal(err)
	}
	bank := withPeople(b, n)
	if _, err := n.Commit(ctx, holderC, "people", people(0, 2000, 100)); err != nil {
		b.Fatal(err)
	}
	return n, bank
}

func proveOnce(ctx context.Context, b *testing.B, n *node.Node, bank node.Caller, i int) time.Duration {
	q := node.Question{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: "p000" + strconv.Itoa(100+i%900),
		Query: "income <= 30000", Nonce: scalarBytes(byte(i)), Blind: scalarBytes(byte(i + 1))}
	start := time.Now()
	if _, err := n.Prove(ctx, bank, q); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func pct(l []time.Duration, p int) float64 {
	l = slices.Clone(l)
	slices.Sort(l)
	return l[min(len(l)-1, len(l)*p/100)].Seconds() * 1000
}

// BenchmarkProveDuringCommit: proof latency (p50, p99 in ms) while a
// commit of benchRecords new records runs, against none.
func BenchmarkProveDuringCommit(b *testing.B) {
	ctx := b.Context()
	n, bank := benchNode(b, b.TempDir(), nil)
	defer n.Close()
	var quiet []time.Duration
	for i := range 20 {
		quiet = append(quiet, proveOnce(ctx, b, n, bank, i))
	}
	var busy []time.Duration
	var commitTime time.Duration
	for b.Loop() {
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Go(func() {
			defer close(done)
			start := time.Now()
			if _, err := n.Commit(ctx, holderC, "people", people(10_000_000+len(busy)*benchRecords(b), benchRecords(b), 200)); err != nil {
				b.Error(err)
			}
			commitTime = time.Since(start)
		})
		for i := 0; ; i++ {
			select {
			case <-done:
			default:
				busy = append(busy, proveOnce(ctx, b, n, bank, i))
				continue
			}
			break
		}
		wg.Wait()
	}
	b.ReportMetric(pct(quiet, 50), "idle-p50-ms")
	b.ReportMetric(pct(quiet, 99), "idle-p99-ms")
	b.ReportMetric(pct(busy, 50), "commit-p50-ms")
	b.ReportMetric(pct(busy, 99), "commit-p99-ms")
	b.ReportMetric(float64(len(busy)), "proofs-during")
	b.ReportMetric(commitTime.Seconds(), "commit-s")
}

// BenchmarkRestartAfterCrash: a node holding benchRecords records is
// stopped (as a kill -9 would leave it) half way through a commit of as
// many more; the time from start to the first proof, and until recovery
// rolled the commit back.
func BenchmarkRestartAfterCrash(b *testing.B) {
	ctx := b.Context()
	data := b.TempDir()
	image := filepath.Join(b.TempDir(), "image")
	var once sync.Once
	var n *node.Node
	hook := func(step node.CommitStep, done, total int) {
		if step == node.StepChunk && total > benchRecords(b) && done >= total/2 {
			once.Do(func() { copyDir(b, data, image) })
		}
	}
	n, _ = benchNode(b, data, hook)
	if _, err := n.Commit(ctx, holderC, "people", people(10_000_000, benchRecords(b), 200)); err != nil {
		b.Fatal(err)
	}
	if _, err := n.Commit(ctx, holderC, "people", people(20_000_000, benchRecords(b)+1, 300)); err != nil {
		b.Fatal(err)
	}
	n.Close()
	bank := node.Caller{ID: "bank", Role: zkv1.Role_ROLE_CONSUMER}
	var open, first, recovered time.Duration
	for b.Loop() {
		dir := filepath.Join(b.TempDir(), "run")
		copyDir(b, image, dir)
		start := time.Now()
		m, err := node.Open(ctx, node.Config{Data: dir, Keys: sharedKeys(b), ProveConcurrency: 1, ProveQueue: 1})
		if err != nil {
			b.Fatal(err)
		}
		open = time.Since(start)
		proveOnce(ctx, b, m, bank, 1)
		first = time.Since(start)
		for {
			info, err := m.Collection(ctx, holderC, "people")
			if err != nil {
				b.Fatal(err)
			}
			if r := info.GetProving().GetRecovery(); r != "" && r[:7] != "rolling" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		recovered = time.Since(start)
		m.Close()
	}
	b.ReportMetric(open.Seconds(), "open-s")
	b.ReportMetric(first.Seconds(), "first-proof-s")
	b.ReportMetric(recovered.Seconds(), "rolled-back-s")
}
