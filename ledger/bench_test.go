package ledger_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// benchLedger is a ledger on disk whose genesis has n consumers with
// chain keys, and n pre-signed chains of per transactions each.
func benchLedger(b testing.TB, n, per int) (*ledger.Ledger, [][]*ledger.Tx) {
	b.Helper()
	dir := b.TempDir()
	admin, node := chainKey("admin", 0), chainKey("node", 0)
	g := genesis(b, admin, node)
	txs := make([][]*ledger.Tx, n)
	for i := range n {
		id := fmt.Sprintf("s%02d", i)
		g.Participants = append(g.Participants, ledger.Participant{ID: id, Role: zkv1.Role_ROLE_CONSUMER, Key: chainKey(id, 0).Public()})
	}
	st, err := g.State()
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("s%02d", i)
		for k := 1; k <= per; k++ {
			tx, err := ledger.NewTx(st.Chain(), chainKey(id, k-1), uint64(k), time.Now(), ledger.RotateKey(id, chainKey(id, k).Public()))
			if err != nil {
				b.Fatal(err)
			}
			txs[i] = append(txs[i], tx)
		}
	}
	if err := ledger.Init(dir, g); err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(dir, node, ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l, txs
}

func submitAll(b *testing.B, l *ledger.Ledger, txs [][]*ledger.Tx) {
	var wg sync.WaitGroup
	for _, chain := range txs {
		wg.Go(func() {
			for _, tx := range chain {
				if _, err := l.SubmitTx(context.Background(), tx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkAppend: durable (synced), signature-checked appends with 64
// concurrent submitters; b.N is the number of transactions.
func BenchmarkAppend(b *testing.B) {
	const submitters = 64
	per := max(1, b.N/submitters)
	l, txs := benchLedger(b, submitters, per)
	b.ResetTimer()
	submitAll(b, l, txs)
	b.StopTimer()
	b.ReportMetric(float64(submitters*per)/b.Elapsed().Seconds(), "tx/s")
	b.ReportMetric(float64(submitters*per)/float64(l.Head().Height), "tx/block")
}

func BenchmarkInclusionProof(b *testing.B) {
	l, txs := benchLedger(b, 64, 160) // a log of 10,240 transactions
	submitAll(b, l, txs)
	size := l.Head().LogSize
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := l.InclusionProof(uint64(i)%size, size); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyChain replays a chain from genesis; reports blocks/s and tx/s.
func BenchmarkVerifyChain(b *testing.B) {
	l, txs := benchLedger(b, 64, 160)
	submitAll(b, l, txs)
	h := l.Head()
	b.ResetTimer()
	for b.Loop() {
		if err := l.Verify(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(h.Height)*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
	b.ReportMetric(float64(h.LogSize)*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}
