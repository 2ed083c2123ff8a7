// Package atrest loads the key that encrypts a node's private (holder)
// store at rest, and makes new ones. A key is 32 random bytes (AES-256),
// written as 64 hex characters: in a key file only its owner can read, or
// in the environment variable ZKSHARE_ENCRYPTION_KEY.
//
// Whoever holds the key and the store reads every record, and a lost key is
// a lost store: no error of this package contains key material, and
// nothing here logs or prints a key.
package atrest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// EnvVar holds a key itself (64 hex characters) when no key file is given.
const EnvVar = "ZKSHARE_ENCRYPTION_KEY"

// Size is a key's length in bytes (AES-256).
const Size = 32

// ErrKeyFormat means a key is not 64 hex characters. Make a key file with
// `zkshare store keygen`.
var ErrKeyFormat = errors.New("a store key is 64 hex characters (32 bytes)")

// ErrExposed means a key file can be read by other users than its owner,
// so the key may be known beyond it. Restrict it (chmod 600) and consider
// rotating the key.
var ErrExposed = errors.New("the key file is open to group or others")

// Load finds a node's store key: in file when it is set, else in the
// environment variable EnvVar. It returns a nil key when neither is set (the
// store is plain), and where the key came from, for logs.
//
// A key file open to group or others is refused (ErrExposed), as ssh
// refuses such private keys: a warning in a log is easily missed, and the
// key protects every record of the store. On Windows, where modes say
// little, the check is skipped.
func Load(file string) (key []byte, from string, err error) {
	if file != "" {
		if key, err = LoadFile(file); err != nil {
			return nil, "", err
		}
		return key, "file " + file, nil
	}
	v, ok := os.LookupEnv(EnvVar)
	if !ok || v == "" {
		return nil, "", nil
	}
	if key, err = parse(v); err != nil {
		return nil, "", fmt.Errorf("$%s: %w", EnvVar, err)
	}
	return key, "$" + EnvVar, nil
}

// LoadFile reads a key file (64 hex characters, then a newline or not).
func LoadFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("store key: %w", err)
	}
	defer func() { _ = fh.Close() }() // read-only: a close error changes nothing
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("store key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("store key %s: not a regular file", path)
	}
	if m := st.Mode().Perm(); m&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("store key %s: %w (mode %04o): run chmod 600 %s", path, ErrExposed, m, path)
	}
	// A key file is 65 bytes or 66; more means it is not one, and
	// reading a little past the limit says so without reading a large file.
	b, err := io.ReadAll(io.LimitReader(fh, 2*Size+3))
	if err != nil {
		return nil, fmt.Errorf("store key: %w", err)
	}
	if len(b) > 2*Size+2 {
		return nil, fmt.Errorf("store key %s: %w: the file is longer", path, ErrKeyFormat)
	}
	key, err := parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("store key %s: %w", path, err)
	}
	return key, nil
}

// parse decodes a key: 64 hex characters, with one trailing newline
// allowed. Its errors say what is wrong, never what the key is.
func parse(s string) ([]byte, error) {
	s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
	if len(s) != 2*Size {
		return nil, fmt.Errorf("%w, not %d characters", ErrKeyFormat, len(s))
	}
	key, err := hex.DecodeString(s)
	if err != nil {
		// hex's error quotes the offending character: say only that
		// there is one.
		return nil, fmt.Errorf("%w: it has characters that are not hex digits", ErrKeyFormat)
	}
	return key, nil
}
