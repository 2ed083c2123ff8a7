package tree

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

func randomTree(t *testing.T, n int, seed uint64) (*Memory, map[uint64]fr.Element) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	set := map[uint64]fr.Element{}
	for len(set) < n {
		p := rng.Uint64()
		if rng.IntN(4) == 0 {
			p &= 0xff00ff // clustered paths: chains and deep leaves
		}
		set[p] = leafOf(p, 0)
	}
	return fresh(t, set), set
}

func TestRegionsCoverTheTree(t *testing.T) {
	for _, tc := range []struct{ n, leaves, inners int }{{0, 4, 4}, {1, 4, 4}, {2, 4, 4}, {50, 8, 12}, {300, 16, 24}, {300, 1000, 1000}, {1000, 64, 96}} {
		m, set := randomTree(t, tc.n, uint64(tc.n))
		regs, err := Regions(m, 0, tc.leaves, tc.inners)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint64]bool{}
		var roots []RegionRoot
		for _, r := range regs {
			if len(r.Leaves) > tc.leaves || len(r.Inners) > tc.inners {
				t.Fatalf("%+v: region of %d leaves and %d inners", tc, len(r.Leaves), len(r.Inners))
			}
			for _, l := range r.Leaves {
				if seen[l.Path] {
					t.Fatalf("%+v: leaf %#x in two regions", tc, l.Path)
				}
				seen[l.Path] = true
				pr, _ := Prove(m, l.Path)
				if pr.Depth != l.Depth {
					t.Fatalf("leaf at depth %d, its walk ends at %d", l.Depth, pr.Depth)
				}
			}
			roots = append(roots, RegionRoot{r.Pos, r.Root})
		}
		if len(seen) != len(set) {
			t.Fatalf("%+v: regions hold %d of %d leaves", tc, len(seen), len(set))
		}
		got, err := RootOfRegions(roots)
		want, _ := Root(m)
		if err != nil || !got.Equal(&want) {
			t.Fatalf("%+v: %d regions rebuild another root (%v)", tc, len(regs), err)
		}
		if tc.n >= 300 && tc.leaves < 100 && len(regs) < 2 {
			t.Fatalf("%+v: one region", tc)
		}
		// Leaving a region out, or repeating one, changes the root or fails.
		if len(roots) > 1 {
			if r, err := RootOfRegions(roots[1:]); err == nil && r.Equal(&want) {
				t.Fatal("a region left out still rebuilds the root")
			}
			if _, err := RootOfRegions(append(roots, roots[0])); !errors.Is(err, ErrBadRegions) {
				t.Fatalf("a repeated region: %v", err)
			}
		}
	}
}

func TestRootOfRegionsRejects(t *testing.T) {
	one := leafOf(1, 0)
	for name, rs := range map[string][]RegionRoot{
		"misaligned":   {{Pos{1, 1}, one}},
		"too deep":     {{Pos{65, 0}, one}},
		"empty region": {{Pos{1, 0}, fr.Element{}}},
		"nested":       {{Pos{1, 0}, one}, {Pos{2, 1 << 62}, one}},
	} {
		if _, err := RootOfRegions(rs); !errors.Is(err, ErrBadRegions) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if r, err := RootOfRegions(nil); err != nil || !r.IsZero() {
		t.Fatal("no regions: want the empty root")
	}
	_ = context.Background
}

// TestRegionGrid: from RegionDepth, region places depend on the record
// count only, not on which keys are present.
func TestRegionGrid(t *testing.T) {
	places := func(seed uint64) []Pos {
		rng := rand.New(rand.NewPCG(seed, 9))
		set := map[uint64]fr.Element{}
		for len(set) < 3000 {
			p := rng.Uint64()
			set[p] = leafOf(p, 0)
		}
		regs, err := Regions(fresh(t, set), RegionDepth(3000, 384), 512, 768)
		if err != nil {
			t.Fatal(err)
		}
		var out []Pos
		for _, r := range regs {
			out = append(out, r.Pos)
		}
		return out
	}
	a, b := places(1), places(2)
	if len(a) != 8 || !slices.Equal(a, b) {
		t.Fatalf("regions of two trees of 3000 keys: %v and %v, want the same 8 grid cells", a, b)
	}
	for _, tc := range []struct {
		count uint64
		want  int
	}{{0, 0}, {1, 0}, {384, 0}, {385, 1}, {768, 1}, {769, 2}, {98_304, 8}, {98_305, 9}} {
		if got := RegionDepth(tc.count, 384); got != tc.want {
			t.Errorf("RegionDepth(%d) = %d, want %d", tc.count, got, tc.want)
		}
	}
}
