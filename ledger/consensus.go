package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// The ledger under a consensus engine (CometBFT's ABCI): the engine orders
// transactions; every replica runs them through the same Apply, builds the
// same header and so reports the same app hash. These methods are called
// by one goroutine, the engine's.

type pendingBlock struct {
	head   Head
	state  *State
	bc     BlockContext
	txs    []*Tx
	block  *zkv1.Block
	next   *Head
	nodes  map[compact.NodeID][]byte
	height uint64
}

// Codes of CheckTx and per-transaction results: 0 accepted.
const (
	CodeOK uint32 = iota
	CodeMalformed
	CodeUnauthenticated
	CodePermission
	CodeSequence
	CodeRejected
	// CodeStaleAnchor: an AttestReadings overtaken by another (ErrStaleAnchor).
	CodeStaleAnchor
)

// Code maps an Apply or DecodeTx error to a result code.
func Code(err error) uint32 {
	switch {
	case err == nil:
		return CodeOK
	case errors.Is(err, ErrMalformed):
		return CodeMalformed
	case errors.Is(err, ErrUnauthenticated):
		return CodeUnauthenticated
	case errors.Is(err, ErrPermission):
		return CodePermission
	case errors.Is(err, ErrSequence):
		return CodeSequence
	case errors.Is(err, ErrStaleAnchor):
		return CodeStaleAnchor
	}
	return CodeRejected
}

// CodeError turns a result code and log back into an error with its sentinel.
func CodeError(code uint32, log string) error {
	if code == CodeStaleAnchor {
		return fmt.Errorf("%w: %w (%s)", ErrRejected, ErrStaleAnchor, log)
	}
	sentinel := map[uint32]error{CodeMalformed: ErrMalformed, CodeUnauthenticated: ErrUnauthenticated, CodePermission: ErrPermission, CodeSequence: ErrSequence}[code]
	if sentinel == nil {
		sentinel = ErrRejected
	}
	return fmt.Errorf("%w (%s)", sentinel, log)
}

// ConsensusHead is the engine height and app hash of the last commit.
func (l *Ledger) ConsensusHead() (uint64, []byte) {
	h := l.Head()
	return h.ConsensusHeight, h.Hash
}

// CheckTx validates a transaction for the mempool against the committed
// state plus the transactions already admitted since. A recheck after a
// commit starts from the new committed state.
func (l *Ledger) CheckTx(raw []byte, timeUnixMs int64) error {
	tx, err := DecodeTx(raw)
	if err != nil {
		return err
	}
	l.consMu.Lock()
	defer l.consMu.Unlock()
	h := l.Head()
	l.sigs.precheck(l.check, tx)
	return Apply(l.check, tx, BlockContext{Height: h.Height + 1, TimeUnixMs: timeUnixMs})
}

// Finalize runs a decided block's transactions through Apply on a copy of
// the state and prepares the ledger block; it returns each transaction's
// result and the app hash. Nothing is stored until Commit. Heights follow
// one another: the first is any, then each the last committed one plus one
// (the same height again after a crash before its Commit).
func (l *Ledger) Finalize(height uint64, timeUnixMs int64, proposer string, raws [][]byte) ([]error, []byte, error) {
	st, head := l.Tip()
	if height == 0 || (head.ConsensusHeight != 0 && height != head.ConsensusHeight+1) {
		return nil, nil, fmt.Errorf("ledger: consensus height %d finalized after height %d: heights must be consecutive; the consensus engine and this ledger disagree (restore the ledger from a replica)", height, head.ConsensusHeight)
	}
	if timeUnixMs < head.TimeUnixMs {
		timeUnixMs = head.TimeUnixMs
	}
	bc := BlockContext{Height: head.Height + 1, TimeUnixMs: timeUnixMs}
	work := st.Clone()
	results := make([]error, len(raws))
	var txs []*Tx
	size := 0
	for i, raw := range raws {
		tx, err := DecodeTx(raw)
		if err == nil && size+len(raw) > maxBlockBytes {
			err = blockFull() // ProcessProposal refuses such blocks; every replica agrees
		}
		if err == nil {
			l.sigs.precheck(work, tx)
			err = Apply(work, tx, bc)
		}
		if results[i] = err; err == nil {
			txs = append(txs, tx)
			size += len(raw)
		}
	}
	p := &pendingBlock{head: head, state: work, bc: bc, txs: txs, height: height}
	if len(txs) == 0 {
		next := head
		next.ConsensusHeight = height
		p.next, p.state = &next, st
	} else {
		work.Height = bc.Height
		var err error
		if p.block, p.next, p.nodes, err = l.buildBlock(head, work, bc, txs, proposer, l.cur.Load()); err != nil {
			return nil, nil, err
		}
		p.next.ConsensusHeight = height
	}
	l.consMu.Lock()
	l.pending = p
	l.consMu.Unlock()
	return results, p.next.Hash, nil
}

// Commit stores the finalised block and makes it the committed state.
func (l *Ledger) Commit() error {
	l.consMu.Lock()
	defer l.consMu.Unlock()
	p := l.pending
	if p == nil {
		return errors.New("ledger: commit without a finalised block")
	}
	if err := l.writeBlock(p.head, p.state, p.bc, p.txs, p.block, p.next, p.nodes); err != nil {
		return err
	}
	if p.block != nil {
		p.state.nodes = nil // stored with the block (else p.state is the published tip)
	}
	if testHookPublish != nil {
		testHookPublish()
	}
	l.tip.Store(&tip{state: p.state, head: p.next})
	l.check = p.state.Clone()
	l.pending = nil
	l.adoptNodeKey(p.state)
	return nil
}

// broadcast submits through the consensus engine and returns the receipt
// once the transaction is committed here.
func (l *Ledger) broadcast(ctx context.Context, tx *Tx) (*Receipt, error) {
	if err := l.opts.Broadcast(ctx, tx.Raw); err != nil {
		return nil, err
	}
	e, err := l.Transaction(tx.Hash[:])
	if err != nil {
		return nil, fmt.Errorf("ledger: committed transaction not found: %w", err)
	}
	t, _ := l.BlockTime(e.Height)
	return &Receipt{Hash: tx.Hash, Height: e.Height, LogIndex: e.LogIndex, TimeUnixMs: t}, nil
}

// Validate runs transactions through Apply, in order, on a copy of the
// committed state, and returns each one's result: what a proposal would do.
func (l *Ledger) Validate(timeUnixMs int64, raws [][]byte) ([]error, error) {
	st, head := l.Tip()
	work := st.Clone()
	bc := BlockContext{Height: head.Height + 1, TimeUnixMs: max(timeUnixMs, head.TimeUnixMs)}
	results := make([]error, len(raws))
	size := 0
	for i, raw := range raws {
		tx, err := DecodeTx(raw)
		if err == nil && size+len(raw) > maxBlockBytes {
			err = blockFull()
		}
		if err == nil {
			l.sigs.precheck(work, tx)
			err = Apply(work, tx, bc)
		}
		if results[i] = err; err == nil {
			size += len(raw)
		}
	}
	return results, nil
}
