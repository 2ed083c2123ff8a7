package circuits_test

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/test"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/tree"
	"github.com/zkshare/zkshare/zkhash"
)

// aggVals are the records of the aggregate tests: the fixture's four and
// two more.
func aggVals() [][4]fr.Element {
	return [][4]fr.Element{rows[0], rows[1], rows[2], rows[3], {el(7), el(500), str("north"), signed8(5)}, {el(30000), el(9), str("east"), signed8(-9)}}
}

// regionsOf commits records with the given values (keys "r0", "r1"...)
// under the fixture's schema and splits the tree into regions; it returns
// them with the tree's root.
func regionsOf(t testing.TB, vals [][4]fr.Element, maxLeaves, maxInners int) ([]circuits.AggRegion, fr.Element) {
	t.Helper()
	schema := el(77)
	recs := make([]circuits.AggLeaf, len(vals))
	var ch []tree.Change
	for i, v := range vals {
		r := circuits.Record{Key: zkhash.Digest("zkshare/key/v1", []byte("r"+strconv.Itoa(i)), 248), Salt: el(uint64(500 + i))}
		copy(r.Values[:], v[:])
		recs[i] = circuits.AggLeaf{Key: r.Key, Salt: r.Salt, Values: r.Values}
		ch = append(ch, tree.Change{Path: zkhash.KeyPath(r.Key), Leaf: r.Leaf(schema), Ref: strconv.Itoa(i)})
	}
	m := tree.NewMemory()
	root, err := tree.Apply(context.Background(), m, ch)
	if err != nil {
		t.Fatal(err)
	}
	regs, err := tree.Regions(m, 0, maxLeaves, maxInners)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]circuits.AggRegion, len(regs))
	for i, r := range regs {
		ar := circuits.AggRegion{Depth: r.Pos.Depth, Prefix: r.Pos.Prefix, Root: r.Root}
		for _, l := range r.Leaves {
			j, _ := strconv.Atoi(l.Ref)
			leaf := recs[j]
			leaf.Depth = l.Depth
			ar.Leaves = append(ar.Leaves, leaf)
		}
		for _, n := range r.Inners {
			ar.Inners = append(ar.Inners, circuits.AggInner{Depth: n.Pos.Depth, Prefix: n.Pos.Prefix, Left: n.Left, Right: n.Right})
		}
		out[i] = ar
	}
	return out, root
}

// The single-region tests' circuit shape.
const testLeaves, testInners = 8, 16

func TestAggregate(t *testing.T) {
	f := newFixture(t, rows)
	regs, _ := regionsOf(t, aggVals(), testLeaves, testInners)
	if len(regs) != 1 {
		t.Fatalf("%d regions, want 1", len(regs))
	}
	reg := &regs[0]
	q := query(f, rng(0, 16, 0, 30000)) // slot 0 <= 30000: records 0, 2, 4, 5
	mk := func(q *circuits.Query, reg *circuits.AggRegion) (*circuits.Aggregate, circuits.AggResult) {
		a, res, err := circuits.AggregateAssignment(q, slot1, reg, testLeaves, testInners, el(4242))
		if err != nil {
			t.Fatal(err)
		}
		return a, res
	}
	a, res := mk(q, reg)
	// Slot 1 of records 0, 2, 4, 5: 0, 2^40, 500, 9.
	if res.Count != 4 || res.Min != 0 || res.Max != 1<<40 || !res.Sum.Equal(ptr(el(1<<40+509))) {
		t.Fatalf("native result %+v", res)
	}
	assert := test.NewAssert(t)
	opts := []test.TestingOption{test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16)}
	bad := func(mod func(a *circuits.Aggregate)) *circuits.Aggregate {
		b, _ := mk(q, reg)
		mod(b)
		return b
	}
	shape := func() frontend.Circuit { return circuits.NewAggregate(testLeaves, testInners) }
	assert.CheckCircuit(shape(), append(opts,
		test.WithValidAssignment(a),
		// A partial committing to another result: each of the four changed.
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Partial = withRes(res, func(r *circuits.AggResult) { r.Count-- }) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Partial = withRes(res, func(r *circuits.AggResult) { r.Sum.SetOne() }) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Partial = withRes(res, func(r *circuits.AggResult) { r.Min = 9 }) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Partial = withRes(res, func(r *circuits.AggResult) { r.Max = 500 }) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Blind = 1 })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.QueryHash = el(1) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Field = 0 })),
		// A live flag that is not a bit, and a value beyond 64 bits.
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Leaves[0].Live = 2 })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Leaves[1].Values[1] = new(big.Int).Lsh(big.NewInt(1), 64) })),
		// The aggregated field declared narrower than its values (2^40 needs 41 bits).
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.FieldWidth = 40 })),
	)...)
	// A value a clause reads beyond the clause's declared width: 300 in an
	// 8-bit slot is in [0, 1000] as a number, and still unprovable.
	w8 := query(f, rng(3, 8, 0, 1000))
	wa, _ := mk(w8, reg)
	wide8, _ := mk(w8, reg)
	wide8.Leaves[0].Values[3] = 300
	assert.CheckCircuit(shape(), append(opts, test.WithValidAssignment(wa), test.WithInvalidAssignment(wide8))...)

	// The operators: ==, !=, in, not in, and ranges, alone and together,
	// each against the native evaluation.
	for name, cq := range map[string]*circuits.Query{
		"in":        query(f, circuits.Clause{Field: 2, Op: circuits.OpIn, String: true, Mask: 0b011}),
		"not in":    query(f, circuits.Clause{Field: 2, Op: circuits.OpNotIn, String: true, Mask: 0b001}),
		"==":        query(f, circuits.Clause{Field: 0, Op: circuits.OpIn, Width: 16, Hi: 65535, Mask: 0b100}),
		"range+in":  query(f, rng(0, 16, 7, 30000), circuits.Clause{Field: 2, Op: circuits.OpIn, String: true, Mask: 0b011}),
		"four":      query(f, rng(0, 16, 0, 60000), circuits.Clause{Field: 2, Op: circuits.OpNotIn, String: true, Mask: 0b010}, rng(1, 64, 0, 1<<41), rng(3, 8, 0, 255)),
		"empty set": query(f, rng(0, 16, 40000, 50000)),
	} {
		a, res := mk(cq, reg)
		t.Logf("%s: %+v", name, res)
		wrong := *a
		wrong.Partial = withRes(res, func(r *circuits.AggResult) { r.Count++ })
		assert.CheckCircuit(shape(), append(opts, test.WithValidAssignment(a), test.WithInvalidAssignment(&wrong))...)
	}

	// No record satisfies: count 0, min 2^64-1, max 0.
	_, res = mk(query(f, rng(0, 16, 40000, 50000)), reg)
	if res.Count != 0 || res.Min != math.MaxUint64 || res.Max != 0 {
		t.Fatalf("empty result %+v", res)
	}
	// More than AggClauses clauses cannot be aggregated.
	wide := query(f, rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000))
	if _, _, err := circuits.AggregateAssignment(wide, slot1, reg, testLeaves, testInners, el(1)); err == nil {
		t.Fatal("aggregated a five-clause query")
	}
	// ...and a prover cannot hide a fifth clause from the circuit.
	sneaky := query(f, rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000))
	sa, _ := mk(sneaky, reg)
	fifth := query(f, rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(1, 64, 0, 5))
	circuits.SetQueryForTest(sa, fifth)
	assert.CheckCircuit(shape(), append(opts, test.WithInvalidAssignment(sa))...)
	// A string slot cannot be summed.
	if _, _, err := circuits.AggregateAssignment(q, circuits.AggField{Slot: 2, Width: 64}, reg, testLeaves, testInners, el(1)); err == nil {
		t.Fatal("aggregated a string digest")
	}
	// A region larger than the circuit is refused natively.
	if _, _, err := circuits.AggregateAssignment(q, slot1, reg, 2, testInners, el(1)); err == nil {
		t.Fatal("a region of 6 leaves fitted 2 rows")
	}
}

// TestAggregateBoundToTree: the rows a chunk proof counts are exactly the
// leaves of its region of the tree. Leaving a record out, counting one
// twice, adding one the tree does not hold, changing a value, moving a leaf
// or naming another region all fail.
func TestAggregateBoundToTree(t *testing.T) {
	f := newFixture(t, rows)
	regs, _ := regionsOf(t, aggVals(), testLeaves, testInners)
	reg := &regs[0]
	q := query(f, rng(0, 16, 0, 65535))
	mk := func() *circuits.Aggregate {
		a, _, err := circuits.AggregateAssignment(q, slot1, reg, testLeaves, testInners, el(4242))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if err := test.IsSolved(circuits.NewAggregate(testLeaves, testInners), mk(), ecc.BN254.ScalarField()); err != nil {
		t.Fatal(err)
	}
	n := len(reg.Leaves)
	// A fake record: a well-formed leaf row of a key the tree lacks.
	fake := circuits.AggLeaf{Key: zkhash.Digest("zkshare/key/v1", []byte("ghost"), 248), Salt: el(1)}
	fake.Values[0], fake.Values[1] = el(1), el(1<<50)
	withFake := *reg
	withFake.Leaves = append(append([]circuits.AggLeaf(nil), reg.Leaves...), fake)
	ghost, _, err := circuits.AggregateAssignment(q, slot1, &withFake, testLeaves, testInners, el(4242))
	if err != nil {
		t.Fatal(err)
	}
	// A record counted twice.
	twice := withFake
	twice.Leaves = append(append([]circuits.AggLeaf(nil), reg.Leaves...), reg.Leaves[0])
	dup, _, err := circuits.AggregateAssignment(q, slot1, &twice, testLeaves, testInners, el(4242))
	if err != nil {
		t.Fatal(err)
	}
	// A record left out (with the partial of the smaller set).
	less := *reg
	less.Leaves = reg.Leaves[1:]
	dropped, _, err := circuits.AggregateAssignment(q, slot1, &less, testLeaves, testInners, el(4242))
	if err != nil {
		t.Fatal(err)
	}
	// A value changed (a doctored record; the partial is the doctored one's).
	doctored := *reg
	doctored.Leaves = append([]circuits.AggLeaf(nil), reg.Leaves...)
	doctored.Leaves[0].Values[1] = el(123456)
	changed, _, err := circuits.AggregateAssignment(q, slot1, &doctored, testLeaves, testInners, el(4242))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]*circuits.Aggregate{
		"record not in the tree": ghost,
		"record counted twice":   dup,
		"record left out":        dropped,
		"value changed":          changed,
		"leaf one level deeper": func() *circuits.Aggregate {
			moved := *reg
			moved.Leaves = append([]circuits.AggLeaf(nil), reg.Leaves...)
			moved.Leaves[n-1].Depth++
			a, _, err := circuits.AggregateAssignment(q, slot1, &moved, testLeaves, testInners, el(4242))
			if err != nil {
				t.Fatal(err)
			}
			return a
		}(),
		"another region root": func() *circuits.Aggregate { a := mk(); a.Root = el(5); return a }(),
		"another region place": func() *circuits.Aggregate {
			a := mk()
			a.Depth = reg.Depth + 1
			return a
		}(),
		"an inner node's child swapped": func() *circuits.Aggregate {
			a := mk()
			a.Inners[0].Left, a.Inners[0].Right = a.Inners[0].Right, a.Inners[0].Left
			return a
		}(),
		"a prefix that is not the path's": func() *circuits.Aggregate {
			a := mk()
			a.Leaves[0].Rem = 0
			return a
		}(),
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			if test.IsSolved(circuits.NewAggregate(testLeaves, testInners), a, ecc.BN254.ScalarField()) == nil {
				t.Fatal("solved")
			}
		})
	}
}

func ptr(e fr.Element) *fr.Element { return &e }

// slot1 is the aggregated field of these tests: slot 1, 64 bits wide.
var slot1 = circuits.AggField{Slot: 1, Width: 64}

// withRes commits, with the tests' blind, to a changed result.
func withRes(r circuits.AggResult, mod func(*circuits.AggResult)) fr.Element {
	mod(&r)
	return r.Commit(el(4242))
}

// BenchmarkAggregate compiles the chunk circuit at its real shape and
// reports its size per leaf row.
func BenchmarkAggregate(b *testing.B) {
	for range b.N {
		cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, circuits.NewAggregate(circuits.AggChunkRows, circuits.AggChunkInners))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(cs.GetNbConstraints()), "constraints")
		b.ReportMetric(float64(cs.GetNbConstraints())/circuits.AggChunkRows, "constraints/leaf")
	}
}

// TestAggregateChunks combines regions: each chunk proof hides its
// partial; the total opens and combines them, and the regions rebuild the
// tree's root.
func TestAggregateChunks(t *testing.T) {
	f := newFixture(t, rows)
	q := query(f, rng(0, 16, 0, 30000))
	vals := make([][4]fr.Element, 24)
	for i := range vals {
		vals[i][0], vals[i][1] = el(uint64(i*2000)), el(uint64(3*i+1))
	}
	regs, root := regionsOf(t, vals, testLeaves, testInners)
	if len(regs) < 2 || len(regs) > 4 {
		t.Fatalf("%d regions, want 2..4", len(regs))
	}
	var roots []tree.RegionRoot
	for _, r := range regs {
		roots = append(roots, tree.RegionRoot{Pos: tree.Pos{Depth: r.Depth, Prefix: r.Prefix}, Root: r.Root})
	}
	if got, err := tree.RootOfRegions(roots); err != nil || !got.Equal(&root) {
		t.Fatalf("regions rebuild another root: %v", err)
	}

	assert := test.NewAssert(t)
	opts := []test.TestingOption{test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16)}
	var parts []circuits.AggResult
	var blinds []fr.Element
	for c := range regs {
		blind := el(uint64(77 + c))
		a, res, err := circuits.AggregateAssignment(q, slot1, &regs[c], testLeaves, testInners, blind)
		if err != nil {
			t.Fatal(err)
		}
		if c == 0 {
			assert.CheckCircuit(circuits.NewAggregate(testLeaves, testInners), append(opts, test.WithValidAssignment(a))...)
		} else if err := test.IsSolved(circuits.NewAggregate(testLeaves, testInners), a, ecc.BN254.ScalarField()); err != nil {
			t.Fatalf("region %d: %v", c, err)
		}
		parts, blinds = append(parts, res), append(blinds, blind)
	}
	// Ground truth straight from the records: slot 0 <= 30000 means i <= 15.
	var want circuits.AggResult
	want.Min = math.MaxUint64
	for i := range vals {
		if i*2000 <= 30000 {
			v := uint64(3*i + 1)
			want.Count++
			want.Sum.Add(&want.Sum, ptr(el(v)))
			want.Min, want.Max = min(want.Min, v), max(want.Max, v)
		}
	}
	total, res, small, err := circuits.AggregateTotalAssignment(4, parts, blinds, 0, el(8))
	if err != nil {
		t.Fatal(err)
	}
	if small || res.Count != want.Count || !res.Sum.Equal(&want.Sum) || res.Min != want.Min || res.Max != want.Max {
		t.Fatalf("combined %+v, want %+v", res, want)
	}
	if len(regs) < 4 && total.Partials[3] != circuits.EmptyPartial() {
		t.Fatal("unused slot is not the empty partial")
	}
	badTotal := func(mod func(a *circuits.AggregateTotal)) *circuits.AggregateTotal {
		b, _, _, err := circuits.AggregateTotalAssignment(4, parts, blinds, 0, el(8))
		if err != nil {
			t.Fatal(err)
		}
		mod(b)
		return b
	}
	// Threshold mode: one bit, true or false, each provable; a flipped bit is not.
	sum := want.Sum.Uint64()
	// Read slot 1 as a signed 16-bit field: its offset is 2^15, so the
	// real sum is sum - count*2^15, a negative number.
	realSigned := int64(sum) - int64(want.Count)<<15
	big64 := big.NewInt
	for _, tc := range []struct {
		which, rel int
		threshold  *big.Int
		offset     uint64
		holds      bool
	}{
		{circuits.AggMax, circuits.RelLE, big64(int64(want.Max)), 0, true},
		{circuits.AggMax, circuits.RelLE, big64(int64(want.Max) - 1), 0, false},
		{circuits.AggCount, circuits.RelEQ, big64(0), 0, false},
		{circuits.AggCount, circuits.RelEQ, big64(int64(want.Count)), 0, true},
		{circuits.AggSum, circuits.RelGE, big64(int64(sum)), 0, true},
		{circuits.AggSum, circuits.RelLE, big64(int64(sum) - 1), 0, false},
		{circuits.AggMin, circuits.RelGE, big64(int64(want.Min) + 1), 0, false},
		{circuits.AggSum, circuits.RelEQ, big64(realSigned), 1 << 15, true},
		{circuits.AggSum, circuits.RelLE, big64(realSigned - 1), 1 << 15, false},
		{circuits.AggSum, circuits.RelLE, big64(0), 1 << 15, true},
	} {
		th, holds, err := circuits.AggregateThresholdAssignment(4, parts, blinds, tc.which, tc.rel, tc.threshold, tc.offset, el(8))
		if err != nil || holds != tc.holds {
			t.Fatalf("threshold %+v: holds %v, %v", tc, holds, err)
		}
		flipped, _, _ := circuits.AggregateThresholdAssignment(4, parts, blinds, tc.which, tc.rel, tc.threshold, tc.offset, el(8))
		flipped.Holds = 1 - flipped.Holds.(int)
		assert.CheckCircuit(circuits.NewAggregateThreshold(4), append(opts, test.WithValidAssignment(th), test.WithInvalidAssignment(flipped))...)
	}
	assert.CheckCircuit(circuits.NewAggregateTotal(4), append(opts,
		test.WithValidAssignment(total),
		test.WithInvalidAssignment(badTotal(func(a *circuits.AggregateTotal) { a.Count = want.Count + 1 })),
		test.WithInvalidAssignment(badTotal(func(a *circuits.AggregateTotal) { a.Max = want.Max + 1 })),
		test.WithInvalidAssignment(badTotal(func(a *circuits.AggregateTotal) { a.Partials[1] = el(9) })),
		// A chunk dropped from the total: its slot opened as empty.
		test.WithInvalidAssignment(badTotal(func(a *circuits.AggregateTotal) {
			a.Parts[1] = circuits.PartVars{Count: 0, Sum: 0, Min: uint64(math.MaxUint64), Max: 0, Blind: 0}
		})),
	)...)
}

func BenchmarkAggregateTotal(b *testing.B) {
	for _, k := range []int{16, 64} {
		cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, circuits.NewAggregateTotal(k))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(cs.GetNbConstraints()), fmt.Sprintf("constraints_k%d", k))
	}
}
