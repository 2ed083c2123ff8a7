package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// A ledger backup is badger's backup format (what DB.Load reads): frames
// of a little-endian uint64 length and a protobuf KVList.
const (
	// backupFrame is the size a backup aims its frames at.
	backupFrame = 4 << 20
	// maxBackupFrame is the largest frame Restore accepts: DB.Load
	// allocates a frame's declared length before reading it.
	maxBackupFrame = 64 << 20
	// backupLoadPending bounds the write batches a restore has in flight.
	backupLoadPending = 4
)

// ErrBackupFrame means a backup stream declares a frame larger than a restore
// accepts (64 MiB); it is damaged or not a ledger backup.
var ErrBackupFrame = errors.New("backup frame too large: the stream is damaged or not a backup")

// Snapshot is the ledger at one point of its history, held open for a
// backup: a block, its log nodes, its state changes and the head are
// written in one transaction (writeBlock), so a snapshot, one read
// transaction, holds whole blocks and the state of its tip's height,
// whatever the writer does meanwhile. Close it when done: an open snapshot
// keeps badger from discarding what it reads.
type Snapshot struct {
	txn     *badger.Txn
	head    Head
	genesis []byte
	origin  string
}

// Snapshot takes a snapshot of the committed ledger.
func (l *Ledger) Snapshot() (*Snapshot, error) {
	if l.db.IsClosed() {
		return nil, ErrClosed
	}
	s := &Snapshot{txn: l.db.NewTransaction(false)}
	g, gh, err := genesis(s.txn)
	if err == nil {
		err = getJSON(s.txn, keyHead, &s.head)
	}
	if err != nil {
		s.txn.Discard()
		return nil, fmt.Errorf("ledger snapshot: %w", err)
	}
	s.genesis, s.origin = gh, g.Origin
	return s, nil
}

// Head is the snapshot's tip.
func (s *Snapshot) Head() Head { return s.head }

// GenesisHash is the hash of the ledger's genesis.
func (s *Snapshot) GenesisHash() []byte { return s.genesis }

// Origin is the ledger's name.
func (s *Snapshot) Origin() string { return s.origin }

// Close releases the snapshot.
func (s *Snapshot) Close() { s.txn.Discard() }

// Backup writes the snapshot to w in badger's backup format, streaming
// (one frame in memory at a time). The ledger keeps no history a read
// needs beyond each key's newest version, so that is what it writes.
func (s *Snapshot) Backup(ctx context.Context, w io.Writer) error {
	it := s.txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	var list pb.KVList
	size := 0
	flush := func() error {
		if len(list.Kv) == 0 {
			return nil
		}
		if err := writeFrame(w, &list); err != nil {
			return err
		}
		list.Kv, size = list.Kv[:0], 0
		return ctx.Err()
	}
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("ledger backup: key %q: %w", item.Key(), err)
		}
		kv := &pb.KV{Key: item.KeyCopy(nil), Value: v, Version: item.Version(), UserMeta: []byte{item.UserMeta()}, ExpiresAt: item.ExpiresAt()}
		list.Kv = append(list.Kv, kv)
		if size += len(kv.Key) + len(kv.Value); size >= backupFrame {
			if err := flush(); err != nil {
				return fmt.Errorf("ledger backup: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("ledger backup: %w", err)
	}
	return nil
}

// Backup writes a consistent copy of the committed ledger to w (a
// Snapshot's Backup) while the ledger goes on.
func (l *Ledger) Backup(ctx context.Context, w io.Writer) error {
	s, err := l.Snapshot()
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Backup(ctx, w)
}

func writeFrame(w io.Writer, list *pb.KVList) error {
	b, err := proto.Marshal(list)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Restore creates a ledger in dir (which must hold none) from a backup
// stream. Open then checks its chain and tip as on every start; Verify
// re-checks every block.
//
// A frame larger than 64 MiB fails before anything allocates it. A stream
// cut at a frame boundary cannot be told from a whole one: the caller
// checks the stream's length and digest (the node's archive does), and
// Open finds a missing head, genesis or block.
func Restore(dir string, r io.Reader) (err error) {
	if dir == "" {
		return errors.New("ledger restore: give a directory")
	}
	db, err := openDB(dir, nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if err := db.View(func(txn *badger.Txn) error {
		if _, err := txn.Get(keyGenesis); err == nil {
			return fmt.Errorf("ledger restore into %s: it already holds a ledger", dir)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := db.Load(&frameReader{r: r, max: maxBackupFrame}, backupLoadPending); err != nil {
		return fmt.Errorf("ledger restore: %w", err)
	}
	return nil
}

// frameReader passes a badger backup stream through unchanged, refusing a
// frame longer than max (ErrBackupFrame) before DB.Load, which trusts the
// length, allocates it.
type frameReader struct {
	r   io.Reader
	max uint64
	// hdr is the frame header being passed on (its last off bytes are
	// pending); left is what remains of the frame's body.
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
