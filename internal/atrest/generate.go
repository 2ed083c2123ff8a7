package atrest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// Generate writes a fresh key (32 bytes from crypto/rand, hex) to a new
// file at path that only its owner can read. It never overwrites a file:
// the key already there may be the only key to a store.
func Generate(path string) (err error) {
	key := make([]byte, Size)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("store key: %w", err)
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("store key %s exists: not overwriting it (it may be the only key to a store)", path)
		}
		return fmt.Errorf("store key: %w", err)
	}
	defer func() {
		if err != nil {
			// A half-written key file is worse than none.
			err = errors.Join(err, os.Remove(path))
		}
	}()
	_, werr := fh.WriteString(hex.EncodeToString(key) + "\n")
	if err := errors.Join(werr, fh.Sync(), fh.Close()); err != nil {
		return fmt.Errorf("store key %s: %w", path, err)
	}
	return nil
}
