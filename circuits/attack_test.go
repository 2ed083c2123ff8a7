package circuits_test

// Review of issue 13 (attack tests): each case is a dishonest chunk witness
// that must not solve, unless the test says otherwise.

import (
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/test"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/zkhash"
)

func TestAttackAggregate(t *testing.T) {
	f := newFixture(t, rows)
	regs, _ := regionsOf(t, aggVals(), testLeaves, testInners)
	reg := &regs[0]
	q := query(f, rng(0, 16, 0, 65535))
	mk := func(r *circuits.AggRegion) *circuits.Aggregate {
		a, _, err := circuits.AggregateAssignment(q, slot1, r, testLeaves, testInners, el(4242))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	solves := func(a *circuits.Aggregate) bool {
		return test.IsSolved(circuits.NewAggregate(testLeaves, testInners), a, ecc.BN254.ScalarField()) == nil
	}
	if !solves(mk(reg)) {
		t.Fatal("honest witness does not solve")
	}
	n, m := len(reg.Leaves), len(reg.Inners)

	// A ghost leaf at depth 64 and an orphan inner at depth 63 naming it:
	// the orphan's own tuple is named by nobody.
	ghost := circuits.AggLeaf{Key: zkhash.Digest("zkshare/key/v1", []byte("ghost"), 248), Salt: el(1), Depth: 64}
	ghost.Values[0], ghost.Values[1] = el(1), el(1<<50)
	gp := zkhash.KeyPath(ghost.Key)
	gh := (&circuits.Record{Key: ghost.Key, Salt: ghost.Salt, Values: ghost.Values}).Leaf(el(77))
	orphan := circuits.AggInner{Depth: 63, Prefix: gp &^ 1}
	if gp&1 == 0 {
		orphan.Left = gh
	} else {
		orphan.Right = gh
	}
	withOrphan := *reg
	withOrphan.Leaves = append(append([]circuits.AggLeaf(nil), reg.Leaves...), ghost)
	withOrphan.Inners = append(append([]circuits.AggInner(nil), reg.Inners...), orphan)

	cases := map[string]*circuits.Aggregate{
		"orphan inner naming a ghost leaf": mk(&withOrphan),
		"used inner slot at depth 64": func() *circuits.Aggregate {
			a := mk(reg)
			a.Inners[m] = circuits.AggInnerVars{Used: 1, Depth: 64, Prefix: gp, Left: gh, Right: 0}
			return a
		}(),
		"live leaf at depth 65 (no tuple can name it)": func() *circuits.Aggregate {
			a := mk(reg)
			var low fr.Element
			low.SetBigInt(ghostLow(ghost.Key))
			a.Leaves[n] = circuits.AggLeafVars{Live: 1, Key: ghost.Key, Salt: ghost.Salt, Depth: 65, Path: gp, Low: low, Rem: 0}
			for j := range ghost.Values {
				a.Leaves[n].Values[j] = ghost.Values[j]
			}
			return a
		}(),
		"leaf depth 128 (outside 7 bits)": func() *circuits.Aggregate {
			a := mk(reg)
			a.Leaves[0].Depth = 128
			return a
		}(),
		"unused row marked live twice (Live 2)": func() *circuits.Aggregate {
			a := mk(reg)
			a.Leaves[0].Live = 2
			return a
		}(),
		"inner Used 2 (counts its children twice)": func() *circuits.Aggregate {
			a := mk(reg)
			a.Inners[0].Used = 2
			return a
		}(),
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			if solves(a) {
				t.Fatal("dishonest chunk witness solves")
			}
		})
	}

	// A deeper region (from a split into small regions): moving it to its
	// aligned neighbour with every inner prefix shifted must fail, since
	// leaf paths pin the absolute place.
	small, _ := regionsOf(t, aggVals(), 2, 8)
	for i := range small {
		r := &small[i]
		if r.Depth == 0 || len(r.Leaves) < 2 {
			continue
		}
		t.Run("region moved to its aligned neighbour", func(t *testing.T) {
			a := mk(r)
			if !solves(a) {
				t.Fatal("honest small region does not solve")
			}
			s := uint64(1) << (64 - r.Depth)
			a.Prefix = r.Prefix ^ s
			for j := range r.Inners {
				a.Inners[j].Prefix = r.Inners[j].Prefix ^ s
			}
			if solves(a) {
				t.Fatal("moved region solves")
			}
		})
		break
	}

	// Shifting the region's prefix, every inner prefix and every leaf's Rem
	// by the same small s keeps the multiset balanced; the circuit checks the region's prefix is aligned to its depth, so
	// the shift fails in-circuit too (review finding W2).
	t.Run("misaligned region prefix", func(t *testing.T) {
		a := mk(reg)
		a.Prefix = reg.Prefix + 1
		for i := range reg.Inners {
			a.Inners[i].Prefix = reg.Inners[i].Prefix + 1
		}
		for i := range reg.Leaves {
			rem := zkhash.KeyPath(reg.Leaves[i].Key) & (^uint64(0) >> reg.Leaves[i].Depth)
			if rem == 0 {
				t.Skip("a leaf has Rem 0")
			}
			a.Leaves[i].Rem = rem - 1
		}
		if solves(a) {
			t.Fatal("a misaligned region prefix solved")
		}
	})
}

func ghostLow(k fr.Element) *big.Int {
	b := k.BigInt(new(big.Int))
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 184), big.NewInt(1))
	return b.And(b, mask)
}
