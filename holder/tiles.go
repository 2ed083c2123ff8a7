package holder

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/tree"
)

// treeFormat marks collections whose tree is the keyed one of package
// tree; a collection from before it has no marker and must be recreated.
const treeFormat = 2

// Tree nodes are stored one badger entry per node under the collection,
// the node's depth and its prefix; a leaf's entry also holds its key path
// and its record's key, so that a walk ending on it can open it.
func nodeKey(name string, p tree.Pos) []byte {
	return binary.BigEndian.AppendUint64(append([]byte("n/"+name+"/"), byte(p.Depth)), p.Prefix)
}

func encodeNode(n tree.Node) []byte {
	h := n.Hash.Bytes()
	out := append([]byte{byte(n.Kind)}, h[:]...)
	if n.Kind == tree.Leaf {
		out = binary.BigEndian.AppendUint64(out, n.Path)
		out = append(out, n.Ref...)
	}
	return out
}

var errCorruptNode = errors.New("corrupt tree node")

func decodeNode(b []byte) (tree.Node, error) {
	var n tree.Node
	if len(b) < 1+fr.Bytes {
		return n, fmt.Errorf("%w: %d bytes", errCorruptNode, len(b))
	}
	n.Kind = tree.Kind(b[0])
	if err := n.Hash.SetBytesCanonical(b[1 : 1+fr.Bytes]); err != nil {
		return n, fmt.Errorf("%w: %w", errCorruptNode, err)
	}
	rest := b[1+fr.Bytes:]
	switch n.Kind {
	case tree.Inner:
		if len(rest) != 0 {
			return n, fmt.Errorf("%w: inner node with %d extra bytes", errCorruptNode, len(rest))
		}
	case tree.Leaf:
		if len(rest) < 8 {
			return n, fmt.Errorf("%w: short leaf", errCorruptNode)
		}
		n.Path, n.Ref = binary.BigEndian.Uint64(rest), string(rest[8:])
	default:
		return n, fmt.Errorf("%w: kind %d", errCorruptNode, n.Kind)
	}
	return n, nil
}

// nodes is the tree.Store of one collection inside one badger
// transaction: reads see staged writes first; flush writes them into the
// transaction, so a failed Apply leaves the transaction untouched.
type nodes struct {
	name   string
	txn    *badger.Txn
	staged map[tree.Pos]*tree.Node // nil: deleted
}

func newNodes(name string, txn *badger.Txn) *nodes {
	return &nodes{name: name, txn: txn, staged: map[tree.Pos]*tree.Node{}}
}

// Get implements tree.Store.
func (n *nodes) Get(p tree.Pos) (tree.Node, error) {
	if s, ok := n.staged[p]; ok {
		if s == nil {
			return tree.Node{}, nil
		}
		return *s, nil
	}
	item, err := n.txn.Get(nodeKey(n.name, p))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return tree.Node{}, nil
	}
	if err != nil {
		return tree.Node{}, err
	}
	var out tree.Node
	err = item.Value(func(v []byte) error { out, err = decodeNode(v); return err })
	return out, err
}

// Put implements tree.Store.
func (n *nodes) Put(p tree.Pos, node tree.Node) error {
	n.staged[p] = &node
	return nil
}

// Delete implements tree.Store.
func (n *nodes) Delete(p tree.Pos) error {
	n.staged[p] = nil
	return nil
}

// flush writes every staged node into the transaction.
func (n *nodes) flush() error {
	for p, node := range n.staged {
		var err error
		if node == nil {
			err = n.txn.Delete(nodeKey(n.name, p))
		} else {
			err = n.txn.Set(nodeKey(n.name, p), encodeNode(*node))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
