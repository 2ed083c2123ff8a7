package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
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

// treeCache remembers the tree writes of recent batches, so that a batch
// planned by its relayer and then applied in the mempool, a proposal and
// its block is hashed into the tree once per replica, not at every step.
// A result depends only on the tree it starts from and on the changes.
// The tree is named by the collection's chain of batch digests
// (Collection.TreeChain), not by its root: a root does not fix where its
// leaves sit (a lone leaf is the root whatever its path), and a device
// may sign one commitment under two counters (found in review: keyed by
// the root, replicas diverged). Bounded: the oldest results go first.
type treeCache struct {
	mu    sync.Mutex
	m     map[[32]byte]treeResult
	order [][32]byte
}

// treeResult is a batch's tree writes (never changed once cached) and root.
type treeResult struct {
	writes map[tree.Pos]tree.Node
	root   fr.Element
}

const treeCacheSize = 32

// changesDigest hashes a batch's changes: op, path, leaf and reference of each.
func changesDigest(changes []tree.Change) [32]byte {
	h := sha256.New()
	var b []byte
	for _, ch := range changes {
		leaf := ch.Leaf.Bytes()
		b = binary.BigEndian.AppendUint64(append(b[:0], byte(ch.Op)), ch.Path)
		b = append(append(b, leaf[:]...), ch.Ref...)
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		h.Write(b)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// nextTreeChain is a collection's chain of batch digests after a batch.
func nextTreeChain(chain []byte, digest [32]byte) []byte {
	n := sha256.Sum256(append(append([]byte("zkshare/tree-chain/v1\n"), chain...), digest[:]...))
	return n[:]
}

// treeCacheKey names a batch's result: the tree it starts from (the
// collection's id and chain) and the batch.
func treeCacheKey(c *Collection, digest [32]byte) [32]byte {
	return sha256.Sum256(append(append(append([]byte("zkshare/tree-cache/v1\n"), c.ID...), c.TreeChain...), digest[:]...))
}

func (t *treeCache) get(k [32]byte) (treeResult, bool) {
	if t == nil {
		return treeResult{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.m[k]
	return r, ok
}

func (t *treeCache) put(k [32]byte, r treeResult) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[[32]byte]treeResult{}
	}
	if _, ok := t.m[k]; ok {
		return
	}
	t.m[k] = r
	t.order = append(t.order, k)
	if len(t.order) > treeCacheSize {
		delete(t.m, t.order[0])
		t.order = t.order[1:]
	}
}
