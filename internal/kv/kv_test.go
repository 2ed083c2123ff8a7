package kv_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/zkshare/zkshare/internal/kv"
)

var (
	key1 = bytes.Repeat([]byte{0x11}, 32)
	key2 = bytes.Repeat([]byte{0x22}, 32)
	key3 = bytes.Repeat([]byte{0x33}, 16)
)

// write opens the store in dir with key, sets k to v and closes it.
func write(t *testing.T, dir string, key []byte, k, v string) {
	t.Helper()
	db, err := kv.Open(dir, nil, kv.Options{EncryptionKey: key})
	if err != nil {
		t.Fatalf("open to write: %v", err)
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(k), []byte(v)) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// read opens the store in dir with key and returns k's value.
func read(t *testing.T, dir string, key []byte, k string) string {
	t.Helper()
	db, err := kv.Open(dir, nil, kv.Options{EncryptionKey: key})
	if err != nil {
		t.Fatalf("open to read: %v", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	}()
	var v []byte
	err = db.View(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte(k))
		if err != nil {
			return err
		}
		v, err = it.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", k, err)
	}
	return string(v)
}

// snapshot is every file under dir, by name, with its bytes' hash: two
// equal snapshots mean nothing was created, removed or written.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(h[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	if maps.Equal(before, after) {
		return
	}
	for _, n := range slices.Sorted(maps.Keys(before)) {
		if after[n] != before[n] {
			t.Errorf("%s changed (before %.12s, after %.12s)", n, before[n], after[n])
		}
	}
	for n := range after {
		if _, ok := before[n]; !ok {
			t.Errorf("%s appeared", n)
		}
	}
}

func TestEncryptedRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []byte
	}{{"aes256", key1}, {"aes128", key3}, {"plain", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.key, "k", "v1")
			if got := read(t, dir, tc.key, "k"); got != "v1" {
				t.Fatalf("read back %q", got)
			}
		})
	}
	t.Run("in memory", func(t *testing.T) {
		db, err := kv.Open("", nil, kv.Options{EncryptionKey: key1, Managed: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSnapshotSeesChanges shows the snapshot comparison the other tests
// rely on does notice a change.
func TestSnapshotSeesChanges(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, key1, "k", "v1")
	before := snapshot(t, dir)
	write(t, dir, key1, "k", "v2")
	if maps.Equal(before, snapshot(t, dir)) {
		t.Fatal("a write and close left every file as it was: the snapshot sees nothing")
	}
}

func TestWrongKeyChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name          string
		written, open []byte
		managed       bool
		want          string
	}{
		{"another key", key1, key2, false, "encrypted with another key"},
		{"another key managed", key1, key2, true, "encrypted with another key"},
		{"another key size", key1, key3, false, "encrypted with another key"},
		{"no key", key1, nil, true, "encrypted and no key was given"},
		{"key for a plain store", nil, key1, true, "not encrypted but a key was given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.written, "k", "v")
			before := snapshot(t, dir)
			db, err := kv.Open(dir, nil, kv.Options{EncryptionKey: tc.open, Managed: tc.managed})
			if err == nil {
				_ = db.Close()
				t.Fatal("opened with the wrong key")
			}
			if !errors.Is(err, kv.ErrWrongKey) {
				t.Fatalf("err %v, want ErrWrongKey", err)
			}
			for _, s := range []string{"the store's encryption key does not match", tc.want, dir} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			sameSnapshot(t, before, snapshot(t, dir))
			if got := read(t, dir, tc.written, "k"); got != "v" {
				t.Fatalf("the right key reads %q", got)
			}
		})
	}
}

func TestKeySize(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		_, err := kv.Open(dir, nil, kv.Options{EncryptionKey: []byte("short")})
		if !errors.Is(err, kv.ErrKeySize) || !strings.Contains(err.Error(), "not 5") {
			t.Errorf("dir %q: a 5-byte key: %v", dir, err)
		}
	}
}

func TestRotateKey(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, key1, "k", "before")
	if err := kv.RotateKey(dir, key1, key2); err != nil {
		t.Fatal(err)
	}
	if got := read(t, dir, key2, "k"); got != "before" {
		t.Fatalf("new key reads %q", got)
	}
	for _, k := range [][]byte{key1, nil} {
		if _, err := kv.Open(dir, nil, kv.Options{EncryptionKey: k}); !errors.Is(err, kv.ErrWrongKey) {
			t.Fatalf("key %x after rotation: %v, want ErrWrongKey", k, err)
		}
	}
	// Writes under the new key, and a second rotation to a 16-byte key.
	write(t, dir, key2, "k2", "after")
	if err := kv.RotateKey(dir, key2, key3); err != nil {
		t.Fatal(err)
	}
	if a, b := read(t, dir, key3, "k"), read(t, dir, key3, "k2"); a != "before" || b != "after" {
		t.Fatalf("after two rotations: %q %q", a, b)
	}
}

func TestRotateKeyRefuses(t *testing.T) {
	for _, tc := range []struct {
		name          string
		written       []byte
		old, new      []byte
		wantIs        error
		want          string
		noStore, open bool
	}{
		{name: "wrong old key", written: key1, old: key3, new: key2, wantIs: kv.ErrWrongKey, want: "encrypted with another key"},
		{name: "plain store", written: nil, old: key1, new: key2, want: "not encrypted"},
		{name: "no old key", written: key1, old: nil, new: key2, want: "no old key"},
		{name: "no new key", written: key1, old: key1, new: nil, want: "cannot be decrypted in place"},
		{name: "same key", written: key1, old: key1, new: key1, want: "the new key is the old key"},
		{name: "bad new key size", written: key1, old: key1, new: []byte("0123456789"), wantIs: kv.ErrKeySize},
		{name: "no store", noStore: true, old: key1, new: key2, want: "no store there"},
		{name: "store open", written: key1, old: key1, new: key2, open: true, wantIs: kv.ErrLocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if !tc.noStore {
				write(t, dir, tc.written, "k", "v")
			}
			before := snapshot(t, dir)
			if tc.open {
				db, err := kv.Open(dir, nil, kv.Options{EncryptionKey: tc.written})
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = db.Close() }()
			}
			err := kv.RotateKey(dir, tc.old, tc.new)
			if err == nil {
				t.Fatal("rotated")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("err %v, want %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if tc.open {
				return // the open store writes its own files
			}
			sameSnapshot(t, before, snapshot(t, dir))
			if !tc.noStore {
				if got := read(t, dir, tc.written, "k"); got != "v" {
					t.Fatalf("the store's own key reads %q", got)
				}
			}
		})
	}
}

// TestCanary writes a distinctive value and looks for its bytes in every
// file of the store: a plain store has them, an encrypted one must not.
func TestCanary(t *testing.T) {
	const canary = "CANARY-4f1d9e"
	for _, tc := range []struct {
		name  string
		key   []byte
		found bool
	}{{"plain", nil, true}, {"encrypted", key1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.key, "key-"+canary, "value-"+canary)
			var in []string
			err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				if bytes.Contains(b, []byte(canary)) {
					in = append(in, d.Name())
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if found := len(in) > 0; found != tc.found {
				t.Fatalf("canary found in %v, want found=%v", in, tc.found)
			}
		})
	}
}

func TestCheckKeyNewStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "none")
	if err := kv.CheckKey(dir, key1); err != nil {
		t.Fatalf("a store yet to be made: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("CheckKey made %s: %v", dir, err)
	}
}
