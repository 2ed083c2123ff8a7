package ledger

import (
	badger "github.com/dgraph-io/badger/v4"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"google.golang.org/protobuf/proto"
)

// MarshalForTest is the deterministic encoding the ledger insists on.
func MarshalForTest(m proto.Message) ([]byte, error) { return deterministic.Marshal(m) }

// MustMarshalForTest is MarshalForTest for messages that always encode.
func MustMarshalForTest(m proto.Message) []byte {
	b, err := deterministic.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// TamperBlockForTest flips a bit of the first transaction's signature in
// the stored block at height, behind the ledger's back.
func TamperBlockForTest(dir string, height uint64) error {
	db, err := openDB(dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	txn := db.NewTransaction(true)
	defer txn.Discard()
	item, err := txn.Get(blockKey(height))
	if err != nil {
		return err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	var blk zkv1.Block
	if err := proto.Unmarshal(v, &blk); err != nil {
		return err
	}
	var tx zkv1.Tx
	if err := proto.Unmarshal(blk.Txs[0], &tx); err != nil {
		return err
	}
	tx.Signature[0] ^= 1
	if blk.Txs[0], err = deterministic.Marshal(&tx); err != nil {
		return err
	}
	b, err := deterministic.Marshal(&blk)
	if err != nil {
		return err
	}
	if err := txn.Set(blockKey(height), b); err != nil {
		return err
	}
	return txn.Commit()
}

// ReplaceBlockForTest stores b as the block at height, behind the ledger's
// back; with dropHeader it also removes the block's header-only copy, as
// in a ledger written before headers were kept apart.
func ReplaceBlockForTest(dir string, height uint64, b []byte, dropHeader bool) error {
	db, err := openDB(dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	txn := db.NewTransaction(true)
	defer txn.Discard()
	if err := txn.Set(blockKey(height), b); err != nil {
		return err
	}
	if dropHeader {
		if err := txn.Delete(headerKey(height)); err != nil {
			return err
		}
	}
	return txn.Commit()
}

// BytesWrittenForTest is the key and value bytes of every block's write
// batch since the ledger was opened.
func (l *Ledger) BytesWrittenForTest() uint64 { return l.written.Load() }

// SeedStateForTest changes the stored state of the ledger in dir at
// height 0, behind the ledger's back, and stores it whole: a quick way to
// a large state.
func SeedStateForTest(dir string, seed func(*State)) error {
	db, err := openDB(dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	var st *State
	if err := db.View(func(txn *badger.Txn) error {
		st, err = loadState(txn)
		return err
	}); err != nil {
		return err
	}
	seed(st)
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	if err := storeState(wb.Set, st); err != nil {
		return err
	}
	return wb.Flush()
}

// DropIndexesForTest deletes the registration, key and confirmation index
// entries of the ledger in dir, behind the ledger's back; with
// dropVersion it also deletes the index version, as in a store written
// before those indexes existed.
func DropIndexesForTest(dir string, dropVersion bool) error {
	db, err := openDB(dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, p := range []string{"rc/", "pk/", "cf/"} {
		if err := db.DropPrefix([]byte(p)); err != nil {
			return err
		}
	}
	if !dropVersion {
		return nil
	}
	return db.Update(func(txn *badger.Txn) error { return txn.Delete(keyIndexVersion) })
}

// SetIndexVersionForTest writes another index version marker, as a binary
// with other indexes would have.
func SetIndexVersionForTest(dir string, v []byte) error {
	db, err := openDB(dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(txn *badger.Txn) error { return txn.Set(keyIndexVersion, v) })
}
