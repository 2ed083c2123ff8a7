package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// rotations returns n consumers and, for each, a signed rotation of its
// key to a fresh one: transactions of one size from distinct senders.
func rotations(t *testing.T, n int) ([]*Identity, func(*Ledger) []*Tx) {
	ids := make([]*Identity, n)
	for i := range ids {
		ids[i], _ = NewIdentity(fmt.Sprintf("c%02d", i))
	}
	return ids, func(l *Ledger) []*Tx {
		txs := make([]*Tx, n)
		for i, id := range ids {
			fresh, _ := NewIdentity(id.ID)
			tx, err := NewTx(l.Chain(), id, 1, time.Now(), RotateKey(id.ID, fresh.Public()))
			if err != nil {
				t.Fatal(err)
			}
			txs[i] = tx
		}
		return txs
	}
}

func blockBytes(t *testing.T, l *Ledger, h uint64) int {
	blk, _, err := l.Block(h)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, raw := range blk.GetTxs() {
		n += len(raw)
	}
	return n
}

// TestBlockBytesBound: the writer cuts a block before its transactions
// pass the byte bound, and the overflow lands in the next blocks.
func TestBlockBytesBound(t *testing.T) {
	const n = 12
	ids, sign := rotations(t, n)
	l, _ := internalLedger(t, Options{MaxBlockTxs: 1000, BlockInterval: 100 * time.Millisecond}, ids...)
	txs := sign(l)
	maxBlockBytes = 3*len(txs[0].Raw) + 10
	defer func() { maxBlockBytes = MaxBlockBytes }()
	var wg sync.WaitGroup
	for _, tx := range txs {
		wg.Go(func() {
			if _, err := l.SubmitTx(context.Background(), tx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	h := l.Head()
	if h.LogSize != n {
		t.Fatalf("%d of %d transactions in the log", h.LogSize, n)
	}
	if h.Height < n/3 {
		t.Fatalf("%d transactions of %d bytes in %d blocks under a bound of %d bytes", n, len(txs[0].Raw), h.Height, maxBlockBytes)
	}
	for b := uint64(1); b <= h.Height; b++ {
		if got := blockBytes(t, l, b); got > maxBlockBytes {
			t.Errorf("block %d holds %d bytes of transactions, bound %d", b, got, maxBlockBytes)
		}
	}
	if err := l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestBlockBytesBoundConsensus: under a consensus engine, proposals
// (Validate) and decided blocks (Finalize) refuse the transactions past
// the bound, the same way on every replica.
func TestBlockBytesBoundConsensus(t *testing.T) {
	const n = 6
	ids, sign := rotations(t, n)
	l, _ := internalLedger(t, Options{Broadcast: func(context.Context, []byte) error { return nil }}, ids...)
	txs := sign(l)
	maxBlockBytes = 4*len(txs[0].Raw) + 10
	defer func() { maxBlockBytes = MaxBlockBytes }()
	raws := make([][]byte, n)
	for i, tx := range txs {
		raws[i] = tx.Raw
	}
	now := time.Now().UnixMilli()
	check := func(what string, results []error) {
		t.Helper()
		for i, err := range results {
			if full := err != nil && errors.Is(err, ErrRejected) && strings.Contains(err.Error(), "block full"); (i >= 4) != full {
				t.Errorf("%s: transaction %d: %v", what, i, err)
			}
		}
	}
	results, err := l.Validate(now, raws)
	if err != nil {
		t.Fatal(err)
	}
	check("Validate", results)
	results, _, err = l.Finalize(1, now, "node", raws)
	if err != nil {
		t.Fatal(err)
	}
	check("Finalize", results)
	if err := l.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := blockBytes(t, l, 1); got > maxBlockBytes || l.Head().LogSize != 4 {
		t.Fatalf("block 1: %d bytes, %d transactions", got, l.Head().LogSize)
	}
}
