package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/transparency-dev/merkle/rfc6962"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"google.golang.org/protobuf/proto"
)

func rfc6962Hasher() *rfc6962.Hasher { return rfc6962.DefaultHasher }

// BadBlockError names the first block that fails verification.
type BadBlockError struct {
	Height uint64
	Reason string
}

func (e *BadBlockError) Error() string {
	return fmt.Sprintf("%v: block %d: %s", ErrCorrupt, e.Height, e.Reason)
}

func (e *BadBlockError) Unwrap() error { return ErrCorrupt }

func bad(h uint64, format string, args ...any) error {
	return &BadBlockError{Height: h, Reason: fmt.Sprintf(format, args...)}
}

// checkTip runs on open: every header links to the one before it, and the
// tip agrees with the stored head, state and log.
func (l *Ledger) checkTip() error {
	head := l.Head()
	return l.db.View(func(txn *badger.Txn) error {
		_, prev, err := genesis(txn)
		if err != nil {
			return err
		}
		var last []byte
		for h := uint64(1); h <= head.Height; h++ {
			hdr, hb, err := readHeader(txn, h)
			if err != nil {
				return err
			}
			if !bytes.Equal(hdr.GetPreviousHash(), prev) || hdr.GetHeight() != h {
				return bad(h, "does not link to block %d", h-1)
			}
			sum := BlockHash(hb)
			prev, last = sum[:], hb
		}
		if !bytes.Equal(prev, head.Hash) {
			return bad(head.Height, "tip hash differs from the stored head")
		}
		st := l.State()
		sh, err := st.Hash()
		if err != nil {
			return err
		}
		r, err := l.rangeFac.NewRange(0, head.LogSize, head.LogRange)
		if err != nil {
			return bad(head.Height, "stored log range: %v", err)
		}
		root := l.hasher.EmptyRoot()
		if head.LogSize > 0 {
			if root, err = r.GetRootHash(nil); err != nil {
				return err
			}
		}
		if !bytes.Equal(root, head.LogRoot) {
			return bad(head.Height, "stored log range does not give the log root")
		}
		if head.Height == 0 {
			return nil
		}
		var hdr zkv1.BlockHeader
		if err := proto.Unmarshal(last, &hdr); err != nil {
			return bad(head.Height, "%v", err)
		}
		if !bytes.Equal(hdr.GetStateHash(), sh[:]) || st.Height != head.Height {
			return bad(head.Height, "stored state differs from the tip's state hash")
		}
		if hdr.GetLogSize() != head.LogSize || !bytes.Equal(hdr.GetLogRoot(), head.LogRoot) {
			return bad(head.Height, "tip's log differs from the stored head")
		}
		return nil
	})
}

// genesis reads the stored genesis and its hash, block 1's previous hash.
func genesis(txn *badger.Txn) (*Genesis, []byte, error) {
	var g Genesis
	if err := getJSON(txn, keyGenesis, &g); err != nil {
		return nil, nil, err
	}
	h, err := g.Hash()
	if err != nil {
		return nil, nil, err
	}
	return &g, h[:], nil
}

// readHeader reads a block's header without its transactions.
func readHeader(txn *badger.Txn, h uint64) (*zkv1.BlockHeader, []byte, error) {
	hb, err := headerBytes(txn, h)
	if err != nil {
		return nil, nil, bad(h, "missing: %v", err)
	}
	var hdr zkv1.BlockHeader
	if err := proto.Unmarshal(hb, &hdr); err != nil {
		return nil, nil, bad(h, "header: %v", err)
	}
	return &hdr, hb, nil
}

// Verify replays the whole chain from genesis: every header's link, the
// proposer's signature, every transaction through Apply (so every
// transaction signature) and its log and index entries, every block's
// transaction root, the log root and size, and the state hash. It
// returns the first bad block as a *BadBlockError. progress, if not nil,
// gets (height, tip height).
func (l *Ledger) Verify(ctx context.Context, progress func(done, total uint64)) error {
	head := l.Head()
	return l.db.View(func(txn *badger.Txn) error {
		g, prev, err := genesis(txn)
		if err != nil {
			return err
		}
		st, err := g.State()
		if err != nil {
			return err
		}
		prevTime := g.TimeUnixMs
		logRange := l.rangeFac.NewEmptyRange(0)
		for h := uint64(1); h <= head.Height; h++ {
			if h%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if progress != nil {
					progress(h, head.Height)
				}
			}
			item, err := txn.Get(blockKey(h))
			if err != nil {
				return bad(h, "missing: %v", err)
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			blk, hdr, err := decodeBlock(v)
			if err != nil {
				return bad(h, "%v", err)
			}
			if hb, err := headerBytes(txn, h); err != nil || !bytes.Equal(hb, blk.GetHeader()) {
				return bad(h, "the stored header differs from the block's")
			}
			if hdr.GetHeight() != h || hdr.GetOrigin() != g.Origin {
				return bad(h, "header says height %d of %q", hdr.GetHeight(), hdr.GetOrigin())
			}
			if !bytes.Equal(hdr.GetPreviousHash(), prev) {
				return bad(h, "does not link to block %d", h-1)
			}
			if hdr.GetTimeUnixMs() < prevTime {
				return bad(h, "time goes back")
			}
			if err := checkProposer(st, hdr.GetProposer(), h); err != nil {
				return err
			}
			signer, ok := st.Participants[blk.GetSigner()]
			if !ok || signer.Role != zkv1.Role_ROLE_VALIDATOR {
				return bad(h, "signer %q is not a validator", blk.GetSigner())
			}
			if !ed25519.Verify(signer.BlockKeyAt(h), append([]byte(blockDomain), blk.GetHeader()...), blk.GetSignature()) {
				return bad(h, "bad signature by %q", blk.GetSigner())
			}
			if int(hdr.GetTxCount()) != len(blk.GetTxs()) || len(blk.GetTxs()) == 0 {
				return bad(h, "%d transactions, header says %d", len(blk.GetTxs()), hdr.GetTxCount())
			}
			bc := BlockContext{Height: h, TimeUnixMs: hdr.GetTimeUnixMs()}
			blockRange := l.rangeFac.NewEmptyRange(0)
			for i, raw := range blk.GetTxs() {
				tx, err := DecodeTx(raw)
				if err != nil {
					return bad(h, "transaction %d: %v", i, err)
				}
				if err := Apply(st, tx, bc); err != nil {
					return bad(h, "transaction %d: %v", i, err)
				}
				// The entry index must hold the same bytes.
				e, err := getEntry(txn, logRange.End())
				if err != nil || !bytes.Equal(e.Tx.Raw, raw) || e.Height != h {
					return bad(h, "transaction %d: log entry %d differs", i, logRange.End())
				}
				if err := checkIndexed(txn, tx, logRange.End()); err != nil {
					return bad(h, "transaction %d: %v", i, err)
				}
				leaf := l.hasher.HashLeaf(raw)
				if err := logRange.Append(leaf, nil); err != nil {
					return err
				}
				if err := blockRange.Append(leaf, nil); err != nil {
					return err
				}
			}
			txRoot, err := blockRange.GetRootHash(nil)
			if err != nil {
				return err
			}
			if !bytes.Equal(txRoot, hdr.GetTxRoot()) {
				return bad(h, "transaction root mismatch")
			}
			logRoot, err := logRange.GetRootHash(nil)
			if err != nil {
				return err
			}
			if logRange.End() != hdr.GetLogSize() || !bytes.Equal(logRoot, hdr.GetLogRoot()) {
				return bad(h, "log root mismatch")
			}
			st.Height = h
			sh, err := st.fold()
			if err != nil {
				return err
			}
			if !bytes.Equal(sh[:], hdr.GetStateHash()) {
				return bad(h, "state hash mismatch")
			}
			sum := BlockHash(blk.GetHeader())
			prev, prevTime = sum[:], hdr.GetTimeUnixMs()
		}
		if progress != nil {
			progress(head.Height, head.Height)
		}
		if !bytes.Equal(prev, head.Hash) {
			return bad(head.Height, "tip differs from the stored head")
		}
		want, _ := json.Marshal(st)
		got, _ := json.Marshal(l.State())
		if !bytes.Equal(want, got) {
			return bad(head.Height, "stored state differs from the replayed state")
		}
		return nil
	})
}
