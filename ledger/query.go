package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"golang.org/x/mod/sumdb/note"
)

// Entry is a committed transaction and where it is.
type Entry struct {
	Tx       *Tx
	Height   uint64
	LogIndex uint64
}

// Entry returns the transaction at a log index.
func (l *Ledger) Entry(index uint64) (*Entry, error) {
	var e *Entry
	err := l.db.View(func(txn *badger.Txn) error {
		var err error
		e, err = getEntry(txn, index)
		return err
	})
	return e, err
}

func getEntry(txn *badger.Txn, index uint64) (*Entry, error) {
	item, err := txn.Get(txKey(index))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("transaction %d: %w", index, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	b, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: entry %d", ErrCorrupt, index)
	}
	tx, err := DecodeTx(b[:len(b)-8])
	if err != nil {
		// The cause is detail only: a stored entry that fails to decode is
		// corruption, not the caller's ErrMalformed.
		return nil, fmt.Errorf("%w: entry %d: %v", ErrCorrupt, index, err) //nolint:errorlint // see above
	}
	return &Entry{Tx: tx, Height: binary.BigEndian.Uint64(b[len(b)-8:]), LogIndex: index}, nil
}

// Transaction finds a transaction by its hash.
func (l *Ledger) Transaction(hash []byte) (*Entry, error) {
	return l.indexed(hashKey(hash), fmt.Sprintf("transaction %x", hash))
}

// indexed follows an index entry (key -> log index) to its log entry.
func (l *Ledger) indexed(key []byte, what string) (*Entry, error) {
	var e *Entry
	err := l.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("%s: %w", what, ErrNotFound)
		}
		if err != nil {
			return err
		}
		idx, err := indexValue(item, what)
		if err != nil {
			return err
		}
		// A block is stored before it is published: until then its
		// transactions are not found, as the head and state do not cover them.
		if idx >= l.Head().LogSize {
			return fmt.Errorf("%s: %w", what, ErrNotFound)
		}
		e, err = getEntry(txn, idx)
		return err
	})
	return e, err
}

// indexValue reads an index entry's value, a log index.
func indexValue(item *badger.Item, what string) (uint64, error) {
	var idx uint64
	err := item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("%w: index entry of %s is %d bytes, want 8", ErrCorrupt, what, len(v))
		}
		idx = binary.BigEndian.Uint64(v)
		return nil
	})
	return idx, err
}

// Checkpoint returns the signed checkpoint of the log at the tip, in the
// C2SP signed-note format.
func (l *Ledger) Checkpoint() ([]byte, Head, error) {
	h := l.Head()
	if l.signer == nil {
		return nil, h, fmt.Errorf("checkpoint: ledger opened read-only")
	}
	text := log.Checkpoint{Origin: l.origin, Size: h.LogSize, Hash: h.LogRoot}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(text)}, l.signer)
	return signed, h, err
}

// InclusionProof proves the entry at index is in the log of size size.
func (l *Ledger) InclusionProof(index, size uint64) ([][]byte, error) {
	if size > l.Head().LogSize || index >= size {
		return nil, fmt.Errorf("inclusion of %d in a log of %d (size now %d): %w", index, size, l.Head().LogSize, ErrNotFound)
	}
	ns, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return l.rehash(ns)
}

// ConsistencyProof proves the log of size1 is a prefix of the log of size2.
func (l *Ledger) ConsistencyProof(size1, size2 uint64) ([][]byte, error) {
	if size2 > l.Head().LogSize || size1 > size2 {
		return nil, fmt.Errorf("consistency of %d and %d (size now %d): %w", size1, size2, l.Head().LogSize, ErrNotFound)
	}
	ns, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	return l.rehash(ns)
}

func (l *Ledger) rehash(ns proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, len(ns.IDs))
	err := l.db.View(func(txn *badger.Txn) error {
		for i, id := range ns.IDs {
			item, err := txn.Get(nodeKey(id))
			if err != nil {
				// A missing log node is corruption: do not let callers match
				// badger.ErrKeyNotFound in the cause.
				return fmt.Errorf("%w: log node %d/%d: %v", ErrCorrupt, id.Level, id.Index, err) //nolint:errorlint // see above
			}
			if hashes[i], err = item.ValueCopy(nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ns.Rehash(hashes, l.hasher.HashChildren)
}

// VerifyInclusion checks offline that tx is entry index of the log a
// checkpoint signed by the ledger's node key commits to.
func VerifyInclusion(checkpoint []byte, origin string, v note.Verifier, txRaw []byte, index uint64, p [][]byte) (*log.Checkpoint, error) {
	cp, _, _, err := log.ParseCheckpoint(checkpoint, origin, v)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	h := rfc6962Hasher()
	if err := proof.VerifyInclusion(h, index, cp.Size, h.HashLeaf(txRaw), p, cp.Hash); err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	return cp, nil
}

// VerifyConsistency checks offline that the log of checkpoint a is a
// prefix of the log of checkpoint b.
func VerifyConsistency(a, b []byte, origin string, v note.Verifier, p [][]byte) error {
	ca, _, _, err := log.ParseCheckpoint(a, origin, v)
	if err != nil {
		return fmt.Errorf("first checkpoint: %w", err)
	}
	cb, _, _, err := log.ParseCheckpoint(b, origin, v)
	if err != nil {
		return fmt.Errorf("second checkpoint: %w", err)
	}
	return proof.VerifyConsistency(rfc6962Hasher(), ca.Size, cb.Size, p, ca.Hash, cb.Hash)
}

// Block returns a block and its decoded header.
func (l *Ledger) Block(height uint64) (*zkv1.Block, *zkv1.BlockHeader, error) {
	var blk *zkv1.Block
	var hdr *zkv1.BlockHeader
	err := l.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(blockKey(height))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("block %d: %w", height, ErrNotFound)
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			blk, hdr, err = decodeBlock(v)
			return err
		})
	})
	return blk, hdr, err
}

// Blocks returns the headers of blocks from..to inclusive, at most limit,
// without reading the blocks' transactions.
func (l *Ledger) Blocks(from, to uint64, limit int) ([]*zkv1.BlockHeader, error) {
	var out []*zkv1.BlockHeader
	for h := from; h <= to && h <= l.Head().Height && len(out) < limit; h++ {
		hdr, err := l.Header(h)
		if err != nil {
			return nil, err
		}
		out = append(out, hdr)
	}
	return out, nil
}

// LatestAnchor returns the newest anchor of a collection that counts (is
// confirmed, where confirmations are required).
func (l *Ledger) LatestAnchor(collectionID []byte) (*AnchorState, error) {
	c, ok := l.State().Collections[hex.EncodeToString(collectionID)]
	if !ok {
		return nil, fmt.Errorf("collection %x: %w", collectionID, ErrNotFound)
	}
	if c.Latest == nil {
		return nil, fmt.Errorf("collection %x has no anchor yet: %w", collectionID, ErrNotFound)
	}
	return c.Latest, nil
}

// AnchorAt returns the newest anchor of a collection written at or before
// height, and its log entry.
func (l *Ledger) AnchorAt(collectionID []byte, height uint64) (*Entry, error) {
	if len(collectionID) != hashLen { // a shorter id would prefix other collections' keys
		return nil, fmt.Errorf("collection %x: %w", collectionID, ErrNotFound)
	}
	var e *Entry
	err := l.db.View(func(txn *badger.Txn) error {
		prefix := append([]byte("ai/"), collectionID...)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		for it.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)); it.Valid(); it.Next() {
			idx, err := indexValue(it.Item(), fmt.Sprintf("collection %x: an anchor", collectionID))
			if err != nil {
				return err
			}
			cand, err := getEntry(txn, idx)
			if err != nil {
				return err
			}
			if cand.Height <= height {
				e = cand
				return nil
			}
		}
		return fmt.Errorf("collection %x: no anchor at or before height %d: %w", collectionID, height, ErrNotFound)
	})
	return e, err
}

// AuditEntries lists a collection's audit entries, oldest first, starting
// after log index after (0 for the start), at most limit. Their contents
// are commitments: who asked what is known only to the parties.
func (l *Ledger) AuditEntries(collectionID []byte, after uint64, limit int) ([]*Entry, error) {
	if len(collectionID) != hashLen {
		return nil, fmt.Errorf("audit entries: collection id is %d bytes, want %d", len(collectionID), hashLen)
	}
	prefix := append([]byte("ac/"), collectionID...)
	var out []*Entry
	err := l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), after)); it.Valid() && len(out) < limit; it.Next() {
			suffix := it.Item().Key()[len(prefix):]
			if len(suffix) != 8 {
				return fmt.Errorf("%w: audit index key %q", ErrCorrupt, it.Item().Key())
			}
			idx := binary.BigEndian.Uint64(suffix)
			if idx < after || (after > 0 && idx == after) {
				continue
			}
			e, err := getEntry(txn, idx)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Participants lists participants by id.
func (l *Ledger) Participants() []Participant { return byKey(l.State().Participants) }

// Collections lists registered collections by id.
func (l *Ledger) Collections() []Collection { return byKey(l.State().Collections) }

// Circuits lists pinned circuits by id.
func (l *Ledger) Circuits() []Circuit { return byKey(l.State().Circuits) }

// byKey returns m's values in key order (hex ids sort as their bytes do).
func byKey[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// BlockHash is the hash that identifies a block: SHA-256 of its header bytes.
func BlockHash(header []byte) [32]byte { return sha256.Sum256(header) }

// AnchorBySequence returns a collection's anchor with the given sequence
// number, and its log entry.
func (l *Ledger) AnchorBySequence(collectionID []byte, seq uint64) (*Entry, error) {
	return l.indexed(anchorKey(collectionID, seq), fmt.Sprintf("collection %x: anchor %d", collectionID, seq))
}

// BlockTime returns the time of the block at height.
func (l *Ledger) BlockTime(height uint64) (int64, error) {
	hdr, err := l.Header(height)
	if err != nil {
		return 0, err
	}
	return hdr.GetTimeUnixMs(), nil
}

// BlockHash is the hash of the block at height: SHA-256 of its header, the
// next block's previous hash. A ceremony takes its beacon from it.
func (l *Ledger) BlockHash(height uint64) ([]byte, error) {
	var h [32]byte
	err := l.db.View(func(txn *badger.Txn) error {
		raw, err := headerBytes(txn, height)
		h = sha256.Sum256(raw)
		return err
	})
	if err != nil {
		return nil, err
	}
	return h[:], nil
}
