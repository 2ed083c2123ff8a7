package ledger_test

import (
	"context"
	"encoding/hex"
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

// BenchmarkBlockWithLargeState is the cost of one block of 4 anchors (4
// holders, one each) on a state of n participants and n collections;
// b.N is the number of blocks. It reports the bytes of each block's write
// batch (written/block) besides the time and allocations.
func BenchmarkBlockWithLargeState(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) { benchBlockLargeState(b, n) })
	}
}

func benchBlockLargeState(b *testing.B, n int) {
	const holders = 4
	dir := b.TempDir()
	admin, node := chainKey("admin", 0), chainKey("node", 0)
	g := genesis(b, admin, node)
	for i := range holders {
		id := fmt.Sprintf("h%d", i)
		g.Participants = append(g.Participants, ledger.Participant{ID: id, Role: zkv1.Role_ROLE_HOLDER, Key: chainKey(id, 0).Public()})
	}
	if err := ledger.Init(dir, g); err != nil {
		b.Fatal(err)
	}
	circuit := h32("circuit")
	coll := func(i int) []byte { return h32(fmt.Sprintf("collection/%d", i)) }
	err := ledger.SeedStateForTest(dir, func(st *ledger.State) {
		st.Circuits[ledger.CircuitKey(circuit, h32("vk"))] = ledger.Circuit{ID: circuit, Name: "c", VKSHA256: h32("vk"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}
		for i := range n {
			id := fmt.Sprintf("p%06d", i)
			st.Participants[id] = ledger.Participant{ID: id, Role: zkv1.Role_ROLE_HOLDER, Key: h32(id), Sequence: 1}
			c := ledger.Collection{ID: coll(i), Name: fmt.Sprintf("c%06d", i), Holder: id, SchemaHash: h32("schema"), TreeDepth: 20, CircuitIDs: [][]byte{circuit}}
			if i < holders {
				c.Holder = fmt.Sprintf("h%d", i)
			} else {
				c.Last = &ledger.AnchorState{Sequence: 1, Root: h32(id), RecordCount: 10, Height: 1, TxHash: h32("tx" + id), ConfirmedHeight: 1}
				c.Latest = c.Last
			}
			st.Collections[hex.EncodeToString(c.ID)] = c
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(dir, node, ledger.Options{MaxBlockTxs: holders, BlockInterval: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	// Pre-signed: block k holds anchor k of each holder's collection.
	chain := l.Chain()
	txs := make([][]*ledger.Tx, b.N)
	for k := range b.N {
		for i := range holders {
			var prev []byte
			if k > 0 {
				prev = h32(fmt.Sprintf("root/%d/%d", i, k-1))
			}
			tx, err := ledger.NewTx(chain, chainKey(fmt.Sprintf("h%d", i), 0), uint64(k+1), time.Now(), ledger.AnchorRoot(&zkv1.Anchor{
				CollectionId: coll(i), Sequence: uint64(k + 1), Root: h32(fmt.Sprintf("root/%d/%d", i, k)), PreviousRoot: prev, RecordCount: 1}))
			if err != nil {
				b.Fatal(err)
			}
			txs[k] = append(txs[k], tx)
		}
	}
	h0, w0 := l.Head().Height, l.BytesWrittenForTest()
	b.ReportAllocs()
	b.ResetTimer()
	for k := range b.N {
		var wg sync.WaitGroup
		for _, tx := range txs[k] {
			wg.Go(func() {
				if _, err := l.SubmitTx(context.Background(), tx); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	if blocks := l.Head().Height - h0; blocks != uint64(b.N) {
		b.Fatalf("%d blocks for %d rounds", blocks, b.N)
	}
	b.ReportMetric(float64(l.BytesWrittenForTest()-w0)/float64(b.N), "written/block")
}
