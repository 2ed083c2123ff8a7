package holder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/zkshare/zkshare/internal/kv"
)

// A backup is badger's backup format (kv.FrameWriter): each KV a key at
// one version, tombstones included.

// bitDelete is badger's on-disk flag of a tombstone (value.go), the one
// entry flag a holder store uses.
const bitDelete byte = 1 << 0

// ErrBackupFrame means a backup stream declares a frame larger than a
// restore accepts (64 MiB); it is damaged or not a holder backup.
var ErrBackupFrame = kv.ErrBackupFrame

// Pin keeps what a view at version at reads, every kept anchored version
// of every collection included, from badger's discard until release is
// called. A backup pins its version before it streams; the node pins it
// while no commit runs, so no prune moves the discard point past a
// version the backup still copies.
func (s *Store) Pin(at Version) (release func(), err error) {
	_, release, err = s.pin(at)
	return release, err
}

// pin is Pin, and says the oldest version the pinned view keeps (the
// floor): a backup copies every version above it and the one a read at
// it sees.
func (s *Store) pin(at Version) (floor Version, release func(), err error) {
	if at == 0 || at > s.Now() {
		return 0, nil, fmt.Errorf("holder store: pin version %d: the store is at version %d", at, s.Now())
	}
	if s.db.IsClosed() {
		return 0, nil, badger.ErrDBClosed
	}
	// readMu is held from reading the versions to counting the pin, so a
	// concurrent discard sees either the pin or versions it does not move
	// past.
	s.readMu.Lock()
	defer s.readMu.Unlock()
	floor = at
	txn := s.db.NewTransactionAt(uint64(at), false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("v/")})
	for it.Rewind(); it.Valid(); it.Next() {
		oldest, ok, err := keptFloor(txn, it.Item())
		if err != nil {
			it.Close()
			return 0, nil, fmt.Errorf("holder store: pin version %d: %w", at, err)
		}
		if ok {
			floor = min(floor, oldest)
		}
	}
	it.Close()
	s.reads[floor]++
	var once sync.Once
	return floor, func() {
		once.Do(func() {
			s.readMu.Lock()
			if s.reads[floor]--; s.reads[floor] == 0 {
				delete(s.reads, floor)
			}
			s.readMu.Unlock()
		})
	}, nil
}

// Backup writes the store as it was at version at to w, in badger's backup
// format, streaming: one read transaction at that version, one frame of
// about 4 MiB in memory at a time. Restore reads it.
//
// It copies every version a kept anchored version reads, not only the
// newest of each key: badger's Stream.Backup stops at a key's newest
// tombstone, so a record deleted after an older anchored version (which a
// verifier still accepts for a while) would lose the value that version
// reads. Versions older than every kept one are left out, as badger's
// discard drops them. One reader, not badger's parallel Stream: a backup
// of a serving node leaves the cores to proofs, and needs none of the
// Stream's 32 MiB buffers.
//
// Pick a version at which no commit is half done (the node reads it under
// its commit lock): the restored store then holds exactly that version's
// state and nothing written after it.
func (s *Store) Backup(ctx context.Context, w io.Writer, at Version) error {
	floor, release, err := s.pin(at)
	if err != nil {
		return err
	}
	defer release()
	txn := s.db.NewTransactionAt(uint64(at), false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64, AllVersions: true})
	defer it.Close()
	fw := kv.NewFrameWriter(w)
	for it.Rewind(); it.Valid(); {
		key := it.Item().KeyCopy(nil)
		if err := keyVersions(key, it, floor, fw.Add); err != nil {
			// The key is a record's, private: the error does not name it.
			return fmt.Errorf("holder store: backup at version %d: read a key's versions: %w", at, err)
		}
		// keyVersions may stop before the key's last version: skip the rest.
		for it.Valid() && bytes.Equal(it.Item().Key(), key) {
			it.Next()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := fw.Flush(); err != nil {
		return fmt.Errorf("holder store: backup at version %d: %w", at, err)
	}
	return nil
}

// keyVersions adds key's versions from the newest down to the first at
// or below floor, tombstones included; it leaves itr on the last one it
// added, or past the key.
func keyVersions(key []byte, itr *badger.Iterator, floor Version, add func(*pb.KV) error) error {
	for ; itr.Valid(); itr.Next() {
		item := itr.Item()
		if !bytes.Equal(item.Key(), key) {
			break
		}
		kv := &pb.KV{Key: key, Version: item.Version(), UserMeta: []byte{item.UserMeta()}, ExpiresAt: item.ExpiresAt()}
		if item.IsDeletedOrExpired() && item.ExpiresAt() == 0 {
			kv.Meta = []byte{bitDelete}
		} else {
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			kv.Value = v
		}
		if err := add(kv); err != nil {
			return err
		}
		if Version(item.Version()) <= floor || item.DiscardEarlierVersions() {
			break // what a read at the floor sees; older versions are garbage
		}
	}
	return nil
}

// Restore creates a store in dir (which must hold none) from a backup
// stream, opened as Open opens it with opts (an encryption key encrypts
// the restored store at rest). The store then reads, at every version the
// backup kept, what the original read.
//
// A frame larger than 64 MiB fails before anything allocates it.
// A stream cut at a frame boundary cannot be told from a whole one: the
// caller checks the stream's length and digest (the node's archive does).
func Restore(dir string, r io.Reader, opts ...Option) (err error) {
	if dir == "" {
		return errors.New("holder store: restore: give a directory")
	}
	o := options{kv: kv.Options{Managed: true}}
	for _, f := range opts {
		f(&o)
	}
	db, err := kv.Open(dir, nil, o.kv)
	if err != nil {
		return fmt.Errorf("holder store: restore: %w", err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if db.MaxVersion() != 0 {
		return fmt.Errorf("holder store: restore into %s: it already holds a store", dir)
	}
	if err := kv.Load(db, r); err != nil {
		return fmt.Errorf("holder store: restore: %w", err)
	}
	return nil
}
