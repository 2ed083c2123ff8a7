package tree

import (
	"context"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/circuits"
)

func leaves(n int, seed uint64) []fr.Element {
	out := make([]fr.Element, n)
	for i := range out {
		out[i].SetUint64(seed*1_000_003 + uint64(i) + 1)
	}
	return out
}

func TestBuildMatchesSet(t *testing.T) {
	for _, tc := range []struct{ first, second int }{{0, 1}, {1, 0}, {1, 1}, {3, 5}, {300, 301}, {1024, 7}} {
		a, b := NewMemory(), NewMemory()
		ls := leaves(tc.first+tc.second, 9)
		for i, l := range ls {
			if err := Set(a, uint64(i), l); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Build(context.Background(), b, 0, ls[:tc.first], nil); err != nil {
			t.Fatal(err)
		}
		rb, err := Build(context.Background(), b, uint64(tc.first), ls[tc.first:], nil)
		if err != nil {
			t.Fatal(err)
		}
		ra, _ := Root(a)
		if !ra.Equal(&rb) {
			t.Fatalf("%+v: Build root differs from Set root", tc)
		}
		for _, i := range []int{0, tc.first, len(ls) - 1} {
			if i < 0 || i >= len(ls) {
				continue
			}
			p, err := Path(b, uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			if got := circuits.Root(ls[i], uint64(i), &p); !got.Equal(&ra) {
				t.Fatalf("%+v: path of leaf %d does not lead to the root", tc, i)
			}
		}
	}
}

func TestEmptyRootIsZeroHash(t *testing.T) {
	r, err := Root(NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	z := circuits.ZeroHashes()[Depth]
	if !r.Equal(&z) {
		t.Fatal("empty tree root is not the depth-32 zero hash")
	}
}

func TestReplaceChangesRootAndOldPathFails(t *testing.T) {
	s := NewMemory()
	ls := leaves(10, 1)
	if _, err := Build(context.Background(), s, 0, ls, nil); err != nil {
		t.Fatal(err)
	}
	oldPath, _ := Path(s, 4)
	var repl fr.Element
	repl.SetUint64(424242)
	if err := Set(s, 4, repl); err != nil {
		t.Fatal(err)
	}
	root, _ := Root(s)
	if got := circuits.Root(ls[4], 4, &oldPath); got.Equal(&root) {
		t.Fatal("superseded leaf still proves membership")
	}
	newPath, _ := Path(s, 4)
	if got := circuits.Root(repl, 4, &newPath); !got.Equal(&root) {
		t.Fatal("new leaf does not prove membership")
	}
}

func TestOutOfRange(t *testing.T) {
	if err := Set(NewMemory(), 1<<Depth, fr.Element{}); err == nil {
		t.Fatal("position 2^32 accepted")
	}
}

func BenchmarkTreeBuild(b *testing.B) {
	const n = 1 << 20
	ls := leaves(n, 3)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Build(context.Background(), NewMemory(), 0, ls, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "leaves/s")
}

func TestSetManyMatchesSet(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		index []uint64
	}{
		{"none", 10, nil},
		{"one", 10, []uint64{3}},
		{"siblings", 10, []uint64{4, 5}},
		{"unsorted spread", 600, []uint64{599, 0, 300, 1, 257}},
		{"beyond the filled part", 10, []uint64{1 << 20, 11}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := NewMemory(), NewMemory()
			base := leaves(tc.n, 3)
			for _, s := range []Store{a, b} {
				if _, err := Build(context.Background(), s, 0, base, nil); err != nil {
					t.Fatal(err)
				}
			}
			up := leaves(len(tc.index), 4)
			for i, p := range tc.index {
				if err := Set(a, p, up[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := SetMany(b, tc.index, up); err != nil {
				t.Fatal(err)
			}
			ra, _ := Root(a)
			rb, _ := Root(b)
			if !ra.Equal(&rb) {
				t.Fatal("SetMany root differs from Set root")
			}
		})
	}
	if err := SetMany(NewMemory(), []uint64{1 << Depth}, leaves(1, 1)); err == nil {
		t.Fatal("SetMany accepted a position outside the tree")
	}
	if err := SetMany(NewMemory(), []uint64{1}, nil); err == nil {
		t.Fatal("SetMany accepted mismatched lengths")
	}
}
