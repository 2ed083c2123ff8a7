package tree

import (
	"errors"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

func TestNodeEncoding(t *testing.T) {
	var h fr.Element
	h.SetUint64(42)
	for _, n := range []Node{{Kind: Inner, Hash: h}, {Kind: Leaf, Hash: h, Path: 7, Ref: "sensor-1/9"}, {Kind: Leaf, Hash: h, Path: 1 << 63}} {
		got, err := DecodeNode(n.AppendBinary(nil))
		if err != nil || got != n {
			t.Fatalf("%+v: got %+v, %v", n, got, err)
		}
	}
	bad := [][]byte{nil, {byte(Leaf)}, append([]byte{byte(Empty)}, make([]byte, 32)...), append([]byte{9}, make([]byte, 32)...),
		append(Node{Kind: Inner}.AppendBinary(nil), 1), Node{Kind: Leaf}.AppendBinary(nil)[:34], Node{Kind: Leaf, Path: 77, Ref: "p00001"}.AppendBinary(nil)[1:]}
	for i, b := range bad {
		if _, err := DecodeNode(b); !errors.Is(err, ErrCorruptNode) {
			t.Errorf("bad[%d]: %v", i, err)
		}
	}
}

func FuzzDecodeNode(f *testing.F) {
	f.Add(Node{Kind: Leaf, Path: 5, Ref: "k"}.AppendBinary(nil))
	f.Add(Node{Kind: Inner}.AppendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeNode(b)
		if err != nil {
			return
		}
		if again, err := DecodeNode(n.AppendBinary(nil)); err != nil || again != n {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}
