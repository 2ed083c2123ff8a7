package prover_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/zkshare/zkshare/circuits"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
)

// BenchmarkProveAggregate proves SUM(co2_kg) over the cold-chain shipments
// with a one-clause filter, end to end from the holder store (snapshot,
// chunk proofs on both cores, the combining proof), at 1k, 10k and 100k
// records (the shipments repeat under new keys past 20k). It reports
// rows/s, constraints per row and the process's peak resident memory.
func BenchmarkProveAggregate(b *testing.B) {
	ctx := context.Background()
	dir, cleanup, err := testkeys.Dir(ctx, append(append([]string{}, keys.Core...), keys.Aggregates...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer cleanup()
	sc, err := records.LoadSchema(filepath.Join("..", "testdata", "coldchain", "schema.json"))
	if err != nil {
		b.Fatal(err)
	}
	fh, err := os.Open(filepath.Join("..", "testdata", "coldchain", "shipments.csv"))
	if err != nil {
		b.Fatal(err)
	}
	all, err := sc.ReadCSV(fh)
	fh.Close()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1_000, 10_000, 90_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			recs := make([]records.Record, n)
			for i := range recs {
				r := all[i%len(all)]
				recs[i] = records.Record{Key: fmt.Sprintf("%s-%d", r.Key, i/len(all)), Values: r.Values}
			}
			st, err := holder.Open("", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if _, err := st.CreateCollection(ctx, "coldchain", sc); err != nil {
				b.Fatal(err)
			}
			if _, err := st.Commit(ctx, "coldchain", recs, nil); err != nil {
				b.Fatal(err)
			}
			p, err := prover.New(st, dir)
			if err != nil {
				b.Fatal(err)
			}
			var last atomic.Int64
			b.ResetTimer()
			for b.Loop() {
				_, err := p.Aggregate(ctx, prover.AggregateRequest{Collection: "coldchain", Query: `lot == "L-2026-Q3"`, Field: "co2_kg"},
					func(done, total int) { last.Store(int64(done)) })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(p.Constraints(zkv1.Circuit_CIRCUIT_AGGREGATE))/circuits.AggChunkRows, "constraints/row")
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
			}
			b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "cores")
		})
	}
}
