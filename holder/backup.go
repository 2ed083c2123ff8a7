package holder

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/zkshare/zkshare/internal/kv"
	"google.golang.org/protobuf/proto"
)

// A backup is badger's backup format (what DB.Load reads): frames of a
// little-endian uint64 length and a protobuf KVList, each KV a key at one
// version, tombstones included.
const (
	// backupFrame is the size a backup aims its frames at.
	backupFrame = 4 << 20
	// maxBackupFrame is the largest frame Restore accepts: DB.Load
	// allocates a frame's declared length before reading it.
	maxBackupFrame = 64 << 20
	// backupLoadPending bounds the write batches a restore has in flight
	// (each up to badger's batch size, some MiB).
	backupLoadPending = 4
	// bitDelete is badger's on-disk flag of a tombstone (value.go), the one
	// entry flag a holder store uses.
	bitDelete byte = 1 << 0
)

// ErrBackupFrame means a backup stream declares a frame larger than a restore
// accepts (64 MiB); it is damaged or not a holder backup.
var ErrBackupFrame = errors.New("backup frame too large: the stream is damaged or not a backup")

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
	var kvs []*pb.KV
	size := 0
	for it.Rewind(); it.Valid(); {
		key := it.Item().KeyCopy(nil)
		list, err := keyVersions(key, it, floor)
		if err != nil {
			return fmt.Errorf("holder store: backup at version %d: key %q: %w", at, key, err)
		}
		// keyVersions may stop before the key's last version: skip the rest.
		for it.Valid() && bytes.Equal(it.Item().Key(), key) {
			it.Next()
		}
		for _, kv := range list.GetKv() {
			kvs = append(kvs, kv)
			size += len(kv.Key) + len(kv.Value)
		}
		if size >= backupFrame {
			if err := writeFrames(w, kvs); err != nil {
				return fmt.Errorf("holder store: backup at version %d: %w", at, err)
			}
			kvs, size = kvs[:0], 0
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := writeFrames(w, kvs); err != nil {
		return fmt.Errorf("holder store: backup at version %d: %w", at, err)
	}
	return nil
}

// keyVersions lists key's versions from the newest down to the first at
// or below floor, tombstones included; it leaves itr on the last one it
// listed, or past the key.
func keyVersions(key []byte, itr *badger.Iterator, floor Version) (*pb.KVList, error) {
	list := &pb.KVList{}
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
				return nil, err
			}
			kv.Value = v
		}
		list.Kv = append(list.Kv, kv)
		if Version(item.Version()) <= floor || item.DiscardEarlierVersions() {
			break // what a read at the floor sees; older versions are garbage
		}
	}
	return list, nil
}

// writeFrames writes kvs as frames of about backupFrame bytes each.
func writeFrames(w io.Writer, kvs []*pb.KV) error {
	var list pb.KVList
	size := 0
	flush := func() error {
		if len(list.Kv) == 0 {
			return nil
		}
		b, err := proto.Marshal(&list)
		if err != nil {
			return err
		}
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		list.Kv, size = list.Kv[:0], 0
		return nil
	}
	for _, kv := range kvs {
		if kv.GetStreamDone() {
			continue
		}
		kv.StreamId = 0
		list.Kv = append(list.Kv, kv)
		if size += proto.Size(kv); size >= backupFrame {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
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
	if err := db.Load(&frameReader{r: r, max: maxBackupFrame}, backupLoadPending); err != nil {
		return fmt.Errorf("holder store: restore: %w", err)
	}
	return nil
}

// frameReader passes a badger backup stream through unchanged, refusing a
// frame longer than max (ErrBackupFrame) before DB.Load, which trusts the
// length, allocates it.
type frameReader struct {
	r   io.Reader
	max uint64
	// hdr is the frame header being passed on (pending bytes of it from
	// off); left is what remains of the frame's body.
	hdr  [8]byte
	off  int
	left uint64
}

func (f *frameReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if f.left == 0 && f.off == 0 {
		n, err := io.ReadFull(f.r, f.hdr[:])
		switch {
		case n == 0 && errors.Is(err, io.EOF):
			return 0, io.EOF
		case errors.Is(err, io.EOF):
			return 0, io.ErrUnexpectedEOF
		case err != nil:
			return 0, err
		}
		size := binary.LittleEndian.Uint64(f.hdr[:])
		if size > f.max {
			return 0, fmt.Errorf("%w (%d bytes; at most %d)", ErrBackupFrame, size, f.max)
		}
		f.off, f.left = len(f.hdr), size
	}
	if f.off > 0 {
		n := copy(p, f.hdr[len(f.hdr)-f.off:])
		f.off -= n
		return n, nil
	}
	if uint64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= uint64(n)
	if errors.Is(err, io.EOF) {
		if f.left > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	return n, err
}
