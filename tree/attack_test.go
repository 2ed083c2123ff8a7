package tree

// Review of issue 13: region sets that must not rebuild a tree's root.

import (
	"context"
	"errors"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/zkhash"
)

func TestAttackRootOfRegionsMore(t *testing.T) {
	one, two := leafOf(1, 0), leafOf(2, 0)
	for name, rs := range map[string][]RegionRoot{
		"duplicated region":                {{Pos{3, 0}, one}, {Pos{3, 0}, one}},
		"duplicated, other hash":           {{Pos{3, 0}, one}, {Pos{3, 0}, two}},
		"ancestor with the same prefix":    {{Pos{5, 0}, one}, {Pos{2, 0}, two}},
		"two at depth 64, same place":      {{Pos{64, 7}, one}, {Pos{64, 7}, two}},
		"negative depth":                   {{Pos{-1, 0}, one}},
		"root region plus another":         {{Pos{0, 0}, one}, {Pos{64, 1}, two}},
		"descendant far right, ancestor 0": {{Pos{64, ^uint64(0)}, one}, {Pos{0, 0}, two}},
	} {
		if _, err := RootOfRegions(rs); !errors.Is(err, ErrBadRegions) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A real tree's regions rebuild its root; leaving one out, repeating one
// elsewhere, or moving a lone-leaf region one level deeper does not.
func TestAttackRegionsTampered(t *testing.T) {
	m, _ := randomTree(t, 300, 13)
	want, err := Root(m)
	if err != nil {
		t.Fatal(err)
	}
	regs, err := Regions(m, 0, 8, 16)
	if err != nil {
		t.Fatal(err)
	}
	rr := make([]RegionRoot, len(regs))
	for i, r := range regs {
		rr[i] = RegionRoot{r.Pos, r.Root}
	}
	got, err := RootOfRegions(rr)
	if err != nil || !got.Equal(&want) {
		t.Fatalf("honest regions: %v", err)
	}
	check := func(name string, rs []RegionRoot) {
		got, err := RootOfRegions(rs)
		if err == nil && got.Equal(&want) {
			t.Errorf("%s: rebuilds the anchored root", name)
		}
	}
	check("one left out", rr[1:])
	// A region's hash reused at its sibling's empty place, if any.
	for i, r := range rr {
		if r.Pos.Depth == 0 {
			continue
		}
		sib := Pos{r.Pos.Depth, r.Pos.Prefix ^ 1<<(Depth-r.Pos.Depth)}
		n, _ := m.Get(sib)
		if n.Kind == Empty {
			c := append(append([]RegionRoot(nil), rr...), RegionRoot{sib, r.Root})
			check("a region repeated at its empty sibling", c)
			_ = i
			break
		}
	}
	for i, r := range regs {
		if len(r.Leaves) == 1 && len(r.Inners) == 0 && r.Pos.Depth < Depth {
			c := append([]RegionRoot(nil), rr...)
			c[i].Pos = r.Pos.child(zkhash.PathBit(r.Leaves[0].Path, r.Pos.Depth))
			check("a lone leaf one level deeper", c)
			break
		}
	}
	_ = context.Background
	_ = fr.Element{}
}
