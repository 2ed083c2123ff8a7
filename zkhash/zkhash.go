// Package zkhash is zkshare's native hashing: domain tags, the Poseidon2
// sponges and compression, record leaves, key commitments, tree nodes and
// key paths. The circuits are its in-circuit twins; the tree, the holder
// and (for trees the ledger builds) the ledger use it without any circuit.
package zkhash

import (
	"crypto/sha256"
	"fmt"
	"math/big"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
)

// Sponge widths chosen by measurement (see README, "Leaf hash"): one
// width-12 permutation absorbs a whole packed record, one width-16 pair
// absorbs a query, one width-8 call absorbs a key commitment (cheaper than
// two width-4 calls for its four inputs: 99 constraints more than the
// three-input width-4 commitment, against 264).
const (
	LeafWidth  = 12
	QueryWidth = 16
	KeyWidth   = 8
)

// Shapes the native hashing shares with the circuits.
const (
	// MaxFields is the number of value slots in a record commitment.
	MaxFields = 16
	// SlotBits bounds every value slot: numbers are at most 64 bits wide and
	// strings are 124-bit digests, so two slots pack into one field element.
	SlotBits = 126
	// Depth is the deepest a leaf of the collection tree can sit: the
	// number of key-path bits. Two keys whose paths agree on all Depth bits
	// cannot share a collection (for a million keys, a chance of about
	// 2^-25).
	Depth = 64
	// LeafInputs is the length of a leaf's sponge input.
	LeafInputs = 3 + MaxFields/2
)

// Domain tags. Each is the capacity element of its sponge, so a leaf, a
// query, a key commitment and a tree node can never be confused.
var (
	tagLeaf  = DomainTag("zkshare/leaf/v1")
	tagQuery = DomainTag("zkshare/query/v1")
	tagKey   = DomainTag("zkshare/key-commitment/v2")
	// tagPartial commits to one chunk's partial aggregate.
	tagPartial = DomainTag("zkshare/aggregate-partial/v1")
	tagNode    = DomainTag("zkshare/node/v1")
)

// Tags are the domain tags, for the circuits' twins of these functions.
type Tags struct{ Leaf, Query, Key, Partial, Node fr.Element }

// DomainTags returns the domain tags.
func DomainTags() Tags {
	return Tags{Leaf: tagLeaf, Query: tagQuery, Key: tagKey, Partial: tagPartial, Node: tagNode}
}

// DomainTag maps a label to a field element (SHA-256, top 248 bits).
func DomainTag(label string) fr.Element {
	return Digest(label, nil, 248)
}

// Digest hashes a label and data with SHA-256 and keeps the top bits bits as
// a field element. It is for values that never need hashing in-circuit:
// strings, keys, ids.
func Digest(label string, data []byte, bits int) fr.Element {
	h := sha256.New()
	h.Write([]byte(label))
	h.Write([]byte{0})
	h.Write(data)
	sum := h.Sum(nil)
	n := new(big.Int).SetBytes(sum)
	n.Rsh(n, uint(256-bits))
	var e fr.Element
	e.SetBigInt(n)
	return e
}

var permutations sync.Map // width -> *poseidon2.Permutation

func permutation(width int) *poseidon2.Permutation {
	if v, ok := permutations.Load(width); ok {
		if p, ok := v.(*poseidon2.Permutation); ok {
			return p
		}
	}
	var p *poseidon2.Permutation
	switch width {
	case 2:
		p = poseidon2.NewDefaultPermutation()
	default:
		p = poseidon2.NewPermutation(width, 8, PartialRounds(width))
	}
	permutations.Store(width, p)
	return p
}

// PartialRounds gives gnark-crypto's partial-round count for the wide
// BN254 instances (t=4: 56, t=8,12,16: 57).
func PartialRounds(width int) int {
	if width == 4 {
		return 56
	}
	return 57
}

// Sponge hashes a fixed-length input with a Poseidon2 sponge of the given
// width: rate width-1, the capacity element initialised to tag, and the first
// state element squeezed. Input lengths are fixed per tag, so no padding.
func Sponge(width int, tag fr.Element, in []fr.Element) fr.Element {
	p := permutation(width)
	state := make([]fr.Element, width)
	state[width-1] = tag
	rate := width - 1
	for i := 0; i < len(in) || i == 0; i += rate {
		for j := 0; j < rate && i+j < len(in); j++ {
			state[j].Add(&state[j], &in[i+j])
		}
		if err := p.Permutation(state); err != nil {
			panic(fmt.Sprintf("poseidon2 width %d: %v", width, err)) // width is a constant of ours
		}
	}
	return state[0]
}

// Compress is Poseidon2's 2-to-1 compression (width 2, feed-forward of the
// right input), as gnark's in-circuit Permutation.Compress computes it.
func Compress(left, right fr.Element) fr.Element {
	state := [2]fr.Element{left, right}
	if err := permutation(2).Permutation(state[:]); err != nil {
		panic(err)
	}
	state[1].Add(&state[1], &right)
	return state[1]
}

// NodeTag separates tree levels from one another and from leaves.
func NodeTag(level int) fr.Element {
	var t, l fr.Element
	l.SetUint64(uint64(level) + 1)
	t.Add(&tagNode, &l)
	return t
}

// Node hashes two children at the given level (0 = just above the leaves).
func Node(level int, left, right fr.Element) fr.Element {
	tag := NodeTag(level)
	var l fr.Element
	l.Add(&left, &tag)
	return Compress(l, right)
}

var twoTo126 = func() fr.Element {
	var e fr.Element
	e.SetBigInt(new(big.Int).Lsh(big.NewInt(1), SlotBits))
	return e
}()

// Leaf is the record commitment: a width-12 sponge over the schema id, the
// key digest, the salt and the values packed two per element.
func Leaf(schemaID, key, salt fr.Element, values *[MaxFields]fr.Element) fr.Element {
	in := LeafInput(schemaID, key, salt, values)
	return Sponge(LeafWidth, tagLeaf, in[:])
}

// LeafInput is a leaf's sponge input: schema id, key digest, salt and the
// values packed two per element.
func LeafInput(schemaID, key, salt fr.Element, values *[MaxFields]fr.Element) [LeafInputs]fr.Element {
	var in [LeafInputs]fr.Element
	in[0], in[1], in[2] = schemaID, key, salt
	for j := 0; j < MaxFields; j += 2 {
		in[3+j/2].Mul(&values[j+1], &twoTo126).Add(&in[3+j/2], &values[j])
	}
	return in
}

// KeyCommitment binds a subject's key digest to a collection, a verifier
// nonce and a blind: a random scalar the asking verifier picks, sends with
// its question and keeps. Everything but the key and the blind is public, so
// without the blind the commitment could be matched by trying every key of a
// small key space (C00000..C99999); with it, the public input names the
// subject only to whoever knows both, a bundle passed on names no one, and
// two bundles about one subject cannot be linked.
func KeyCommitment(collection, key, nonce, blind fr.Element) fr.Element {
	return Sponge(KeyWidth, tagKey, []fr.Element{collection, key, nonce, blind})
}

// PartialCommitment hides one chunk's partial aggregate behind a random
// blinding element, so chunk proofs reveal nothing of their chunks.
func PartialCommitment(count, sum, lo, hi, blind fr.Element) fr.Element {
	return Sponge(LeafWidth, tagPartial, []fr.Element{count, sum, lo, hi, blind})
}

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

// KeyDigest is a record key's encoding: its place in the tree is
// KeyPath(KeyDigest(key)).
func KeyDigest(key string) fr.Element {
	return Digest("zkshare/key/v1", []byte(key), 248)
}
