package tree

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/zkhash"
)

// A Region is a node of the tree and everything under it, small enough for
// one aggregate chunk proof: aggregates cover a collection with regions
// whose nodes are disjoint, and a verifier rebuilds the root above them
// (RootOfRegions), so together they hold every record exactly once.
type Region struct {
	Pos    Pos
	Root   fr.Element
	Leaves []Placed
	Inners []InnerNode
}

// Placed is a leaf and the depth it sits at.
type Placed struct {
	Node
	Depth int
}

// InnerNode is an inner node and its children's hashes.
type InnerNode struct {
	Pos         Pos
	Left, Right fr.Element
}

// Regions splits the tree into regions of at most maxLeaves leaves and
// maxInners inner nodes, in prefix order, none above minDepth: the nodes at
// minDepth, split further where one does not fit. It reads every node.
//
// A chunk proof shows its region's place, and places chosen by how many
// records lie below them would tell a verifier, who can compute the key
// paths of candidate keys, how many of them are present in each part of the
// key space, down to single keys. With minDepth from RegionDepth, the
// places are a fixed grid that depends on the record count alone (which
// anchors show anyway), and a cell that must be split further is rare.
func Regions(s Store, minDepth, maxLeaves, maxInners int) ([]Region, error) {
	var out []Region
	// visit returns the subtree at p as a region when it fits, else nil
	// after emitting its parts.
	var visit func(p Pos) (*Region, Node, error)
	visit = func(p Pos) (*Region, Node, error) {
		n, err := s.Get(p)
		if err != nil {
			return nil, n, err
		}
		switch n.Kind {
		case Empty:
			return nil, n, nil
		case Leaf:
			return &Region{Pos: p, Root: n.Hash, Leaves: []Placed{{n, p.Depth}}}, n, nil
		}
		if p.Depth == Depth {
			return nil, n, fmt.Errorf("tree: inner node at depth %d", Depth)
		}
		var kids [2]*Region
		var nodes [2]Node
		for bit := range kids {
			if kids[bit], nodes[bit], err = visit(p.child(uint64(bit))); err != nil {
				return nil, n, err
			}
		}
		fits := func(bit int) bool { return kids[bit] != nil || nodes[bit].Kind == Empty }
		if p.Depth >= minDepth && fits(0) && fits(1) {
			r := &Region{Pos: p, Root: n.Hash, Inners: []InnerNode{{p, nodes[0].Hash, nodes[1].Hash}}}
			for _, k := range kids {
				if k != nil {
					r.Leaves = append(r.Leaves, k.Leaves...)
					r.Inners = append(r.Inners, k.Inners...)
				}
			}
			if len(r.Leaves) <= maxLeaves && len(r.Inners) <= maxInners {
				return r, n, nil
			}
		}
		for _, k := range kids {
			if k != nil {
				out = append(out, *k)
			}
		}
		return nil, n, nil
	}
	r, _, err := visit(root)
	if err != nil {
		return nil, err
	}
	if r != nil {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Region) int { return cmp.Compare(a.Pos.Prefix, b.Pos.Prefix) })
	return out, nil
}

// RegionDepth is the depth of the grid Regions should start from for a tree
// of count leaves, so that a cell holds about target/2 to target of them.
func RegionDepth(count uint64, target int) int {
	d := 0
	for d < Depth && count > uint64(target)<<d {
		d++
	}
	return d
}

// RegionRoot is a region's place and hash, as a chunk proof shows them.
type RegionRoot struct {
	Pos  Pos
	Root fr.Element
}

// ErrBadRegions means a set of regions is not disjoint nodes of one tree.
var ErrBadRegions = errors.New("regions are not disjoint nodes of one tree")

// RootOfRegions rebuilds a tree's root from disjoint regions: every node
// above them is an inner node of its two children, and a subtree without a
// region is empty. It fails for a region that is misaligned, empty or
// inside another.
func RootOfRegions(regions []RegionRoot) (fr.Element, error) {
	rs := slices.Clone(regions)
	for _, r := range rs {
		if r.Pos.Depth < 0 || r.Pos.Depth > Depth || r.Pos.Prefix&(^uint64(0)>>r.Pos.Depth) != 0 || r.Root.IsZero() {
			return fr.Element{}, fmt.Errorf("%w: region (%d, %#x)", ErrBadRegions, r.Pos.Depth, r.Pos.Prefix)
		}
	}
	// Prefix order puts every subtree's regions next to one another, an
	// ancestor before its descendants.
	slices.SortFunc(rs, func(a, b RegionRoot) int {
		return cmp.Or(cmp.Compare(a.Pos.Prefix, b.Pos.Prefix), cmp.Compare(a.Pos.Depth, b.Pos.Depth))
	})
	var build func(p Pos, rs []RegionRoot) (fr.Element, error)
	build = func(p Pos, rs []RegionRoot) (fr.Element, error) {
		switch {
		case len(rs) == 0:
			return fr.Element{}, nil
		case rs[0].Pos == p:
			if len(rs) > 1 {
				return fr.Element{}, fmt.Errorf("%w: a region inside region (%d, %#x)", ErrBadRegions, p.Depth, p.Prefix)
			}
			return rs[0].Root, nil
		case p.Depth == Depth:
			return fr.Element{}, fmt.Errorf("%w: two regions at (%d, %#x)", ErrBadRegions, p.Depth, p.Prefix)
		}
		i, _ := slices.BinarySearchFunc(rs, uint64(1), func(r RegionRoot, bit uint64) int {
			return cmp.Compare(zkhash.PathBit(r.Pos.Prefix, p.Depth), bit)
		})
		l, err := build(p.child(0), rs[:i])
		if err != nil {
			return fr.Element{}, err
		}
		r, err := build(p.child(1), rs[i:])
		if err != nil {
			return fr.Element{}, err
		}
		return zkhash.Node(p.Depth, l, r), nil
	}
	if len(rs) == 0 {
		return fr.Element{}, nil
	}
	return build(root, rs)
}
