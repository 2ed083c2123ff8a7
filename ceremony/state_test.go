package ceremony

import (
	"bytes"
	"strings"
	"testing"

	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/zkshare/zkshare/ceremony/ceremonytest"
	"github.com/zkshare/zkshare/keys"
)

const fuzzN = 8

// validPhase1 is a contributed phase-1 state of size fuzzN, encoded.
func validPhase1(t testing.TB) []byte {
	t.Helper()
	p := mpcsetup.NewPhase1(fuzzN)
	p.Contribute()
	b, err := encode(p)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != phase1Size(fuzzN) {
		t.Fatalf("phase-1 state of %d bytes, phase1Size says %d", len(b), phase1Size(fuzzN))
	}
	return b
}

// validPhase2 is a contributed phase-2 state of the small toy circuit,
// encoded, with its limits.
func validPhase2(t testing.TB) ([]byte, phase2Limits) {
	t.Helper()
	ccs, _, err := keys.CompileCircuit(ceremonytest.Circuits()["small"]())
	if err != nil {
		t.Fatal(err)
	}
	r := ccs.(*cs.R1CS)
	p1 := mpcsetup.NewPhase1(32)
	p1.Contribute()
	commons := p1.Seal([]byte("beacon"))
	var p mpcsetup.Phase2
	p.Initialize(r, &commons)
	p.Contribute()
	b, err := encode(&p)
	if err != nil {
		t.Fatal(err)
	}
	lim := limitsOf(r, 32)
	if int64(len(b)) > lim.maxSize() {
		t.Fatalf("phase-2 state of %d bytes, maxSize says %d", len(b), lim.maxSize())
	}
	return b, lim
}

func TestDecodeValid(t *testing.T) {
	if _, err := decodePhase1(validPhase1(t), fuzzN); err != nil {
		t.Fatal(err)
	}
	b, lim := validPhase2(t)
	if _, err := decodePhase2(b, lim); err != nil {
		t.Fatal(err)
	}
}

// TestHostileStates: truncated, padded, oversized and garbage states are
// refused with an error, before gnark allocates what they declare.
func TestHostileStates(t *testing.T) {
	p1 := validPhase1(t)
	p2, lim := validPhase2(t)
	with := func(b []byte, at int, patch ...byte) []byte {
		c := bytes.Clone(b)
		copy(c[at:], patch)
		return c
	}
	tau := 3*proofSize + 8 + g2Size
	cases := []struct {
		name  string
		phase int
		b     []byte
		want  string
	}{
		{"empty", 1, nil, "truncated"},
		{"truncated", 1, p1[:len(p1)-1], "truncated"},
		{"cut in the middle", 1, p1[:len(p1)/2], "truncated"},
		{"a byte more", 1, append(bytes.Clone(p1), 0), "after the end"},
		{"a huge size", 1, with(p1, 3*proofSize, 0, 0, 1, 0, 0, 0, 0, 0), "phase-1 size"},
		{"an uncompressed point", 1, with(p1, tau, 0x00), "uncompressed"},
		{"a coordinate beyond the field", 1, with(p1, tau, append([]byte{0xbf}, bytes.Repeat([]byte{0xff}, g1Size-1)...)...), ""},
		{"a long challenge", 1, with(p1, len(p1)-33, 0xff), "challenge length"},
		{"garbage", 1, bytes.Repeat([]byte{0xa5}, len(p1)), ""},
		{"phase 2 empty", 2, nil, "truncated"},
		{"phase 2 truncated", 2, p2[:len(p2)-1], "truncated"},
		{"phase 2 with 65535 commitments", 2, with(p2, 0, 0xff, 0xff), "commitment count"},
		{"phase 2 with 2^32-1 PKK points", 2, with(p2, 2+g1Size, 0xff, 0xff, 0xff, 0xff), "at most"},
		{"phase 2 with a longer Z", 2, with(p2, 2+g1Size+4+g1Size*int(uint32(p2[2+g1Size+3])), 0, 0, 1, 0), "Z length"},
		{"phase 2 garbage", 2, bytes.Repeat([]byte{0x5a}, len(p2)), ""},
		{"phase 2 a byte more", 2, append(bytes.Clone(p2), 0), "after the end"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.phase == 1 {
				_, err = decodePhase1(tc.b, fuzzN)
			} else {
				_, err = decodePhase2(tc.b, lim)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// FuzzDecodePhase1: any bytes give a state that re-encodes to them, or an
// error; never a panic or an allocation beyond the plan's size.
func FuzzDecodePhase1(f *testing.F) {
	b := validPhase1(f)
	f.Add(b)
	f.Add(b[:len(b)/3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePhase1(b, fuzzN)
		if err != nil {
			return
		}
		if e, _ := encode(p); !bytes.Equal(e, b) {
			t.Fatal("decoded state does not re-encode to its bytes")
		}
	})
}

// FuzzDecodePhase2 is FuzzDecodePhase1 for phase-2 states.
func FuzzDecodePhase2(f *testing.F) {
	b, lim := validPhase2(f)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePhase2(b, lim)
		if err != nil {
			return
		}
		if e, _ := encode(p); !bytes.Equal(e, b) {
			t.Fatal("decoded state does not re-encode to its bytes")
		}
	})
}
