package keys

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/std/rangecheck"
)

// TestVKLayout: every verifying key a setup writes walks cleanly; a length
// prefix asking for more than the key holds is refused before gnark's
// decoder allocates it (FuzzParseVerifying covers the rest).
func TestVKLayout(t *testing.T) {
	// A small circuit's key (with a commitment, as ours have), and the
	// real ones when ZKSHARE_TEST_KEYS names them.
	small := tinyVK(t)
	vks := map[string][]byte{"tiny": small}
	if dir := os.Getenv("ZKSHARE_TEST_KEYS"); dir != "" {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.vk"))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			vks[filepath.Base(p)] = b
		}
	}
	for path, b := range vks {
		if err := checkVKLayout(b); err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
		}
		if _, _, err := ParseVerifying(b); err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
		}
		for _, tc := range []struct {
			name string
			at   int
		}{{"K", 288}} {
			bomb := append([]byte(nil), b...)
			binary.BigEndian.PutUint32(bomb[tc.at:], 0xFFFFFFFF)
			if _, _, err := ParseVerifying(bomb); err == nil || !strings.Contains(err.Error(), "remaining bytes") {
				t.Errorf("%s with a %s length of 2^32-1: %v", filepath.Base(path), tc.name, err)
			}
		}
		if _, _, err := ParseVerifying(append(b, 0)); err == nil {
			t.Errorf("%s with a trailing byte parsed", filepath.Base(path))
		}
	}
}

func FuzzParseVerifying(f *testing.F) {
	if dir := os.Getenv("ZKSHARE_TEST_KEYS"); dir != "" {
		vks, _ := filepath.Glob(filepath.Join(dir, "*.vk"))
		for _, p := range vks {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add(make([]byte, 300))
	f.Add(tinyVK(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = ParseVerifying(b) // must return, never panic or allocate without bound
	})
}

type tiny struct {
	X, Y frontend.Variable
	Z    frontend.Variable `gnark:",public"`
}

func (c *tiny) Define(api frontend.API) error {
	rangecheck.New(api).Check(c.X, 8)
	api.AssertIsEqual(api.Mul(c.X, c.Y), c.Z)
	return nil
}

// tinyVK is the verifying key of a two-constraint circuit with a range
// check (so a BSB22 commitment), in gnark's compressed encoding.
func tinyVK(t testing.TB) []byte {
	t.Helper()
	cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &tiny{})
	if err != nil {
		t.Fatal(err)
	}
	_, vk, err := groth16.Setup(cs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := vk.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
