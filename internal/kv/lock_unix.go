//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package kv

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir takes the lock badger takes on a store's directory (flock, held
// while the store is open), so an offline change fails with ErrLocked
// while a process has the store open, and no process opens it meanwhile.
// Unlike badger it writes no pid file: a failed change leaves nothing.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	// Closing the directory releases the lock.
	return func() { _ = f.Close() }, nil
}
