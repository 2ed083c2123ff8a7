package kv

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	badger "github.com/dgraph-io/badger/v4"
)

// ErrWrongKey means the key given is not the store's: the store is
// encrypted and no key or another key was given, or it is plain and a key
// was given. Open it with the key it was written with (after a rotation,
// the new one), or without a key if it is plain. Nothing on disk was
// changed.
var ErrWrongKey = errors.New("the store's encryption key does not match")

// ErrKeySize means an encryption key is not an AES key: give one of 16, 24
// or 32 bytes.
var ErrKeySize = errors.New("an encryption key is 16, 24 or 32 bytes (AES-128, -192 or -256)")

// checkKeySize accepts no key (a plain store) or an AES key.
func checkKeySize(key []byte) error {
	switch len(key) {
	case 0, 16, 24, 32:
		return nil
	}
	return fmt.Errorf("%w, not %d", ErrKeySize, len(key))
}

// CheckKey says whether key (nil for none) opens the store in dir. It reads
// only the store's key registry: it writes nothing, takes no lock, and so
// can run before anything else of a node is opened. A directory that holds
// no store yet passes: the store will be created with key.
func CheckKey(dir string, key []byte) error {
	if err := checkKeySize(key); err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	exists, err := hasRegistry(dir)
	if err != nil || !exists {
		return err
	}
	err = readRegistry(dir, key)
	if !errors.Is(err, badger.ErrEncryptionKeyMismatch) {
		if err != nil {
			return fmt.Errorf("open %s: read its key registry: %w", dir, err)
		}
		return nil
	}
	plain := len(key) > 0 && readRegistry(dir, nil) == nil
	return fmt.Errorf("open %s: %w: %s", dir, ErrWrongKey, mismatch(len(key) > 0, plain))
}

// mismatch says why a key does not open a store, and what to do.
func mismatch(keyGiven, plain bool) string {
	switch {
	case !keyGiven:
		return "the store is encrypted and no key was given: give the key it was written with"
	case plain:
		return "the store is not encrypted but a key was given: open it without a key (a plain store cannot be encrypted in place)"
	}
	return "the store is encrypted with another key: give the key it was written with (after a key rotation, the new key)"
}

// hasRegistry says whether dir holds a badger store's key registry (every
// store on disk has one, encrypted or not).
func hasRegistry(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, badger.KeyRegistryFileName))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("open %s: %w", dir, err)
}

// readRegistry reads dir's key registry with key, read-only: the registry's
// sanity text decrypts with the right key only.
func readRegistry(dir string, key []byte) error {
	_, err := badger.OpenKeyRegistry(badger.KeyRegistryOptions{Dir: dir, ReadOnly: true, EncryptionKey: key})
	return err
}

// RotateKey replaces the key of the encrypted store in dir, offline: the
// store must not be open anywhere (ErrLocked otherwise). Badger encrypts
// the store's data with data keys that only its key registry holds, under
// the store's key; rotation re-encrypts that registry alone, so it takes
// the same time for any size of store, and after it only newKey opens the
// store.
//
// A wrong oldKey fails with ErrWrongKey and changes nothing. Both keys
// must be set: badger cannot encrypt a plain store in place (what it had
// already written would stay plain) nor decrypt an encrypted one.
func RotateKey(dir string, oldKey, newKey []byte) error {
	switch {
	case len(oldKey) == 0:
		return fmt.Errorf("rotate %s: no old key: only an encrypted store's key can be rotated; a plain store cannot be encrypted in place", dir)
	case len(newKey) == 0:
		return fmt.Errorf("rotate %s: no new key: an encrypted store cannot be decrypted in place", dir)
	case bytes.Equal(oldKey, newKey):
		return fmt.Errorf("rotate %s: the new key is the old key: give a fresh one", dir)
	}
	for _, k := range [][]byte{oldKey, newKey} {
		if err := checkKeySize(k); err != nil {
			return fmt.Errorf("rotate %s: %w", dir, err)
		}
	}
	exists, err := hasRegistry(dir)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("rotate %s: no store there (it has no %s)", dir, badger.KeyRegistryFileName)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", dir, err)
	}
	defer unlock()
	opt := badger.KeyRegistryOptions{Dir: dir, ReadOnly: true, EncryptionKey: oldKey}
	kr, err := badger.OpenKeyRegistry(opt)
	if errors.Is(err, badger.ErrEncryptionKeyMismatch) {
		plain := readRegistry(dir, nil) == nil
		if plain {
			return fmt.Errorf("rotate %s: the store is not encrypted: only an encrypted store's key can be rotated; a plain store cannot be encrypted in place", dir)
		}
		return fmt.Errorf("rotate %s: %w: %s", dir, ErrWrongKey, mismatch(true, false))
	}
	if err != nil {
		return fmt.Errorf("rotate %s: read its key registry: %w", dir, err)
	}
	// WriteKeyRegistry writes the registry under the new key to a
	// temporary file, syncs it and renames it over the old one: a crash
	// leaves either key working, never neither.
	opt.EncryptionKey = newKey
	if err := badger.WriteKeyRegistry(kr, opt); err != nil {
		return fmt.Errorf("rotate %s: write its key registry: %w", dir, err)
	}
	return nil
}
