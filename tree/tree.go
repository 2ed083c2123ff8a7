// Package tree is the collection tree: a compressed sparse Merkle tree over
// Poseidon2 (zkhash has the hashing and the rules), keyed by each record's
// key path, so that a key has one place and at most one leaf. It needs no
// circuit, so a ledger can build trees with it.
//
// Nodes live in a Store (in memory, or the holder's badger store) under
// their depth and prefix. Apply changes many leaves at once and rehashes
// every touched node once; Prove walks a key's path for the prover.
package tree

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/zkhash"
)

// Depth is the deepest a leaf can sit.
const Depth = zkhash.Depth

// Kind is what a node of the tree is.
type Kind uint8

// The kinds of node. An empty subtree has no stored node.
const (
	Empty Kind = iota
	Leaf
	Inner
)

// Node is a stored node: an inner node's hash, or a leaf's hash, key path
// and reference (a leaf moves when its neighbours come and go).
type Node struct {
	Kind Kind
	Hash fr.Element
	Path uint64 // leaves only
	// Ref is the caller's name for a leaf's record (the holder's record
	// key), so that whoever walks to a leaf can open it.
	Ref string
}

// Pos is a node's place: its depth and the top Depth bits of its prefix
// (the bits below depth are zero).
type Pos struct {
	Depth  int
	Prefix uint64
}

// child is the position of the child on side bit.
func (p Pos) child(bit uint64) Pos {
	return Pos{p.Depth + 1, p.Prefix | bit<<(Depth-1-p.Depth)}
}

// Store holds a tree's nodes.
type Store interface {
	// Get returns the node at p, Kind Empty when none is stored.
	Get(p Pos) (Node, error)
	// Put stores a node at p.
	Put(p Pos, n Node) error
	// Delete removes the node at p, if any.
	Delete(p Pos) error
}

// ErrPathCollision means two keys share all Depth bits of their key path:
// only one of them can be in a collection.
var ErrPathCollision = errors.New("two keys share a key path")

// ErrNoSuchLeaf means a change deletes a key that the tree does not hold.
var ErrNoSuchLeaf = errors.New("no leaf with that key path")

// Op is what a Change does.
type Op uint8

// The operations: an insert must find no leaf on its path, an update and a
// delete must find one.
const (
	Insert Op = iota
	Update
	Delete
)

// Change inserts, replaces or removes the leaf of a key path.
type Change struct {
	Op   Op
	Path uint64
	Leaf fr.Element
	Ref  string
}

var root = Pos{}

// Root returns the tree's root: 0 for an empty tree.
func Root(s Store) (fr.Element, error) {
	n, err := s.Get(root)
	return n.Hash, err
}

// Apply makes the changes (at most one per path) and returns the new root.
// Every node on the changed paths is rehashed once.
func Apply(ctx context.Context, s Store, changes []Change) (fr.Element, error) {
	ch := slices.Clone(changes)
	slices.SortFunc(ch, func(a, b Change) int { return cmp.Compare(a.Path, b.Path) })
	for i := 1; i < len(ch); i++ {
		if ch[i].Path == ch[i-1].Path {
			return fr.Element{}, fmt.Errorf("tree: two changes of key path %#x: %w", ch[i].Path, ErrPathCollision)
		}
	}
	a := applier{ctx: ctx, s: s}
	n, err := a.update(root, ch)
	if err != nil {
		return fr.Element{}, err
	}
	if err := a.place(root, n, true); err != nil {
		return fr.Element{}, err
	}
	return n.Hash, nil
}

type applier struct {
	ctx   context.Context
	s     Store
	steps int
	mu    sync.Mutex // serialises writes from parallel builds
}

// place writes the node a subtree resolved to at p (changed says whether
// anything under p changed; an unchanged subtree is already in place).
func (a *applier) place(p Pos, n Node, changed bool) error {
	if !changed {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if n.Kind == Empty {
		return a.s.Delete(p)
	}
	return a.s.Put(p, n)
}

// split divides changes sorted by path at the bit of depth d.
func split(ch []Change, d int) (left, right []Change) {
	i, _ := slices.BinarySearchFunc(ch, uint64(1), func(c Change, bit uint64) int {
		return cmp.Compare(zkhash.PathBit(c.Path, d), bit)
	})
	return ch[:i], ch[i:]
}

// update applies the changes under p and returns what the subtree at p is
// now, having written every node strictly below p; the node at p itself is
// the caller's to place.
func (a *applier) update(p Pos, ch []Change) (Node, error) {
	cur, err := a.s.Get(p)
	if err != nil || len(ch) == 0 {
		return cur, err
	}
	if a.steps++; a.steps%4096 == 0 {
		if err := a.ctx.Err(); err != nil {
			return Node{}, err
		}
	}
	switch cur.Kind {
	case Empty:
		leaves, err := merge(nil, ch)
		if err != nil {
			return Node{}, err
		}
		return a.build(p, leaves)
	case Leaf:
		leaves, err := merge([]Node{cur}, ch)
		if err != nil {
			return Node{}, err
		}
		return a.build(p, leaves)
	}
	if p.Depth == Depth {
		return Node{}, fmt.Errorf("tree: inner node at depth %d", Depth)
	}
	lc, rc := split(ch, p.Depth)
	kids := [2]Node{}
	for bit, sub := range [2][]Change{lc, rc} {
		if kids[bit], err = a.update(p.child(uint64(bit)), sub); err != nil {
			return Node{}, err
		}
	}
	return a.join(p, kids, [2]bool{len(lc) > 0, len(rc) > 0})
}

// join resolves a node from its two children and places them: a pair of
// empties is empty, a lone leaf rises to p, anything else is inner.
func (a *applier) join(p Pos, kids [2]Node, changed [2]bool) (Node, error) {
	l, r := kids[0], kids[1]
	var n Node
	switch {
	case l.Kind == Empty && r.Kind == Empty:
		n = Node{}
	case l.Kind == Empty && r.Kind == Leaf:
		n = r
	case r.Kind == Empty && l.Kind == Leaf:
		n = l
	default:
		n = Node{Kind: Inner, Hash: zkhash.Node(p.Depth, l.Hash, r.Hash)}
	}
	for bit := range kids {
		c := p.child(uint64(bit))
		if n.Kind != Inner { // the children are no longer nodes of their own
			if err := a.place(c, Node{}, true); err != nil {
				return Node{}, err
			}
			continue
		}
		if err := a.place(c, kids[bit], changed[bit]); err != nil {
			return Node{}, err
		}
	}
	return n, nil
}

// merge applies changes (sorted) to the leaves (sorted) of a subtree.
func merge(leaves []Node, ch []Change) ([]Node, error) {
	out := make([]Node, 0, len(leaves)+len(ch))
	i := 0
	for _, c := range ch {
		for i < len(leaves) && leaves[i].Path < c.Path {
			out = append(out, leaves[i])
			i++
		}
		present := i < len(leaves) && leaves[i].Path == c.Path
		if present {
			i++
		}
		switch {
		case c.Op == Insert && present:
			return nil, fmt.Errorf("tree: insert key path %#x: %w", c.Path, ErrPathCollision)
		case c.Op != Insert && !present:
			return nil, fmt.Errorf("tree: change key path %#x: %w", c.Path, ErrNoSuchLeaf)
		case c.Op == Delete:
			continue
		}
		out = append(out, Node{Kind: Leaf, Hash: c.Leaf, Path: c.Path, Ref: c.Ref})
	}
	return append(out, leaves[i:]...), nil
}

// build makes the subtree at p from its leaves (sorted, distinct paths)
// and writes every node strictly below p.
func (a *applier) build(p Pos, leaves []Node) (Node, error) {
	switch len(leaves) {
	case 0:
		return Node{}, nil
	case 1:
		return leaves[0], nil
	}
	if p.Depth == Depth {
		return Node{}, fmt.Errorf("tree: key path %#x: %w", leaves[0].Path, ErrPathCollision)
	}
	i := 0
	for i < len(leaves) && zkhash.PathBit(leaves[i].Path, p.Depth) == 0 {
		i++
	}
	var kids [2]Node
	var errs [2]error
	if len(leaves) >= parallelBuild {
		// The halves write disjoint nodes: hash them side by side.
		var wg sync.WaitGroup
		wg.Go(func() { kids[0], errs[0] = a.build(p.child(0), leaves[:i]) })
		kids[1], errs[1] = a.build(p.child(1), leaves[i:])
		wg.Wait()
	} else {
		kids[0], errs[0] = a.build(p.child(0), leaves[:i])
		if errs[0] == nil {
			kids[1], errs[1] = a.build(p.child(1), leaves[i:])
		}
	}
	if err := errors.Join(errs[:]...); err != nil {
		return Node{}, err
	}
	// Nothing is stored below p yet: only non-empty children are written.
	return a.join(p, kids, [2]bool{kids[0].Kind != Empty, kids[1].Kind != Empty})
}

// A build of at least parallelBuild leaves hashes its two halves side by
// side, at any depth: a commit's chunk builds its own region of the tree,
// well below the root, so a bound on depth would leave it on one core.
// Halves of fewer leaves stay on their goroutine (at most n/parallelBuild
// goroutines in all).
const parallelBuild = 4096

// Proof is where a key's walk ends: the node there (its own leaf, another
// key's leaf, or empty), its depth, and the siblings of the nodes above.
type Proof struct {
	End      Node
	Depth    int
	Siblings [Depth]fr.Element
	Root     fr.Element // the root the walk started from
}

// Prove walks path from the root.
func Prove(s Store, path uint64) (*Proof, error) {
	var pr Proof
	p := root
	for {
		n, err := s.Get(p)
		if err != nil {
			return nil, err
		}
		if p == root {
			pr.Root = n.Hash
		}
		if n.Kind != Inner {
			pr.End, pr.Depth = n, p.Depth
			return &pr, nil
		}
		if p.Depth == Depth {
			return nil, fmt.Errorf("tree: inner node at depth %d", Depth)
		}
		bit := zkhash.PathBit(path, p.Depth)
		sib, err := s.Get(p.child(bit ^ 1))
		if err != nil {
			return nil, err
		}
		pr.Siblings[p.Depth] = sib.Hash
		p = p.child(bit)
	}
}

// Memory is an in-memory Store, for tests and tools.
type Memory struct {
	mu    sync.RWMutex
	nodes map[Pos]Node
}

// NewMemory returns an empty in-memory tree store.
func NewMemory() *Memory { return &Memory{nodes: map[Pos]Node{}} }

// Get implements Store.
func (m *Memory) Get(p Pos) (Node, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.nodes[p], nil
}

// Put implements Store.
func (m *Memory) Put(p Pos, n Node) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[p] = n
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(p Pos) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.nodes, p)
	return nil
}

// Len is the number of stored nodes.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.nodes)
}

// Parallel runs f(0..n-1) on all cores, for bulk leaf hashing. Workers
// take blocks of indices from a shared counter rather than fixed halves, so
// a worker slowed by other work on the machine (the holder writes while it
// hashes) does not leave the others idle at the end.
func Parallel(n int, f func(i int)) {
	const block = 128
	workers := runtime.GOMAXPROCS(0)
	if n < 2*block || workers == 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(block)) - block
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+block, n); i++ {
					f(i)
				}
			}
		})
	}
	wg.Wait()
}
