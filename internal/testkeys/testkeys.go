// Package testkeys gives tests a directory of Groth16 keys. `make test`
// sets the keys up once and names the directory in ZKSHARE_TEST_KEYS, so
// packages share it instead of each spending most of two minutes on the
// aggregate circuits; without it, keys are set up in a fresh directory.
package testkeys

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/zkshare/zkshare/keys"
)

// Env names a directory holding current keys for every circuit.
const Env = "ZKSHARE_TEST_KEYS"

// Dir returns a key directory with just the named circuits (keys.Core if
// none), and a cleanup function for it. From ZKSHARE_TEST_KEYS it links the
// circuits' files rather than copying them.
func Dir(ctx context.Context, names ...string) (string, func(), error) {
	if len(names) == 0 {
		names = keys.Core
	}
	dir, err := os.MkdirTemp("", "zkshare-keys")
	if err != nil {
		return "", nil, err
	}
	if shared := os.Getenv(Env); shared != "" {
		files := []string{"manifest.json"}
		for _, n := range names {
			files = append(files, n+".pk", n+".vk", n+".ccs")
		}
		for _, f := range files {
			if err := os.Symlink(filepath.Join(shared, f), filepath.Join(dir, f)); err != nil {
				return "", nil, errors.Join(err, os.RemoveAll(dir))
			}
		}
		return dir, cleanup(dir), nil
	}
	if _, err := keys.Setup(ctx, dir, nil, nil, names...); err != nil {
		return "", nil, errors.Join(err, os.RemoveAll(dir))
	}
	return dir, cleanup(dir), nil
}

// cleanup removes a temporary key directory; a failure leaves only a
// temporary directory behind, so it is logged rather than returned.
func cleanup(dir string) func() {
	return func() {
		if err := os.RemoveAll(dir); err != nil {
			slog.Warn("testkeys: temporary key directory not removed", "dir", dir, "err", err)
		}
	}
}

// Merge links the keys of the named circuits (every circuit whose files
// src holds, if none named) from src into dir, in place of any dir has, and
// adds their manifest entries to dir's (made if dir has none).
func Merge(dir, src string, names ...string) error {
	m, err := keys.ReadManifest(dir)
	if err != nil {
		m = &keys.Manifest{Circuits: map[string]keys.Entry{}}
	}
	sm, err := keys.ReadManifest(src)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		for name := range sm.Circuits {
			// A shared directory may link the core circuits only.
			if _, err := os.Stat(filepath.Join(src, name+".pk")); err == nil {
				names = append(names, name)
			}
		}
	}
	for _, name := range names {
		e, ok := sm.Circuits[name]
		if !ok {
			return errors.New("testkeys: no " + name + " keys in " + src)
		}
		for _, ext := range []string{".pk", ".vk", ".ccs"} {
			to := filepath.Join(dir, name+ext)
			if err := os.Remove(to); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if err := os.Symlink(filepath.Join(src, name+ext), to); err != nil {
				return err
			}
		}
		m.Circuits[name] = e
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o600)
}
