package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// The ledger's indexes map what a reader asks about to log indices, so that
// no read scans the log. Each is written in the block's own badger
// transaction (writeBlock), so a block and its index entries survive or
// vanish together; a ledger stored before an index existed gets it rebuilt
// from its log on open (reindex).
//
//	x/<tx hash>                          -> log index      a transaction by hash
//	ai/<collection id><seq>              -> log index      an anchor by sequence
//	ac/<collection id><log index>        -> (none)         a collection's audit entries
//	rc/<collection id>                   -> log index      a collection's registration
//	pk/<sha256(participant)><log index>  -> (none)         a participant's key transactions (register, rotate)
//	cf/<collection id><seq><log index>   -> (none)         an anchor's confirmations

func registrationKey(coll []byte) []byte { return append([]byte("rc/"), coll...) }

func keyTxPrefix(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return append([]byte("pk/"), h[:]...)
}

func keyTxKey(id string, i uint64) []byte { return binary.BigEndian.AppendUint64(keyTxPrefix(id), i) }

func confirmPrefix(coll []byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte("cf/"), coll...), seq)
}

func confirmKey(coll []byte, seq, i uint64) []byte {
	return binary.BigEndian.AppendUint64(confirmPrefix(coll, seq), i)
}

// keyIndexVersion marks a store whose indexes cover every kind above: a
// store without it is reindexed on open.
var (
	keyIndexVersion = []byte("ix/version")
	indexVersion    = []byte{1}
)

// indexEntry is one key and value an index holds for a transaction.
type indexEntry struct{ key, val []byte }

// txIndex lists the index entries of the transaction at log index idx.
func txIndex(tx *Tx, idx uint64) []indexEntry {
	at := binary.BigEndian.AppendUint64(nil, idx)
	out := []indexEntry{{hashKey(tx.Hash[:]), at}}
	switch k := tx.Body.GetKind().(type) {
	case *zkv1.TxBody_Anchor:
		out = append(out, indexEntry{anchorKey(k.Anchor.GetCollectionId(), k.Anchor.GetSequence()), at})
	case *zkv1.TxBody_AttestReadings:
		a := k.AttestReadings.GetAnchor()
		out = append(out, indexEntry{anchorKey(a.GetCollectionId(), a.GetSequence()), at})
	case *zkv1.TxBody_Audit:
		out = append(out, indexEntry{auditCollKey(k.Audit.GetCollectionId(), idx), nil})
	case *zkv1.TxBody_RegisterCollection:
		out = append(out, indexEntry{registrationKey(k.RegisterCollection.GetCollectionId()), at})
	case *zkv1.TxBody_RegisterParticipant:
		out = append(out, indexEntry{keyTxKey(k.RegisterParticipant.GetId(), idx), nil})
	case *zkv1.TxBody_RotateKey:
		out = append(out, indexEntry{keyTxKey(k.RotateKey.GetId(), idx), nil})
	case *zkv1.TxBody_ConfirmAnchor:
		c := k.ConfirmAnchor
		out = append(out, indexEntry{confirmKey(c.GetCollectionId(), c.GetSequence(), idx), nil})
	}
	return out
}

// checkIndexed says whether txn holds every index entry of tx at idx
// (Verify).
func checkIndexed(txn *badger.Txn, tx *Tx, idx uint64) error {
	for _, e := range txIndex(tx, idx) {
		item, err := txn.Get(e.key)
		if err != nil {
			return fmt.Errorf("index entry %q: %w", e.key, err)
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if !bytes.Equal(v, e.val) {
			return fmt.Errorf("index entry %q points elsewhere", e.key)
		}
	}
	return nil
}

// reindex writes the index entries of every stored transaction if the
// store predates them. It runs on open, before anything else writes; it
// only adds entries derived from the log, so a crash part way is harmless:
// the version is set last, and the next open reindexes again.
func (l *Ledger) reindex() error {
	var have []byte
	err := l.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyIndexVersion)
		if err != nil {
			return err
		}
		have, err = item.ValueCopy(nil)
		return err
	})
	// Indexes of this version are complete; none, or another version's
	// (a store an older or newer binary wrote blocks to), are rebuilt.
	if err == nil && bytes.Equal(have, indexVersion) {
		return nil
	}
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return err
	}
	wb := l.db.NewWriteBatch()
	defer wb.Cancel()
	n := uint64(0)
	err = l.db.View(func(txn *badger.Txn) error {
		for i := uint64(0); ; i++ {
			e, err := getEntry(txn, i)
			if errors.Is(err, ErrNotFound) {
				n = i
				return nil
			}
			if err != nil {
				return err
			}
			for _, ie := range txIndex(e.Tx, i) {
				if err := wb.Set(ie.key, ie.val); err != nil {
					return err
				}
			}
		}
	})
	if err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	l.log.Info("ledger: indexes rebuilt from the log", "transactions", n)
	return l.db.Update(func(txn *badger.Txn) error { return txn.Set(keyIndexVersion, indexVersion) })
}

// Registration returns the transaction that registered a collection.
func (l *Ledger) Registration(collectionID []byte) (*Entry, error) {
	return l.indexed(registrationKey(collectionID), fmt.Sprintf("collection %x: registration", collectionID))
}

// KeyTxBefore returns the last transaction before log index before that
// registered participant id or rotated its key: the one that set its key in
// effect there. ErrNotFound if none did (a participant of the genesis, or
// one registered by a governance proposal).
func (l *Ledger) KeyTxBefore(id string, before uint64) (*Entry, error) {
	what := fmt.Sprintf("participant %q: key transaction before %d", id, before)
	if size := l.Head().LogSize; before > size {
		before = size
	}
	if before == 0 {
		return nil, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	var e *Entry
	err := l.db.View(func(txn *badger.Txn) error {
		prefix := keyTxPrefix(id)
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: prefix})
		defer it.Close()
		it.Seek(keyTxKey(id, before-1))
		if !it.Valid() {
			return fmt.Errorf("%s: %w", what, ErrNotFound)
		}
		k := it.Item().Key()
		if len(k) != len(prefix)+8 {
			return fmt.Errorf("%w: index key %q", ErrCorrupt, k)
		}
		var err error
		e, err = getEntry(txn, binary.BigEndian.Uint64(k[len(prefix):]))
		return err
	})
	return e, err
}

// Confirmations returns the ConfirmAnchor transactions of a collection's
// anchor seq within the first size log entries (capped at the published
// head), in log order, the first of each sender.
func (l *Ledger) Confirmations(collectionID []byte, seq, size uint64) ([]*Entry, error) {
	size = min(size, l.Head().LogSize)
	var out []*Entry
	err := l.db.View(func(txn *badger.Txn) error {
		prefix := confirmPrefix(collectionID, seq)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		seen := map[string]bool{}
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != len(prefix)+8 {
				return fmt.Errorf("%w: index key %q", ErrCorrupt, k)
			}
			i := binary.BigEndian.Uint64(k[len(prefix):])
			if i >= size {
				break
			}
			e, err := getEntry(txn, i)
			if err != nil {
				return err
			}
			if s := e.Tx.Body.GetSender(); !seen[s] {
				seen[s] = true
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}
