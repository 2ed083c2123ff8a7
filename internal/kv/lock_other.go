//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package kv

import "errors"

// lockDir cannot take badger's directory lock here, so an offline change
// that needs it refuses rather than risk a store another process has open.
func lockDir(string) (func(), error) {
	return nil, errors.New("cannot lock a store's directory on this system: offline changes need Linux, macOS or a BSD")
}
