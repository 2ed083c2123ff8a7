package keys

import (
	"encoding/binary"
	"strings"
	"testing"

	curve "github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
)

// attack15bVK builds a verifying key whose points are partly in gnark's
// uncompressed form: checkVKLayout assumes every point is compressed, so
// it reads the K length at byte 288, where gnark reads a point's bytes;
// gnark reads the real K length at byte 416: 2^32-1.
func attack15bVK(t testing.TB) []byte {
	const k = 8 // what the layout walk reads as K's length
	// A G1 point whose X's top four bytes are k (uncompressed: 00 flag bits).
	var p curve.G1Affine
	var three fp.Element
	three.SetUint64(3)
	for j := uint64(1); ; j++ {
		var xb [32]byte
		binary.BigEndian.PutUint32(xb[:], k)
		binary.BigEndian.PutUint64(xb[24:], j)
		p.X.SetBytes(xb[:])
		var rhs fp.Element
		rhs.Square(&p.X).Mul(&rhs, &p.X).Add(&rhs, &three)
		if rhs.Legendre() == 1 {
			p.Y.Sqrt(&rhs)
			break
		}
	}
	if !p.IsOnCurve() || !p.IsInSubGroup() {
		t.Fatal("not a G1 point")
	}
	g1Inf := append([]byte{0x40}, make([]byte, 31)...) // compressed infinity
	g2Inf := append([]byte{0x40}, make([]byte, 63)...)
	raw := p.RawBytes()
	var b []byte
	b = append(b, make([]byte, 64)...)               // [α]1 uncompressed infinity: 0..64
	b = append(b, g1Inf...)                          // [β]1: 64..96
	b = append(b, make([]byte, 128)...)              // [β]2 uncompressed infinity: 96..224
	b = append(b, g2Inf...)                          // [γ]2: 224..288
	b = append(b, raw[:]...)                         // [δ]1 uncompressed: 288..352 (the walk reads K=8 at 288)
	b = append(b, g2Inf...)                          // [δ]2: 352..416
	b = binary.BigEndian.AppendUint32(b, 0xFFFFFFFF) // gnark's K length: 416
	for len(b) < 292+32*k {                          // the walk skips K's 8 "points" to 548
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint32(b, 0) // the walk's commitment index lists
	b = binary.BigEndian.AppendUint32(b, 0) // the walk's commitment keys
	return b
}

// TestVKLayoutUncompressed: a key whose points are partly uncompressed
// (so that a walk assuming compressed points would read K's length where
// gnark reads a point, and gnark a length of 2^32-1) is refused before
// gnark decodes it (second review of issue 15).
func TestVKLayoutUncompressed(t *testing.T) {
	b := attack15bVK(t)
	if err := checkVKLayout(b); err == nil || !strings.Contains(err.Error(), "compressed") {
		t.Fatalf("layout walk: %v", err)
	}
	if _, _, err := ParseVerifying(b); err == nil {
		t.Fatal("parsed")
	}
}
