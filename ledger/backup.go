package ledger

import (
	"context"
	"errors"
	"fmt"
	"io"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/zkshare/zkshare/internal/kv"
)

// A ledger backup is badger's backup format (kv.FrameWriter).

// ErrBackupFrame means a backup stream declares a frame larger than a restore
// accepts (64 MiB); it is damaged or not a ledger backup.
var ErrBackupFrame = kv.ErrBackupFrame

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
	fw := kv.NewFrameWriter(w)
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("ledger backup: key %q: %w", item.Key(), err)
		}
		if err := fw.Add(&pb.KV{Key: item.KeyCopy(nil), Value: v, Version: item.Version(), UserMeta: []byte{item.UserMeta()}, ExpiresAt: item.ExpiresAt()}); err != nil {
			return fmt.Errorf("ledger backup: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := fw.Flush(); err != nil {
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
	if err := kv.Load(db, r); err != nil {
		return fmt.Errorf("ledger restore: %w", err)
	}
	return nil
}
