package zkhash

import (
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

func TestDomainTagsDistinct(t *testing.T) {
	tags := DomainTags()
	all := []fr.Element{tags.Leaf, tags.Query, tags.Key, tags.Partial, tags.Node}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			if all[i].Equal(&all[j]) {
				t.Fatalf("tags %d and %d are equal", i, j)
			}
		}
	}
}

func TestDigestWidth(t *testing.T) {
	for _, bits := range []int{124, 248} {
		d := Digest("label", []byte("data"), bits)
		if d.BigInt(new(big.Int)).BitLen() > bits {
			t.Fatalf("a %d-bit digest has %d bits", bits, d.BigInt(new(big.Int)).BitLen())
		}
		if again := Digest("label", []byte("data"), bits); !again.Equal(&d) {
			t.Fatal("digest not deterministic")
		}
		if other := Digest("labe", []byte("ldata"), bits); other.Equal(&d) {
			t.Fatal("label and data run together")
		}
	}
}

func TestLeafIsSpongeOfItsInput(t *testing.T) {
	var schema, key, salt fr.Element
	schema.SetUint64(1)
	key = Digest("zkshare/key/v1", []byte("k"), 248)
	salt.SetUint64(3)
	var values [MaxFields]fr.Element
	for i := range values {
		values[i].SetUint64(uint64(i * 7))
	}
	in := LeafInput(schema, key, salt, &values)
	leaf := Leaf(schema, key, salt, &values)
	if got := Sponge(LeafWidth, DomainTags().Leaf, in[:]); !got.Equal(&leaf) {
		t.Fatal("Leaf is not the sponge of LeafInput")
	}
	values[1].SetUint64(1)
	if other := Leaf(schema, key, salt, &values); other.Equal(&leaf) {
		t.Fatal("a changed value kept the leaf")
	}
}

func TestKeyPathBits(t *testing.T) {
	// A digest whose top 64 of 248 bits are 0b1010...: bit 0 of the path
	// is the digest's bit 247.
	v := new(big.Int).Lsh(new(big.Int).SetUint64(0xa000_0000_0000_0001), 248-64)
	var key fr.Element
	key.SetBigInt(v)
	p := KeyPath(key)
	if p != 0xa000_0000_0000_0001 {
		t.Fatalf("path %#x", p)
	}
	if PathBit(p, 0) != 1 || PathBit(p, 1) != 0 || PathBit(p, 2) != 1 || PathBit(p, Depth-1) != 1 {
		t.Fatal("path bits are not read from the top")
	}
}

func TestTrieRoot(t *testing.T) {
	var leaf, sib fr.Element
	leaf.SetUint64(5)
	sib.SetUint64(6)
	var sibs [Depth]fr.Element
	sibs[0] = sib
	if r, err := TrieRoot(leaf, 0, 0, &sibs); err != nil || !r.Equal(&leaf) {
		t.Fatal("a leaf at depth 0 is the root")
	}
	r0, _ := TrieRoot(leaf, 0, 1, &sibs)
	r1, _ := TrieRoot(leaf, 1<<63, 1, &sibs)
	if want := Node(0, leaf, sib); !r0.Equal(&want) {
		t.Fatal("path bit 0 is not the left side")
	}
	if want := Node(0, sib, leaf); !r1.Equal(&want) {
		t.Fatal("path bit 1 is not the right side")
	}
	for _, d := range []int{-1, Depth + 1} {
		if _, err := TrieRoot(leaf, 0, d, &sibs); err == nil {
			t.Fatalf("depth %d accepted", d)
		}
	}
}
