package tree

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// ErrCorruptNode means stored bytes are not a node.
var ErrCorruptNode = errors.New("corrupt tree node")

// AppendBinary appends the node's stored form: its kind and hash, and for
// a leaf its key path and reference, so that a walk ending on it can open
// it. An empty node has no stored form.
func (n Node) AppendBinary(dst []byte) []byte {
	h := n.Hash.Bytes()
	dst = append(append(dst, byte(n.Kind)), h[:]...)
	if n.Kind == Leaf {
		dst = binary.BigEndian.AppendUint64(dst, n.Path)
		dst = append(dst, n.Ref...)
	}
	return dst
}

// DecodeNode reads a node's stored form (AppendBinary).
func DecodeNode(b []byte) (Node, error) {
	var n Node
	if len(b) < 1+fr.Bytes {
		return n, fmt.Errorf("%w: %d bytes", ErrCorruptNode, len(b))
	}
	n.Kind = Kind(b[0])
	if err := n.Hash.SetBytesCanonical(b[1 : 1+fr.Bytes]); err != nil {
		return n, fmt.Errorf("%w: %w", ErrCorruptNode, err)
	}
	rest := b[1+fr.Bytes:]
	switch n.Kind {
	case Inner:
		if len(rest) != 0 {
			return n, fmt.Errorf("%w: inner node with %d extra bytes", ErrCorruptNode, len(rest))
		}
	case Leaf:
		if len(rest) < 8 {
			return n, fmt.Errorf("%w: short leaf", ErrCorruptNode)
		}
		n.Path, n.Ref = binary.BigEndian.Uint64(rest), string(rest[8:])
	default:
		return n, fmt.Errorf("%w: kind %d", ErrCorruptNode, n.Kind)
	}
	return n, nil
}

// AppendKey appends p's stored key: its depth, then its prefix, big-endian,
// so that a prefix scan lists a subtree's nodes in order.
func (p Pos) AppendKey(dst []byte) []byte {
	return binary.BigEndian.AppendUint64(append(dst, byte(p.Depth)), p.Prefix)
}
