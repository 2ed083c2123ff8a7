// Package kv opens zkshare's badger stores the one way they are opened:
// synced writes (an acknowledged write survives a crash), badger's logging
// routed into slog, and a clear error when another process holds the store.
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

// Open opens (or creates) the badger store in dir; dir "" keeps it in memory.
func Open(dir string, log *slog.Logger) (*badger.DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := badger.DefaultOptions(dir).WithLogger(logging.Badger{L: log}).WithSyncWrites(true)
	if dir == "" {
		opts = opts.WithInMemory(true)
	}
	db, err := badger.Open(opts)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("open %s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return db, nil
}
