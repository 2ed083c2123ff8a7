package holder_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/records"
)

// BenchmarkCommitEncrypted measures what encryption at rest costs a commit:
// the same 20,000 small records committed into a fresh on-disk store, plain
// and encrypted (AES-256). Each iteration opens a new store; only the
// commit is timed.
func BenchmarkCommitEncrypted(b *testing.B) {
	sc, err := records.ParseSchema([]byte(`{"name":"people","key":"id","fields":[
	 {"name":"income","type":"uint","width":32},{"name":"region","type":"enum","values":["north","south"]},
	 {"name":"status","type":"string"}]}`))
	if err != nil {
		b.Fatal(err)
	}
	const n = 20_000
	recs := make([]records.Record, n)
	for i := range recs {
		recs[i] = records.Record{Key: fmt.Sprintf("p%06d", i), Values: []string{fmt.Sprint(1000 + i), "north", fmt.Sprintf("status-%d", i%7)}}
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts []holder.Option
	}{
		{"plain", nil},
		{"encrypted", []holder.Option{holder.WithEncryptionKey(bytes.Repeat([]byte{0x5a}, 32))}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				st, err := holder.Open(b.TempDir(), nil, tc.opts...)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := st.CreateCollection(ctx, "people", sc); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := st.Commit(ctx, "people", recs, nil)
				if err != nil || res.Count != n {
					b.Fatalf("commit: %+v, %v", res, err)
				}
				b.StopTimer()
				if err := st.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
