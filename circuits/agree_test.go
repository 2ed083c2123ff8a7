package circuits

import (
	"encoding/binary"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/test"
	"github.com/zkshare/zkshare/zkhash"
)

// agreeCircuit recomputes a leaf and a root in-circuit and compares them
// with natively computed public values.
type agreeCircuit struct {
	Leaf, Root, KeyCommitment frontend.Variable `gnark:",public"`
	SchemaID, Nonce, Blind    frontend.Variable
	Record                    RecordVars
}

func (c *agreeCircuit) Define(api frontend.API) error {
	g := newGadget(api)
	leaf := g.leaf(c.SchemaID, c.Record.Key, c.Record.Salt, c.Record.Values[:])
	api.AssertIsEqual(leaf, c.Leaf)
	api.AssertIsEqual(g.walk(leaf, g.keyBits(c.Record.Key), c.Record.Depth, c.Record.Siblings[:]), c.Root)
	api.AssertIsEqual(g.sponge(keyWidth, tagKey, []frontend.Variable{c.SchemaID, c.Record.Key, c.Nonce, c.Blind}), c.KeyCommitment)
	return nil
}

// recordFrom derives a record from fuzz bytes: slots below 2^126, any
// position, arbitrary siblings.
func recordFrom(seed []byte) (fr.Element, Record) {
	var r Record
	word := func(i int) uint64 {
		var b [8]byte
		for j := range b {
			if k := (i*8 + j) % max(1, len(seed)); len(seed) > 0 {
				b[j] = seed[k] ^ byte(i*31+j)
			}
		}
		return binary.LittleEndian.Uint64(b[:])
	}
	for i := range r.Values {
		v := new(big.Int).SetUint64(word(i))
		v.Lsh(v, uint(word(i+100)%63))
		r.Values[i].SetBigInt(v)
	}
	r.Key = zkhash.Digest("zkshare/key/v1", seed, 248)
	r.Salt.SetUint64(word(21))
	r.Depth = int(word(22) % (Depth + 1))
	for i := range r.Siblings {
		r.Siblings[i].SetUint64(word(30 + i))
	}
	var schema fr.Element
	schema.SetUint64(word(23))
	return schema, r
}

func checkAgreement(t *testing.T, seed []byte) {
	schema, r := recordFrom(seed)
	var nonce, blind fr.Element
	nonce.SetUint64(uint64(len(seed)))
	blind.Mul(&r.Salt, &r.Key)
	leaf := r.Leaf(schema)
	root, err := zkhash.TrieRoot(leaf, zkhash.KeyPath(r.Key), r.Depth, &r.Siblings)
	if err != nil {
		t.Fatal(err)
	}
	a := &agreeCircuit{Leaf: leaf, Root: root, KeyCommitment: zkhash.KeyCommitment(schema, r.Key, nonce, blind),
		SchemaID: schema, Nonce: nonce, Blind: blind, Record: r.vars()}
	if err := test.IsSolved(&agreeCircuit{}, a, ecc.BN254.ScalarField()); err != nil {
		t.Fatalf("native and in-circuit hashing disagree: %v", err)
	}
	if r.Depth > 0 {
		a.Root, _ = zkhash.TrieRoot(leaf, zkhash.KeyPath(r.Key)^1<<(Depth-r.Depth), r.Depth, &r.Siblings)
		if test.IsSolved(&agreeCircuit{}, a, ecc.BN254.ScalarField()) == nil {
			t.Fatal("a root for another key path was accepted")
		}
	}
	a.Root, _ = zkhash.TrieRoot(leaf, zkhash.KeyPath(r.Key), (r.Depth+1)%(Depth+1), &r.Siblings)
	if test.IsSolved(&agreeCircuit{}, a, ecc.BN254.ScalarField()) == nil {
		t.Fatal("a root for another depth was accepted")
	}
}

func TestLeafAgreement(t *testing.T) {
	for _, seed := range [][]byte{nil, {1}, []byte("zkshare"), {0xff, 0xfe, 0x01, 0x80}} {
		checkAgreement(t, seed)
	}
}

func FuzzLeafAgreement(f *testing.F) {
	f.Add([]byte("seed"))
	f.Fuzz(func(t *testing.T, seed []byte) { checkAgreement(t, seed) })
}
