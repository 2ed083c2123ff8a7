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
		out[i] = circuits.AggRow{Live: true}
		copy(out[i].Values[:], v[:])
	}
	return out
}

func TestAggregate(t *testing.T) {
	f := newFixture(t, rows)
	rs := aggRows()
	q := query(f, rng(0, 16, 0, 30000)) // slot 0 <= 30000: positions 0, 2, 5, 6
	mk := func(q *circuits.Query, rs []circuits.AggRow) (*circuits.Aggregate, circuits.AggResult) {
		a, res, err := circuits.AggregateAssignment(q, slot1, rs, el(99), el(4242), el(7))
		if err != nil {
			t.Fatal(err)
		}
		return a, res
	}
	a, res := mk(q, rs)
	// Slot 1 of positions 0, 2, 5, 6: 0, 2^40, 500, 9.
	if res.Count != 4 || res.Min != 0 || res.Max != 1<<40 || !res.Sum.Equal(ptr(el(1<<40+509))) {
		t.Fatalf("native result %+v", res)
	}
	assert := test.NewAssert(t)
	opts := []test.TestingOption{test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16)}
	bad := func(mod func(a *circuits.Aggregate)) *circuits.Aggregate {
		b, _ := mk(q, rs)
		mod(b)
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
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.QueryHash = el(1) })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Field = 0 })),
		// A live flag that is not a bit, and a value beyond 64 bits.
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Rows[0].Live = 2 })),
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.Rows[1].Values[1] = new(big.Int).Lsh(big.NewInt(1), 64) })),
		// The aggregated field declared narrower than its values (2^40 needs 41 bits).
		test.WithInvalidAssignment(bad(func(b *circuits.Aggregate) { b.FieldWidth = 40 })),
	)...)
	// A value a clause reads beyond the clause's declared width: 300 in an
	// 8-bit slot is in [0, 1000] as a number, and still unprovable.
	w8 := query(f, rng(3, 8, 0, 1000))
	wa, _ := mk(w8, rs)
	wide8, _ := mk(w8, rs)
	wide8.Rows[0].Values[3] = 300
	assert.CheckCircuit(circuits.NewAggregate(8), append(opts, test.WithValidAssignment(wa), test.WithInvalidAssignment(wide8))...)

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
		a, res := mk(cq, rs)
		t.Logf("%s: %+v", name, res)
		wrong := *a
		wrong.Partial = withRes(res, func(r *circuits.AggResult) { r.Count++ })
		assert.CheckCircuit(circuits.NewAggregate(8), append(opts, test.WithValidAssignment(a), test.WithInvalidAssignment(&wrong))...)
	}

	// No record satisfies: count 0, min 2^64-1, max 0.
	_, res = mk(query(f, rng(0, 16, 40000, 50000)), rs)
	if res.Count != 0 || res.Min != math.MaxUint64 || res.Max != 0 {
		t.Fatalf("empty result %+v", res)
	}
	// More than AggClauses clauses cannot be aggregated.
	wide := query(f, rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000))
	if _, _, err := circuits.AggregateAssignment(wide, slot1, rs, el(1), el(1), el(1)); err == nil {
		t.Fatal("aggregated a five-clause query")
	}
	// ...and a prover cannot hide a fifth clause from the circuit.
	sneaky := query(f, rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000))
	sa, _ := mk(sneaky, rs)
	fifth := query(f, rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(0, 16, 0, 30000), rng(1, 64, 0, 5))
	circuits.SetQueryForTest(sa, fifth)
	assert.CheckCircuit(circuits.NewAggregate(8), append(opts, test.WithInvalidAssignment(sa))...)
	// A string slot cannot be summed.
	if _, _, err := circuits.AggregateAssignment(q, circuits.AggField{Slot: 2, Width: 64}, rs, el(1), el(1), el(1)); err == nil {
		t.Fatal("aggregated a string digest")
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

// TestGroth16AggregateColumns proves a chunk with real keys: the proof's
// column commitment is the one the holder computes from the rows and salt,
// and every way of changing the rows (a record left out, counted twice,
// swapped, tampered, or another salt) gives another commitment, which the
// verifier will not find anchored.
func TestGroth16AggregateColumns(t *testing.T) {
	if testing.Short() {
		t.Skip("Groth16 setup and proving are slow")
	}
	f := newFixture(t, rows)
	q := query(f, rng(0, 16, 0, 30000))
	cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, circuits.NewAggregate(8))
	if err != nil {
		t.Fatal(err)
	}
	pk, vk, err := groth16.Setup(cs)
	if err != nil {
		t.Fatal(err)
	}
	basis, err := circuits.ColumnBasisOf(pk, 8)
	if err != nil {
		t.Fatal(err)
	}
	salt := el(31337)
	anchored, err := basis.Commit(aggRows(), salt)
	if err != nil {
		t.Fatal(err)
	}
	prove := func(rs []circuits.AggRow, salt fr.Element) (groth16.Proof, *circuits.Aggregate) {
		a, _, err := circuits.AggregateAssignment(q, slot1, rs, salt, el(4242), el(5))
		if err != nil {
			t.Fatal(err)
		}
		w, err := frontend.NewWitness(a, ecc.BN254.ScalarField())
		if err != nil {
			t.Fatal(err)
		}
		proof, err := groth16.Prove(cs, pk, w, circuits.AggregateProverOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		return proof, a
	}
	proof, a := prove(aggRows(), salt)
	got, err := circuits.ProofColumns(proof)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(&anchored) {
		t.Fatal("the proof's column commitment is not the holder's")
	}
	public := func(mod func(p *circuits.Aggregate)) error {
		p := circuits.NewAggregate(8)
		p.QueryHash, p.Field, p.FieldWidth, p.Partial = a.QueryHash, a.Field, a.FieldWidth, a.Partial
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
		"field":   func(p *circuits.Aggregate) { p.Field = 0 },
		"query":   func(p *circuits.Aggregate) { p.QueryHash = el(3) },
		"width":   func(p *circuits.Aggregate) { p.FieldWidth = 63 },
	} {
		if err := public(mod); err == nil {
			t.Errorf("proof verified with another %s", name)
		}
	}
	for name, mod := range map[string]func(rs []circuits.AggRow){
		"record left out":   func(rs []circuits.AggRow) { rs[1].Live = false },
		"record twice":      func(rs []circuits.AggRow) { rs[7] = rs[0] },
		"records swapped":   func(rs []circuits.AggRow) { rs[0], rs[2] = rs[2], rs[0] },
		"value tampered":    func(rs []circuits.AggRow) { rs[5].Values[1] = el(501) },
		"superseded value":  func(rs []circuits.AggRow) { rs[6].Values[0] = el(29999) },
		"deleted record":    func(rs []circuits.AggRow) { rs[4] = rs[5] },
		"another salt only": nil,
	} {
		rs, s := aggRows(), salt
		if mod != nil {
			mod(rs)
		} else {
			s = el(31338)
		}
		p, _ := prove(rs, s)
		d, err := circuits.ProofColumns(p)
		if err != nil {
			t.Fatal(err)
		}
		if d.Equal(&anchored) {
			t.Errorf("%s: same column commitment", name)
		}
		if want, _ := basis.Commit(rs, s); !d.Equal(&want) {
			t.Errorf("%s: proof and native commitments differ", name)
		}
	}
	t.Logf("aggregate over 8 positions: %d constraints", cs.GetNbConstraints())
}

// BenchmarkAggregate reports constraints per row (from the difference
// between a 64- and a 256-row chunk) and proves a chunk of each size: rows/s.
func BenchmarkAggregate(b *testing.B) {
	count := func(n int) int {
		cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, circuits.NewAggregate(n))
		if err != nil {
			b.Fatal(err)
		}
		return cs.GetNbConstraints()
	}
	perRow := float64(count(256)-count(64)) / 192
	f := newFixture(b, rows)
	q := query(f, rng(0, 16, 0, 30000))
	for _, n := range []int{256, 1024} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			rs := make([]circuits.AggRow, n)
			for i := range rs {
				rs[i] = circuits.AggRow{Live: i%7 != 3}
				rs[i].Values[0], rs[i].Values[1] = el(uint64(i*1000%40000)), el(uint64(i*i))
			}
			cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, circuits.NewAggregate(n))
			if err != nil {
				b.Fatal(err)
			}
			pk, _, err := groth16.Setup(cs)
			if err != nil {
				b.Fatal(err)
			}
			a, _, err := circuits.AggregateAssignment(q, slot1, rs, el(1), el(4242), el(2))
			if err != nil {
				b.Fatal(err)
			}
			w, err := frontend.NewWitness(a, ecc.BN254.ScalarField())
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := groth16.Prove(cs, pk, w, circuits.AggregateProverOptions()...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cs.GetNbConstraints()), "constraints")
			b.ReportMetric(perRow, "constraints/row")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// TestAggregateChunks splits a 24-record collection into three 8-position
// chunks: each chunk proof hides its partial; the total opens and combines
// them.
func TestAggregateChunks(t *testing.T) {
	f := newFixture(t, rows)
	q := query(f, rng(0, 16, 0, 30000))
	all := make([]circuits.AggRow, 24)
	for i := range all {
		all[i] = circuits.AggRow{Live: i%5 != 4}
		all[i].Values[0], all[i].Values[1] = el(uint64(i*2000)), el(uint64(3*i+1))
	}

	assert := test.NewAssert(t)
	opts := []test.TestingOption{test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16)}
	var parts []circuits.AggResult
	var blinds []fr.Element
	for c := 0; c < 3; c++ {
		blind := el(uint64(77 + c))
		a, res, err := circuits.AggregateAssignment(q, slot1, all[8*c:8*c+8], el(uint64(c)), blind, el(3))
		if err != nil {
			t.Fatal(err)
		}
		assert.CheckCircuit(circuits.NewAggregate(8), append(opts, test.WithValidAssignment(a))...)
		parts, blinds = append(parts, res), append(blinds, blind)
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
	total, res, small, err := circuits.AggregateTotalAssignment(4, parts, blinds, 0, el(8))
	if err != nil {
		t.Fatal(err)
	}
	if small || res.Count != want.Count || !res.Sum.Equal(&want.Sum) || res.Min != want.Min || res.Max != want.Max {
		t.Fatalf("combined %+v, want %+v", res, want)
	}
	if total.Partials[3] != circuits.EmptyPartial() {
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
