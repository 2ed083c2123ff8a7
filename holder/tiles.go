package holder

import (
	"errors"

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
	return p.AppendKey([]byte("n/" + name + "/"))
}

// errCorruptNode: the stored tree does not match the records.
var errCorruptNode = tree.ErrCorruptNode

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
	err = item.Value(func(v []byte) error { out, err = tree.DecodeNode(v); return err })
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
			err = n.txn.Set(nodeKey(n.name, p), node.AppendBinary(nil))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
