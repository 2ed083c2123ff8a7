package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// TestDeviceKeygen: the private key is the device's alone (0600) and reads
// back to the public key keygen printed.
func TestDeviceKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.key")
	out, _, err := zk(t, "device", "keygen", "--out", path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", st, err)
	}
	k, err := readDeviceKey(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := devicePublic("", strings.TrimSpace(out))
	if err != nil || !bytes.Equal(pub, k.Public()) {
		t.Fatalf("printed key %q does not match the file's (%v)", out, err)
	}
	os.WriteFile(path+".bad", []byte("zz\n"), 0o600)
	if _, err := readDeviceKey(path + ".bad"); err == nil || strings.Contains(err.Error(), "zz") {
		t.Errorf("a bad key file: %v", err)
	}
}

func TestGapList(t *testing.T) {
	for _, tc := range []struct {
		gaps []*zkv1.CounterRange
		want string
	}{
		{nil, "-"},
		{[]*zkv1.CounterRange{{First: 5, Last: 5}}, "5"},
		{[]*zkv1.CounterRange{{First: 5, Last: 5}, {First: 9, Last: 11}}, "5, 9-11"},
	} {
		if got := gapList(tc.gaps); got != tc.want {
			t.Errorf("gapList(%v) = %q, want %q", tc.gaps, got, tc.want)
		}
	}
}
