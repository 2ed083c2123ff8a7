package circuits

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// The collection tree is a compressed sparse Merkle tree (as iden3's claims
// trees are): a key's place is fixed by its key path, the top Depth bits of
// its key digest, read from the most significant bit down. A subtree holding
// exactly one leaf is that leaf, sitting at the key's shortest unique
// prefix; a subtree holding none is 0; any other subtree at depth d is
// Node(d, left, right). The root of an empty collection is 0.
//
// Because a key's walk from the root is a function of the key alone, a root
// holds at most one leaf that a proof about key K can reach: the live record
// with key K, or proof that there is none (an empty slot, or a leaf of
// another key, where K's walk ends).

// KeyPath is a key digest's path: its top Depth bits (digests are 248-bit).
func KeyPath(key fr.Element) uint64 {
	b := key.Bytes() // big-endian; a 248-bit digest leaves byte 0 zero
	var p uint64
	for _, x := range b[1:9] {
		p = p<<8 | uint64(x)
	}
	return p
}

// PathBit is bit d (0 = the root's branch) of a key path: 0 left, 1 right.
func PathBit(path uint64, d int) uint64 { return path >> (Depth - 1 - d) & 1 }

// TrieRoot recomputes a root from the node that key's walk ends on (its
// leaf, another key's leaf or 0), the depth it sits at and the siblings of
// the nodes above it (siblings[i] is the other child of the node at depth i).
func TrieRoot(end fr.Element, path uint64, depth int, siblings *[Depth]fr.Element) (fr.Element, error) {
	if depth < 0 || depth > Depth {
		return fr.Element{}, fmt.Errorf("tree depth %d outside 0..%d", depth, Depth)
	}
	cur := end
	for d := depth - 1; d >= 0; d-- {
		if PathBit(path, d) == 0 {
			cur = Node(d, cur, siblings[d])
		} else {
			cur = Node(d, siblings[d], cur)
		}
	}
	return cur, nil
}
