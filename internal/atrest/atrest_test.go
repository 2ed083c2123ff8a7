package atrest_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/zkshare/zkshare/internal/atrest"
)

const hexKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// secretParts are pieces of the keys the tests use: none may appear in an
// error.
var secretParts = []string{"00112233", "aabbccdd", "8899aabb", "zzzz9999", "7777"}

func noSecret(t *testing.T, err error) {
	t.Helper()
	for _, s := range secretParts {
		if strings.Contains(strings.ToLower(err.Error()), s) {
			t.Errorf("error %q shows key material %q", err, s)
		}
	}
}

func writeFile(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "store.key")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func TestLoadFile(t *testing.T) {
	want, _ := hex.DecodeString(hexKey)
	for _, tc := range []struct {
		name   string
		body   string
		mode   os.FileMode
		wantIs error
		want   string // in the error; "" for no error
	}{
		{name: "newline", body: hexKey + "\n", mode: 0o600},
		{name: "crlf", body: hexKey + "\r\n", mode: 0o600},
		{name: "no newline", body: hexKey, mode: 0o400},
		{name: "upper case", body: strings.ToUpper(hexKey), mode: 0o600},
		{name: "short", body: hexKey[:62] + "\n", mode: 0o600, wantIs: atrest.ErrKeyFormat, want: "not 62 characters"},
		{name: "16 bytes", body: hexKey[:32], mode: 0o600, wantIs: atrest.ErrKeyFormat, want: "not 32 characters"},
		{name: "long", body: hexKey + "77", mode: 0o600, wantIs: atrest.ErrKeyFormat, want: "not 66 characters"},
		{name: "much longer", body: strings.Repeat(hexKey, 4), mode: 0o600, wantIs: atrest.ErrKeyFormat, want: "the file is longer"},
		{name: "two newlines", body: hexKey + "\n\n", mode: 0o600, wantIs: atrest.ErrKeyFormat, want: "not 65 characters"},
		{name: "not hex", body: "zzzz9999" + hexKey[8:], mode: 0o600, wantIs: atrest.ErrKeyFormat, want: "not hex digits"},
		{name: "empty", body: "", mode: 0o600, wantIs: atrest.ErrKeyFormat, want: "not 0 characters"},
		{name: "group readable", body: hexKey, mode: 0o640, wantIs: atrest.ErrExposed, want: "chmod 600"},
		{name: "world readable", body: hexKey, mode: 0o604, wantIs: atrest.ErrExposed, want: "mode 0604"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if errors.Is(tc.wantIs, atrest.ErrExposed) && runtime.GOOS == "windows" {
				t.Skip("modes are not checked on Windows")
			}
			p := writeFile(t, tc.body, tc.mode)
			key, err := atrest.LoadFile(p)
			if tc.want == "" {
				if err != nil || !bytes.Equal(key, want) {
					t.Fatalf("key %x, %v", key, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded %x", key)
			}
			if !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %q, want %v saying %q", err, tc.wantIs, tc.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
			noSecret(t, err)
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := atrest.LoadFile(filepath.Join(t.TempDir(), "none"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		d := t.TempDir()
		if err := os.Chmod(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := atrest.LoadFile(d); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestLoad(t *testing.T) {
	other := strings.Repeat("ab", 32)
	file := writeFile(t, other+"\n", 0o600)
	for _, tc := range []struct {
		name, file, env string
		wantKey         string // hex; "" for none
		wantFrom, err   string
	}{
		{name: "neither"},
		{name: "env", env: hexKey, wantKey: hexKey, wantFrom: "$ZKSHARE_ENCRYPTION_KEY"},
		{name: "env with newline", env: hexKey + "\n", wantKey: hexKey, wantFrom: "$ZKSHARE_ENCRYPTION_KEY"},
		{name: "file", file: file, wantKey: other, wantFrom: "file " + file},
		{name: "file wins over env", file: file, env: hexKey, wantKey: other, wantFrom: "file " + file},
		{name: "env short", env: hexKey[:60], err: "$ZKSHARE_ENCRYPTION_KEY: a store key is 64 hex characters (32 bytes), not 60"},
		{name: "env not hex", env: hexKey[:56] + "zzzz9999", err: "not hex digits"},
		{name: "missing file", file: file + ".none", env: hexKey, err: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(atrest.EnvVar, tc.env)
			key, from, err := atrest.Load(tc.file)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				if key != nil || from != "" {
					t.Errorf("a failed load returned %x from %q", key, from)
				}
				noSecret(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(key) != tc.wantKey || from != tc.wantFrom {
				t.Fatalf("key %x from %q, want %s from %q", key, from, tc.wantKey, tc.wantFrom)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.key"), filepath.Join(dir, "b.key")
	for _, p := range []string{a, b} {
		if err := atrest.Generate(p); err != nil {
			t.Fatal(err)
		}
	}
	ka, err := atrest.LoadFile(a) // also: the mode it wrote passes the check
	if err != nil {
		t.Fatal(err)
	}
	kb, err := atrest.LoadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ka) != atrest.Size || bytes.Equal(ka, kb) || bytes.Equal(ka, make([]byte, atrest.Size)) {
		t.Fatalf("keys %x and %x: want two different random keys", ka, kb)
	}
	if st, err := os.Stat(a); err != nil || (runtime.GOOS != "windows" && st.Mode().Perm() != 0o600) {
		t.Fatalf("mode %v, %v", st.Mode(), err)
	}
	raw, err := os.ReadFile(a)
	if err != nil || string(raw) != hex.EncodeToString(ka)+"\n" {
		t.Fatalf("file %q: want the hex key and a newline", raw)
	}
	// Never over an existing file: the key there stays.
	err = atrest.Generate(a)
	if err == nil || !strings.Contains(err.Error(), "not overwriting") {
		t.Fatalf("second generate: %v", err)
	}
	if again, _ := atrest.LoadFile(a); !bytes.Equal(again, ka) {
		t.Fatal("the existing key changed")
	}
}
