package tree

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/zkhash"
)

func leafOf(path, version uint64) fr.Element {
	var e fr.Element
	e.SetUint64(path*7 + version + 1)
	return e
}

// fresh builds a tree from scratch from a set of leaves.
func fresh(t *testing.T, set map[uint64]fr.Element) *Memory {
	t.Helper()
	m := NewMemory()
	var ch []Change
	for p, l := range set {
		ch = append(ch, Change{Op: Insert, Path: p, Leaf: l})
	}
	if _, err := Apply(context.Background(), m, ch); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkProofs proves every present path and some absent ones.
func checkProofs(t *testing.T, m *Memory, set map[uint64]fr.Element, absent []uint64) {
	t.Helper()
	r, _ := Root(m)
	for p, l := range set {
		pr, err := Prove(m, p)
		if err != nil {
			t.Fatal(err)
		}
		if pr.End.Kind != Leaf || pr.End.Path != p || !pr.End.Hash.Equal(&l) {
			t.Fatalf("path %#x: walk ends on %+v", p, pr.End)
		}
		got, err := zkhash.TrieRoot(l, p, pr.Depth, &pr.Siblings)
		if err != nil || !got.Equal(&r) {
			t.Fatalf("path %#x: proof does not lead to the root (%v)", p, err)
		}
	}
	for _, p := range absent {
		if _, ok := set[p]; ok {
			continue
		}
		pr, err := Prove(m, p)
		if err != nil {
			t.Fatal(err)
		}
		if pr.End.Kind == Leaf && pr.End.Path == p {
			t.Fatalf("absent path %#x found", p)
		}
		got, err := zkhash.TrieRoot(pr.End.Hash, p, pr.Depth, &pr.Siblings)
		if err != nil || !got.Equal(&r) {
			t.Fatalf("absent path %#x: proof does not lead to the root (%v)", p, err)
		}
	}
}

func TestEmptyRootIsZero(t *testing.T) {
	r, err := Root(NewMemory())
	if err != nil || !r.IsZero() {
		t.Fatalf("empty root %v, %v", r.String(), err)
	}
	pr, err := Prove(NewMemory(), 42)
	if err != nil || pr.Depth != 0 || pr.End.Kind != Empty {
		t.Fatalf("absence in an empty tree: %+v, %v", pr, err)
	}
}

func TestSingleLeafIsRoot(t *testing.T) {
	m := NewMemory()
	l := leafOf(5, 0)
	r, err := Apply(context.Background(), m, []Change{{Path: 5, Leaf: l}})
	if err != nil || !r.Equal(&l) {
		t.Fatalf("root of one leaf = %v, want the leaf (%v)", r.String(), err)
	}
}

// TestIncrementalMatchesFresh applies random inserts, updates and deletes
// in batches and checks that the stored nodes are exactly those of a tree
// built from scratch over the same leaves: no stale node is left behind.
func TestIncrementalMatchesFresh(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Paths that share long prefixes, to make deep chains and collapses.
	pathOf := func() uint64 {
		switch rng.IntN(3) {
		case 0:
			return rng.Uint64()
		case 1:
			return 0xabcd<<48 | rng.Uint64()&0xff
		default:
			return rng.Uint64() & 0xf
		}
	}
	m := NewMemory()
	set := map[uint64]fr.Element{}
	for round := range 60 {
		var ch []Change
		seen := map[uint64]bool{}
		for range rng.IntN(20) + 1 {
			p := pathOf()
			if _, ok := set[p]; ok && rng.IntN(2) == 0 {
				p = randomKey(rng, set)
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			_, ok := set[p]
			switch {
			case ok && rng.IntN(2) == 0:
				ch = append(ch, Change{Op: Delete, Path: p})
			case ok:
				ch = append(ch, Change{Op: Update, Path: p, Leaf: leafOf(p, uint64(round))})
			default:
				ch = append(ch, Change{Op: Insert, Path: p, Leaf: leafOf(p, uint64(round))})
			}
		}
		r, err := Apply(context.Background(), m, ch)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ch {
			if c.Op == Delete {
				delete(set, c.Path)
			} else {
				set[c.Path] = c.Leaf
			}
		}
		f := fresh(t, set)
		fr0, _ := Root(f)
		if !r.Equal(&fr0) {
			t.Fatalf("round %d: root differs from a fresh build", round)
		}
		if !maps.Equal(m.nodes, f.nodes) {
			t.Fatalf("round %d: %d stored nodes, a fresh build has %d", round, m.Len(), f.Len())
		}
		checkProofs(t, m, set, []uint64{pathOf(), pathOf(), 0, ^uint64(0)})
	}
}

func randomKey(rng *rand.Rand, set map[uint64]fr.Element) uint64 {
	i := rng.IntN(len(set))
	for p := range set {
		if i == 0 {
			return p
		}
		i--
	}
	return 0
}

func TestDeleteToEmpty(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	if _, err := Apply(ctx, m, []Change{{Path: 1, Leaf: leafOf(1, 0)}, {Path: 2, Leaf: leafOf(2, 0)}, {Path: 3, Leaf: leafOf(3, 0), Ref: "three"}}); err != nil {
		t.Fatal(err)
	}
	r, err := Apply(ctx, m, []Change{{Op: Delete, Path: 1}, {Op: Delete, Path: 2}, {Op: Delete, Path: 3}})
	if err != nil || !r.IsZero() || m.Len() != 0 {
		t.Fatalf("after deleting everything: root %v, %d nodes, %v", r.String(), m.Len(), err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	if _, err := Apply(ctx, m, []Change{{Op: Delete, Path: 9}}); !errors.Is(err, ErrNoSuchLeaf) {
		t.Fatalf("deleting a missing leaf: %v", err)
	}
	if _, err := Apply(ctx, m, []Change{{Op: Update, Path: 9, Leaf: leafOf(9, 0)}}); !errors.Is(err, ErrNoSuchLeaf) {
		t.Fatalf("updating a missing leaf: %v", err)
	}
	if _, err := Apply(ctx, m, []Change{{Path: 9, Leaf: leafOf(9, 0)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, m, []Change{{Path: 9, Leaf: leafOf(9, 1)}}); !errors.Is(err, ErrPathCollision) {
		t.Fatalf("inserting a present path: %v", err)
	}
	m = NewMemory()
	if _, err := Apply(ctx, m, []Change{{Path: 9, Leaf: leafOf(9, 0)}, {Path: 9, Leaf: leafOf(9, 1)}}); !errors.Is(err, ErrPathCollision) {
		t.Fatalf("two changes of one path: %v", err)
	}
	if m.Len() != 0 {
		t.Fatal("a failed Apply wrote nodes")
	}
}

// TestSupersededNotProvable: after an update, the old leaf's proof no
// longer leads to the root.
func TestSupersededNotProvable(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	if _, err := Apply(ctx, m, []Change{{Path: 1 << 63, Leaf: leafOf(1, 0)}, {Path: 2, Leaf: leafOf(2, 0)}}); err != nil {
		t.Fatal(err)
	}
	old, _ := Prove(m, 2)
	r, err := Apply(ctx, m, []Change{{Op: Update, Path: 2, Leaf: leafOf(2, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := zkhash.TrieRoot(leafOf(2, 0), 2, old.Depth, &old.Siblings)
	if got.Equal(&r) {
		t.Fatal("the superseded leaf still proves against the new root")
	}
}

func BenchmarkApplyFresh(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	ch := make([]Change, 100_000)
	for i := range ch {
		ch[i] = Change{Path: rng.Uint64(), Leaf: leafOf(uint64(i), 0)}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := Apply(context.Background(), NewMemory(), ch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ch)), "ns/leaf")
}
