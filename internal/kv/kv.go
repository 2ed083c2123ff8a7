// Package kv opens zkshare's badger stores the one way they are opened:
// synced writes (an acknowledged write survives a crash), badger's logging
// routed into slog, a clear error when another process holds the store, and,
// for an encrypted store, a key checked before anything on disk is touched.
package kv

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/internal/logging"
)

// ErrLocked means another process has the store open. Stop it, or use another directory.
var ErrLocked = errors.New("store is in use by another process")

// Options are how a store is opened beyond its directory.
type Options struct {
	// Managed opens the store in badger's managed mode: the caller picks
	// every transaction's timestamps and keeps old versions readable
	// until it moves the discard point (holder's tree versions).
	Managed bool
	// EncryptionKey, when set (16, 24 or 32 bytes), encrypts the store at
	// rest with AES (badger's encryption).
	EncryptionKey []byte
}

// Open opens (or creates) the badger store in dir; dir "" keeps it in memory.
//
// A store written with a key opens only with that key, and a plain store
// only without one: anything else fails with ErrWrongKey before badger
// opens the store, so a failed open leaves the directory as it was.
func Open(dir string, log *slog.Logger, o Options) (*badger.DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if dir == "" {
		if err := checkKeySize(o.EncryptionKey); err != nil {
			return nil, fmt.Errorf("open in memory: %w", err)
		}
	} else if err := CheckKey(dir, o.EncryptionKey); err != nil {
		return nil, err
	}
	opts := badger.DefaultOptions(dir).WithLogger(logging.Badger{L: log}).WithSyncWrites(true)
	if dir == "" {
		opts = opts.WithInMemory(true)
	}
	if len(o.EncryptionKey) > 0 {
		// Badger needs a block index cache once blocks are encrypted.
		opts = opts.WithEncryptionKey(o.EncryptionKey).WithIndexCacheSize(64 << 20)
	}
	var db *badger.DB
	var err error
	if o.Managed {
		db, err = badger.OpenManaged(opts)
	} else {
		db, err = badger.Open(opts)
	}
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("open %s: %w", dir, ErrLocked)
		}
		// CheckKey has already read the key registry, so badger finds
		// a mismatch only if the registry changed in between.
		if errors.Is(err, badger.ErrEncryptionKeyMismatch) {
			return nil, fmt.Errorf("open %s: %w: %s", dir, ErrWrongKey, mismatch(len(o.EncryptionKey) > 0, false))
		}
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return db, nil
}
