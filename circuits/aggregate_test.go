package circuits_test

import (
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/test"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/tree"
)

// aggRows is an 8-position chunk: the fixture's 4 records at positions
// 0..3, a deleted position 4, two more records, and an empty position 7.
func aggRows() []circuits.AggRow {
	vals := [][4]fr.Element{rows[0], rows[1], rows[2], rows[3], {}, {el(7), el(500), str("north"), signed8(5)}, {el(30000), el(9), str("east"), signed8(-9)}, {}}
	out := make([]circuits.AggRow, len(vals))
	for i, v := range vals {
		if i == 4 || i == 7 {
			continue
		}
		out[i] = circuits.AggRow{Live: true, Key: circuits.Digest("zkshare/key/v1", []byte{byte(i)}, 248), Salt: el(uint64(9000 + i))}
		copy(out[i].Values[:], v[:])
	}
	return out
}

func TestAggregateChunkRootIsTheTreesNode(t *testing.T) {
	f := newFixture(t, rows)
	rs := aggRows()
	m := tree.NewMemory()
	var idx []uint64
	var leaves []fr.Element
	for i, r := range rs {
		if r.Live {
			idx = append(idx, uint64(i))
			leaves = append(leaves, circuits.Leaf(f.schema, r.Key, r.Salt, &r.Values))
		}
	}
	if err := tree.SetMany(m, idx, leaves); err != nil {
		t.Fatal(err)
	}
	want, _ := tree.Node(m, 3, 0)
	if got := circuits.ChunkRoot(f.schema, rs); !got.Equal(&want) {
		t.Fatal("chunk root differs from the tree's level-3 node")
	}
	// The chunk folded with the zero hashes above it is the collection root.
	root, _ := tree.Root(m)
	cur := circuits.ChunkRoot(f.schema, rs)
	for h := 3; h < circuits.Depth; h++ {
		cur = circuits.Node(h, cur, circuits.ZeroHashes()[h])
	}
	if !cur.Equal(&root) {
		t.Fatal("chunk root and zero hashes do not give the collection root")
	}
}

func TestAggregate(t *testing.T) {
	f := newFixture(t, rows)
	rs := aggRows()
	q := query(f, rng(0, 16, 0, 30000)) // slot 0 <= 30000: positions 0, 2, 5, 6
	a, res, err := circuits.AggregateAssignment(q, 1, rs, el(4242))
	if err != nil {
		t.Fatal(err)
	}
	// Slot 1 of positions 0, 2, 5, 6: 0, 2^40, 500, 9.
	if res.Count != 4 || res.Min != 0 || res.Max != 1<<40 || !res.Sum.Equal(ptr(el(1<<40+509))) {
		t.Fatalf("native result %+v", res)
	}
	assert := test.NewAssert(t)
	opts := []test.TestingOption{test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16)}
	bad := func(mod func(a *circuits.Aggregate)) *circuits.Aggregate {
		b, _, err := circuits.AggregateAssignment(q, 1, rs, el(4242))
		if err != nil {
			t.Fatal(err)
		}
		mod(b)
		return b
	}
	rowsBad := func(mod func(rs []circuits.AggRow)) *circuits.Aggregate {
		r2 := aggRows()
		mod(r2)
		b, _, err := circuits.AggregateAssignment(q, 1, r2, el(4242))
		if err != nil {
			t.Fatal(err)
		}
		b.ChunkRoot, b.Partial = a.ChunkRoot, a.Partial // against the committed chunk and the claimed result
		return b
	}
	assert.CheckCircuit(circuits.NewAggregate(8), append(opts,
		test.WithValidAssignment(a),
		// A partial committing to another result: each of the four changed.
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Partial = withRes(res, func(r *circuits.AggResult) { r.Count-- }) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Partial = withRes(res, func(r *circuits.AggResult) { r.Sum.SetOne() }) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Partial = withRes(res, func(r *circuits.AggResult) { r.Min = 9 }) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Partial = withRes(res, func(r *circuits.AggResult) { r.Max = 500 }) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Blind = 1 })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.ChunkRoot = el(1) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.QueryHash = el(1) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Field = 0 })),
		// A record left out: called empty, so the chunk root changes.
		test.WithInvalidAssignment(rowsBad(func(rs []circuits.AggRow) { rs[1].Live = false })),
		// A record counted twice: a copy in the empty position.
		test.WithInvalidAssignment(rowsBad(func(rs []circuits.AggRow) { rs[7] = rs[0] })),
		// Two records swapped.
		test.WithInvalidAssignment(rowsBad(func(rs []circuits.AggRow) { rs[0], rs[2] = rs[2], rs[0] })),
		// A tampered value.
		test.WithInvalidAssignment(rowsBad(func(rs []circuits.AggRow) { rs[5].Values[1] = el(501) })),
	)...)

	// No record satisfies: count 0, min 2^64-1, max 0.
	none := query(f, rng(0, 16, 40000, 50000))
	_, res, err = circuits.AggregateAssignment(none, 1, rs, el(1))
	if err != nil || res.Count != 0 || res.Min != math.MaxUint64 || res.Max != 0 {
		t.Fatalf("empty result %+v, %v", res, err)
	}
	// More than AggClauses clauses cannot be aggregated.
	wide := query(f, rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000))
	if _, _, err := circuits.AggregateAssignment(wide, 1, rs, el(1)); err == nil {
		t.Fatal("aggregated a five-clause query")
	}
	// ...and a prover cannot hide a fifth clause from the circuit.
	sneaky := query(f, rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000))
	sa, _, err := circuits.AggregateAssignment(sneaky, 1, rs, el(1))
	if err != nil {
		t.Fatal(err)
	}
	fifth := query(f, rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(1, 64, 0, 5))
	circuits.SetQueryForTest(sa, fifth)
	assert.CheckCircuit(circuits.NewAggregate(8), append(opts, test.WithInvalidAssignment(sa))...)
	// A string slot cannot be summed.
	if _, _, err := circuits.AggregateAssignment(q, 2, rs, el(1)); err == nil {
		t.Fatal("aggregated a string digest")
	}
}

func ptr(e fr.Element) *fr.Element { return &e }

// withRes commits, with the tests' blind, to a changed result.
func withRes(r circuits.AggResult, mod func(*circuits.AggResult)) fr.Element {
	mod(&r)
	return r.Commit(el(4242))
}

func TestGroth16AggregateRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("Groth16 setup and proving are slow")
	}
	f := newFixture(t, rows)
	rs := aggRows()
	q := query(f, rng(0, 16, 0, 30000))
	cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, circuits.NewAggregate(8))
	if err != nil {
		t.Fatal(err)
	}
	pk, vk, err := groth16.Setup(cs)
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := circuits.AggregateAssignment(q, 1, rs, el(4242))
	if err != nil {
		t.Fatal(err)
	}
	w, err := frontend.NewWitness(a, ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	proof, err := groth16.Prove(cs, pk, w)
	if err != nil {
		t.Fatal(err)
	}
	public := func(mod func(p *circuits.Aggregate)) error {
		p := circuits.NewAggregate(8)
		p.ChunkRoot, p.QueryHash, p.Field, p.Partial = a.ChunkRoot, a.QueryHash, a.Field, a.Partial
		mod(p)
		pw, err := frontend.NewWitness(p, ecc.BN254.ScalarField(), frontend.PublicOnly())
		if err != nil {
			t.Fatal(err)
		}
		return groth16.Verify(proof, vk, pw)
	}
	if err := public(func(*circuits.Aggregate) {}); err != nil {
		t.Fatalf("valid aggregate proof rejected: %v", err)
	}
	for name, mod := range map[string]func(p *circuits.Aggregate){
		"partial": func(p *circuits.Aggregate) { p.Partial = el(5) },
		"root":    func(p *circuits.Aggregate) { p.ChunkRoot = el(2) },
		"field":   func(p *circuits.Aggregate) { p.Field = 0 },
		"query":   func(p *circuits.Aggregate) { p.QueryHash = el(3) },
	} {
		if err := public(mod); err == nil {
			t.Errorf("proof verified with another %s", name)
		}
	}
	t.Logf("aggregate over 8 positions: %d constraints", cs.GetNbConstraints())
}

// BenchmarkAggregate reports constraints per row (from the difference
// between a 16- and a 64-row chunk) and proves the 64-row chunk: rows/s.
func BenchmarkAggregate(b *testing.B) {
	count := func(n int) int {
		cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, circuits.NewAggregate(n))
		if err != nil {
			b.Fatal(err)
		}
		return cs.GetNbConstraints()
	}
	c16, c64 := count(16), count(64)
	f := newFixture(b, rows)
	q := query(f, rng(0, 16, 0, 30000))
	rs := make([]circuits.AggRow, 64)
	for i := range rs {
		rs[i] = circuits.AggRow{Live: i%7 != 3, Key: el(uint64(i + 1)), Salt: el(uint64(i + 100))}
		rs[i].Values[0], rs[i].Values[1] = el(uint64(i*1000%40000)), el(uint64(i*i))
	}
	cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, circuits.NewAggregate(64))
	if err != nil {
		b.Fatal(err)
	}
	pk, _, err := groth16.Setup(cs)
	if err != nil {
		b.Fatal(err)
	}
	a, _, err := circuits.AggregateAssignment(q, 1, rs, el(4242))
	if err != nil {
		b.Fatal(err)
	}
	w, err := frontend.NewWitness(a, ecc.BN254.ScalarField())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := groth16.Prove(cs, pk, w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c64-c16)/48, "constraints/row")
	b.ReportMetric(float64(c64), "constraints")
	b.ReportMetric(64*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestAggregateChunks splits a 24-record collection into three 8-position
// chunks: each chunk proof hides its partial; the total opens and combines
// them; the chunk roots compose to the collection root.
func TestAggregateChunks(t *testing.T) {
	f := newFixture(t, rows)
	q := query(f, rng(0, 16, 0, 30000))
	all := make([]circuits.AggRow, 24)
	var idx []uint64
	var leaves []fr.Element
	for i := range all {
		all[i] = circuits.AggRow{Live: i%5 != 4, Key: el(uint64(i + 1)), Salt: el(uint64(500 + i))}
		all[i].Values[0], all[i].Values[1] = el(uint64(i*2000)), el(uint64(3*i+1))
		if all[i].Live {
			idx = append(idx, uint64(i))
			leaves = append(leaves, circuits.Leaf(f.schema, all[i].Key, all[i].Salt, &all[i].Values))
		}
	}
	m := tree.NewMemory()
	if err := tree.SetMany(m, idx, leaves); err != nil {
		t.Fatal(err)
	}
	anchored, _ := tree.Root(m)

	assert := test.NewAssert(t)
	opts := []test.TestingOption{test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16)}
	var roots []fr.Element
	var parts []circuits.AggResult
	var blinds []fr.Element
	for c := 0; c < 3; c++ {
		blind := el(uint64(77 + c))
		a, res, err := circuits.AggregateAssignment(q, 1, all[8*c:8*c+8], blind)
		if err != nil {
			t.Fatal(err)
		}
		assert.CheckCircuit(circuits.NewAggregate(8), append(opts, test.WithValidAssignment(a))...)
		roots, parts, blinds = append(roots, a.ChunkRoot.(fr.Element)), append(parts, res), append(blinds, blind)
	}
	if got := circuits.ComposeRoot(3, roots); !got.Equal(&anchored) {
		t.Fatal("chunk roots do not compose to the collection root")
	}
	if got := circuits.ComposeRoot(3, roots[:2]); got.Equal(&anchored) {
		t.Fatal("a chunk left out still composes to the collection root")
	}
	// Ground truth straight from the rows: slot 0 <= 30000 means i <= 15.
	var want circuits.AggResult
	want.Min = math.MaxUint64
	for i, r := range all {
		if r.Live && i*2000 <= 30000 {
			v := uint64(3*i + 1)
			want.Count++
			want.Sum.Add(&want.Sum, ptr(el(v)))
			want.Min, want.Max = min(want.Min, v), max(want.Max, v)
		}
	}
	total, res, err := circuits.AggregateTotalAssignment(4, parts, blinds)
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != want.Count || !res.Sum.Equal(&want.Sum) || res.Min != want.Min || res.Max != want.Max {
		t.Fatalf("combined %+v, want %+v", res, want)
	}
	if total.Partials[3] != circuits.EmptyPartial() {
		t.Fatal("unused slot is not the empty partial")
	}
	badTotal := func(mod func(a *circuits.AggregateTotal)) *circuits.AggregateTotal {
		b, _, err := circuits.AggregateTotalAssignment(4, parts, blinds)
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
	big64 := func(v int64) *big.Int { return big.NewInt(v) }
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
		th, holds, err := circuits.AggregateThresholdAssignment(4, parts, blinds, tc.which, tc.rel, tc.threshold, tc.offset)
		if err != nil || holds != tc.holds {
			t.Fatalf("threshold %+v: holds %v, %v", tc, holds, err)
		}
		flipped, _, _ := circuits.AggregateThresholdAssignment(4, parts, blinds, tc.which, tc.rel, tc.threshold, tc.offset)
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
			a.Parts[2] = circuits.PartVars{Count: 0, Sum: 0, Min: uint64(math.MaxUint64), Max: 0, Blind: 0}
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
