// Package testkeys gives tests a directory of Groth16 keys. `make test`
// sets the keys up once and names the directory in ZKSHARE_TEST_KEYS, so
// packages share it instead of each spending most of two minutes on the
// aggregate circuits; without it, keys are set up in a fresh directory.
package testkeys

import (
	"context"
	"os"

	"github.com/zkshare/zkshare/keys"
)

// Env names a directory holding current keys for every circuit.
const Env = "ZKSHARE_TEST_KEYS"

// Dir returns a key directory with the named circuits (keys.Core if none)
// and a cleanup function for it.
func Dir(ctx context.Context, names ...string) (string, func(), error) {
	if dir := os.Getenv(Env); dir != "" {
		return dir, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "zkshare-keys")
	if err != nil {
		return "", nil, err
	}
	if _, err := keys.Setup(ctx, dir, nil, nil, names...); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
