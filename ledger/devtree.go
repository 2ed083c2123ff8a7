package ledger

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/tree"
)

// A device-fed collection's tree is too big to live in the state: its
// nodes are stored in badger, one entry per node under
//
//	dt/<collection id><depth><prefix>  -> tree.Node (AppendBinary)
//
// and a state holds only the nodes its transactions wrote since the last
// stored block (State.nodes), over the stored ones (State.stored). A
// block's write batch stores them with the block, so the stored tree is
// always the tip's: the collection's root in the state names it.

func devNodeKey(coll []byte, p tree.Pos) []byte {
	return p.AppendKey(append([]byte("dt/"), coll...))
}

// nodeReader reads stored tree nodes.
type nodeReader interface {
	devNode(coll []byte, p tree.Pos) (tree.Node, error)
}

// dbNodes reads the stored nodes of a ledger's badger.
type dbNodes struct{ db *badger.DB }

func (d dbNodes) devNode(coll []byte, p tree.Pos) (tree.Node, error) {
	var n tree.Node
	err := d.db.View(func(txn *badger.Txn) error {
		var err error
		n, err = txnNodes{txn}.devNode(coll, p)
		return err
	})
	return n, err
}

// txnNodes reads stored nodes in one read transaction: a batch's many
// reads share it.
type txnNodes struct{ txn *badger.Txn }

func (t txnNodes) devNode(coll []byte, p tree.Pos) (tree.Node, error) {
	var n tree.Node
	item, err := t.txn.Get(devNodeKey(coll, p))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return n, nil
	}
	if err == nil {
		err = item.Value(func(v []byte) error {
			n, err = tree.DecodeNode(v)
			return err
		})
	}
	if err != nil {
		return n, fmt.Errorf("%w: device tree node: %w", ErrCorrupt, err)
	}
	return n, nil
}

// overlay is a tree.Store of one collection: its writes, over the state's
// unstored nodes, over the stored ones. A deleted node is kept as Empty.
type overlay struct {
	coll   []byte
	writes map[tree.Pos]tree.Node
	state  map[tree.Pos]tree.Node
	stored nodeReader
}

func (s *State) overlayFor(coll []byte) *overlay {
	return &overlay{coll: coll, writes: map[tree.Pos]tree.Node{}, state: s.nodes[hex.EncodeToString(coll)], stored: s.stored}
}

// Get implements tree.Store.
func (o *overlay) Get(p tree.Pos) (tree.Node, error) {
	if n, ok := o.writes[p]; ok {
		return n, nil
	}
	if n, ok := o.state[p]; ok {
		return n, nil
	}
	if o.stored == nil {
		return tree.Node{}, nil
	}
	return o.stored.devNode(o.coll, p)
}

// Put implements tree.Store.
func (o *overlay) Put(p tree.Pos, n tree.Node) error {
	o.writes[p] = n
	return nil
}

// Delete implements tree.Store.
func (o *overlay) Delete(p tree.Pos) error {
	o.writes[p] = tree.Node{}
	return nil
}

// adoptNodes makes an overlay's writes the state's. The state's map for
// the collection is its own (Clone copies it), so it is changed in place.
func (s *State) adoptNodes(coll []byte, o *overlay) {
	id := hex.EncodeToString(coll)
	if s.nodes == nil {
		s.nodes = map[string]map[tree.Pos]tree.Node{}
	}
	m := s.nodes[id]
	if m == nil {
		m = make(map[tree.Pos]tree.Node, len(o.writes))
		s.nodes[id] = m
	}
	maps.Copy(m, o.writes)
}

// cloneNodes copies the unstored nodes for a clone.
func cloneNodes(in map[string]map[tree.Pos]tree.Node) map[string]map[tree.Pos]tree.Node {
	if in == nil {
		return nil
	}
	out := make(map[string]map[tree.Pos]tree.Node, len(in))
	for k, m := range in {
		out[k] = maps.Clone(m)
	}
	return out
}

// storeNodes writes the state's unstored nodes through set and del.
func storeNodes(set func(k, v []byte), del func(k []byte), st *State) error {
	for id, m := range st.nodes {
		coll, err := hex.DecodeString(id)
		if err != nil {
			return err
		}
		for p, n := range m {
			if n.Kind == tree.Empty {
				del(devNodeKey(coll, p))
			} else {
				set(devNodeKey(coll, p), n.AppendBinary(nil))
			}
		}
	}
	return nil
}
