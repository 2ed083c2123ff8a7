// Package tree is the collection tree: a sparse binary Merkle tree of fixed
// depth over Poseidon2 (circuits.Node), with leaves placed densely from
// position 0 and empty subtrees standing for their precomputed zero hashes.
//
// Nodes live in a Store (in memory, or the holder's badger store); only
// nodes that differ from the empty subtree's hash are stored.
package tree

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/circuits"
)

// Depth is the tree's depth; position p is a leaf iff p < 2^Depth.
const Depth = circuits.Depth

// Store holds a tree's non-empty nodes. Level 0 is the leaves.
type Store interface {
	// Node returns the stored node, or ok=false for an empty subtree.
	Node(level int, index uint64) (fr.Element, bool, error)
	// SetNode stores a node; a zero-hash value may be stored or dropped.
	SetNode(level int, index uint64, h fr.Element) error
}

// RunStore is a Store that takes a run of consecutive nodes of one level at
// once, which Build uses to avoid a call per node.
type RunStore interface {
	Store
	SetNodes(level int, start uint64, hs []fr.Element) error
}

func setRun(s Store, level int, start uint64, hs []fr.Element) error {
	if rs, ok := s.(RunStore); ok {
		return rs.SetNodes(level, start, hs)
	}
	for i, h := range hs {
		if err := s.SetNode(level, start+uint64(i), h); err != nil {
			return err
		}
	}
	return nil
}

// Node returns the hash at (level, index), the zero hash if nothing is stored.
func Node(s Store, level int, index uint64) (fr.Element, error) {
	h, ok, err := s.Node(level, index)
	if err != nil {
		return fr.Element{}, err
	}
	if !ok {
		return circuits.ZeroHashes()[level], nil
	}
	return h, nil
}

// Root returns the tree's root.
func Root(s Store) (fr.Element, error) { return Node(s, Depth, 0) }

// Path returns the siblings of leaf index, bottom up: Depth reads.
func Path(s Store, index uint64) ([Depth]fr.Element, error) {
	var sib [Depth]fr.Element
	if index>>Depth != 0 {
		return sib, fmt.Errorf("position %d outside a depth-%d tree", index, Depth)
	}
	for h := 0; h < Depth; h++ {
		var err error
		if sib[h], err = Node(s, h, (index>>h)^1); err != nil {
			return sib, err
		}
	}
	return sib, nil
}

// Set writes a leaf and rehashes its path to the root: Depth hashes.
func Set(s Store, index uint64, leaf fr.Element) error {
	if index>>Depth != 0 {
		return fmt.Errorf("position %d outside a depth-%d tree", index, Depth)
	}
	if err := s.SetNode(0, index, leaf); err != nil {
		return err
	}
	cur := leaf
	for h := 0; h < Depth; h++ {
		sib, err := Node(s, h, index^1)
		if err != nil {
			return err
		}
		if index&1 == 0 {
			cur = circuits.Node(h, cur, sib)
		} else {
			cur = circuits.Node(h, sib, cur)
		}
		index >>= 1
		if err := s.SetNode(h+1, index, cur); err != nil {
			return err
		}
	}
	return nil
}

// Build computes every node above leaves placed at positions start,
// start+1, ... in a tree whose positions below start are already stored,
// level by level with all cores, and stores them. It returns the root.
// progress, if not nil, is called with the number of levels done.
func Build(ctx context.Context, s Store, start uint64, leaves []fr.Element, progress func(level int)) (fr.Element, error) {
	if start+uint64(len(leaves)) > 1<<Depth {
		return fr.Element{}, fmt.Errorf("%d leaves from position %d overflow a depth-%d tree", len(leaves), start, Depth)
	}
	if err := setRun(s, 0, start, leaves); err != nil {
		return fr.Element{}, err
	}
	level := leaves
	for h := 0; h < Depth; h++ {
		if err := ctx.Err(); err != nil {
			return fr.Element{}, err
		}
		if len(level) == 0 {
			break
		}
		// The parents of [start, start+len) are [start/2, (start+len-1)/2].
		lo, hi := start>>1, (start+uint64(len(level))-1)>>1
		// Read the outside siblings at both ends before hashing.
		var first, last fr.Element
		var err error
		if start&1 == 1 {
			if first, err = Node(s, h, start-1); err != nil {
				return fr.Element{}, err
			}
		}
		end := start + uint64(len(level))
		if end&1 == 1 {
			if last, err = Node(s, h, end); err != nil {
				return fr.Element{}, err
			}
		}
		child := func(pos uint64) fr.Element {
			switch {
			case pos < start:
				return first
			case pos >= end:
				return last
			default:
				return level[pos-start]
			}
		}
		next := make([]fr.Element, hi-lo+1)
		parallel(len(next), func(i int) {
			p := lo + uint64(i)
			next[i] = circuits.Node(h, child(2*p), child(2*p+1))
		})
		if err := setRun(s, h+1, lo, next); err != nil {
			return fr.Element{}, err
		}
		level, start = next, lo
		if progress != nil {
			progress(h + 1)
		}
	}
	return Root(s)
}

// parallel runs f(0..n-1) on all cores. Workers take blocks of indices
// from a shared counter rather than fixed halves, so a worker slowed by
// other work on the machine (the holder writes while it hashes) does not
// leave the others idle at the end.
func parallel(n int, f func(i int)) {
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

// Parallel exposes the chunked worker loop for bulk leaf hashing.
func Parallel(n int, f func(i int)) { parallel(n, f) }

// Memory is an in-memory Store, for tests and for building a batch's nodes
// before they are written.
type Memory struct {
	mu    sync.RWMutex
	nodes map[[2]uint64]fr.Element
}

// NewMemory returns an empty in-memory tree store.
func NewMemory() *Memory { return &Memory{nodes: map[[2]uint64]fr.Element{}} }

// Node implements Store.
func (m *Memory) Node(level int, index uint64) (fr.Element, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	h, ok := m.nodes[[2]uint64{uint64(level), index}]
	return h, ok, nil
}

// SetNode implements Store.
func (m *Memory) SetNode(level int, index uint64, h fr.Element) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[[2]uint64{uint64(level), index}] = h
	return nil
}

// Len is the number of stored nodes.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.nodes)
}

// Each calls f for every stored node, in no particular order.
func (m *Memory) Each(f func(level int, index uint64, h fr.Element) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for k, h := range m.nodes {
		if err := f(int(k[0]), k[1], h); err != nil {
			return err
		}
	}
	return nil
}

// SetMany writes leaves at the given positions and rehashes every node above
// them once, level by level, so that k nearby updates cost about 2k hashes
// rather than k*Depth. Positions must be distinct.
func SetMany(s Store, index []uint64, leaves []fr.Element) error {
	if len(index) != len(leaves) {
		return fmt.Errorf("%d positions for %d leaves", len(index), len(leaves))
	}
	dirty := make([]uint64, len(index))
	for i, p := range index {
		if p>>Depth != 0 {
			return fmt.Errorf("position %d outside a depth-%d tree", p, Depth)
		}
		if err := s.SetNode(0, p, leaves[i]); err != nil {
			return err
		}
		dirty[i] = p
	}
	slices.Sort(dirty)
	for h := 0; h < Depth && len(dirty) > 0; h++ {
		parents := dirty[:0]
		for _, p := range dirty {
			if q := p >> 1; len(parents) == 0 || parents[len(parents)-1] != q {
				parents = append(parents, q)
			}
		}
		for _, q := range parents {
			l, err := Node(s, h, 2*q)
			if err != nil {
				return err
			}
			r, err := Node(s, h, 2*q+1)
			if err != nil {
				return err
			}
			if err := s.SetNode(h+1, q, circuits.Node(h, l, r)); err != nil {
				return err
			}
		}
		dirty = parents
	}
	return nil
}
