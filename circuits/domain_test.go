package circuits_test

import (
	"errors"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/test"
	"github.com/zkshare/zkshare/circuits"
)

// A three-value enum (low, mid, high) is 2 bits wide: encoding 3 fits the
// width and names no value. Equality clauses carry the domain maximum (2)
// in Hi.
const enumMax = 2

// enumQuery is a query over slot 0 read as the three-value enum, with pool
// constants 0 (low) and 2 (high).
func enumQuery(f *fixture, hi uint64, cls ...circuits.Clause) *circuits.Query {
	q := &circuits.Query{SchemaID: f.schema}
	for i := range q.Clauses {
		q.Clauses[i] = circuits.NeutralClause()
	}
	for i, c := range cls {
		c.Field, c.Width, c.Hi = 0, 2, hi
		q.Clauses[i] = c
	}
	q.Pool[0], q.Pool[1] = el(0), el(2)
	return q
}

var enumClauses = map[string]circuits.Clause{
	"== low":          {Op: circuits.OpIn, Mask: 0b01},
	"!= low":          {Op: circuits.OpNotIn, Mask: 0b01},
	"in (low, high)":  {Op: circuits.OpIn, Mask: 0b11},
	"not in (low, h)": {Op: circuits.OpNotIn, Mask: 0b11},
	"== high":         {Op: circuits.OpIn, Mask: 0b10},
}

// enumRows: slot 0 holds 3 (out of the domain), 2, 0 and 1.
var enumRows = [][4]fr.Element{
	{el(3), el(0), str("x"), signed8(0)},
	{el(2), el(0), str("x"), signed8(0)},
	{el(0), el(0), str("x"), signed8(0)},
	{el(1), el(0), str("x"), signed8(0)},
}

// forceEnum builds a subject witness for q on record rec without the
// native checks, claiming result.
func forceEnum(t *testing.T, f *fixture, q *circuits.Query, rec, result int) *circuits.Subject {
	r := f.records[rec]
	a, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, query(f), &r)
	if err != nil {
		t.Fatal(err)
	}
	a.Query.Header = q.Header()
	for i, c := range q.Clauses {
		a.Query.Bounds[i][0], a.Query.Bounds[i][1] = c.Lo, c.Hi
	}
	for i := range q.Pool {
		a.Query.Pool[i] = q.Pool[i]
	}
	a.QueryHash = q.Hash()
	a.Result = result
	return a
}

// TestEnumDomain: a record whose enum slot holds an encoding beyond the
// domain satisfies, and fails, no equality clause on it: neither result is
// provable. In-domain values are proven as before.
func TestEnumDomain(t *testing.T) {
	f := newFixture(t, enumRows)
	for name, c := range enumClauses {
		t.Run(name, func(t *testing.T) {
			q := enumQuery(f, enumMax, c)
			if _, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &f.records[0]); !errors.Is(err, circuits.ErrOutOfDomain) {
				t.Fatalf("native evaluation of encoding 3: got %v, want ErrOutOfDomain", err)
			}
			for _, result := range []int{0, 1} {
				if test.IsSolved(&circuits.Subject{}, forceEnum(t, f, q, 0, result), ecc.BN254.ScalarField()) == nil {
					t.Fatalf("out-of-domain encoding proven with result %d", result)
				}
			}
			// The hole this closes: with the width as the only bound (Hi 3),
			// encoding 3 was provable.
			if err := test.IsSolved(&circuits.Subject{}, forceEnum(t, f, enumQuery(f, 3, c), 0, 0), ecc.BN254.ScalarField()); err != nil && c.Op == circuits.OpIn {
				t.Fatalf("control: width-only domain: %v", err)
			}
			for rec := 1; rec < len(enumRows); rec++ {
				a, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &f.records[rec])
				if err != nil {
					t.Fatalf("record %d: %v", rec, err)
				}
				if err := test.IsSolved(&circuits.Subject{}, a, ecc.BN254.ScalarField()); err != nil {
					t.Fatalf("record %d: in-domain value not proven: %v", rec, err)
				}
			}
		})
	}
	// A clause on another field does not read the enum slot.
	other := query(f, rng(1, 64, 0, 0))
	if _, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, other, &f.records[0]); err != nil {
		t.Fatalf("a clause on another slot: %v", err)
	}
}

// TestEvalDomainAgreement: for every value and domain bound of a 2-bit
// slot, the native evaluation and the circuit agree: an error where no
// witness solves, else the same result.
func TestEvalDomainAgreement(t *testing.T) {
	f := newFixture(t, enumRows)
	vals := []uint64{3, 2, 0, 1} // enumRows' slot 0, by record
	for name, c := range enumClauses {
		for hi := uint64(0); hi <= 3; hi++ {
			q := enumQuery(f, hi, c)
			for rec, v := range vals {
				got, err := q.Eval(&f.records[rec].Values)
				if (err != nil) != (v > hi) {
					t.Fatalf("%s, hi %d, value %d: native error %v", name, hi, v, err)
				}
				for _, result := range []int{0, 1} {
					solved := test.IsSolved(&circuits.Subject{}, forceEnum(t, f, q, rec, result), ecc.BN254.ScalarField()) == nil
					if want := err == nil && (result == 1) == got; solved != want {
						t.Fatalf("%s, hi %d, value %d, result %d: solved %v, native %v %v", name, hi, v, result, solved, got, err)
					}
				}
			}
		}
	}
}

// TestAggregateEnumDomain: a chunk with an out-of-domain enum encoding in a
// row an equality clause reads is unprovable, whether the row is counted
// or not.
func TestAggregateEnumDomain(t *testing.T) {
	f := newFixture(t, rows)
	vals := func(x uint64) [][4]fr.Element {
		out := make([][4]fr.Element, 8)
		for i := range out {
			out[i][0], out[i][1] = el(uint64(i%3)), el(uint64(10*i))
		}
		out[4][0] = el(x)
		return out
	}
	region := func(x uint64) *circuits.AggRegion {
		regs, _ := regionsOf(t, vals(x), testLeaves, testInners)
		if len(regs) != 1 {
			t.Fatalf("%d regions, want 1", len(regs))
		}
		return &regs[0]
	}
	high := circuits.Clause{Op: circuits.OpIn, Mask: 0b10} // == high (2)
	q := enumQuery(f, enumMax, high)
	a, res, err := circuits.AggregateAssignment(q, slot1, region(2), testLeaves, testInners, el(4242))
	if err != nil {
		t.Fatal(err)
	}
	if err := test.IsSolved(circuits.NewAggregate(testLeaves, testInners), a, ecc.BN254.ScalarField()); err != nil {
		t.Fatalf("in-domain chunk: %v", err)
	}
	t.Logf("in domain: %+v", res)
	bad := region(3) // a record committed with encoding 3
	if _, _, err := circuits.AggregateAssignment(q, slot1, bad, testLeaves, testInners, el(4242)); !errors.Is(err, circuits.ErrOutOfDomain) {
		t.Fatalf("native aggregate over encoding 3: got %v, want ErrOutOfDomain", err)
	}
	// Control: with the width as the only bound, the record passes as not
	// equal to 2. With the domain bound, the same witness is unprovable.
	w := enumQuery(f, 3, high)
	c, _, err := circuits.AggregateAssignment(w, slot1, bad, testLeaves, testInners, el(4242))
	if err != nil {
		t.Fatal(err)
	}
	if err := test.IsSolved(circuits.NewAggregate(testLeaves, testInners), c, ecc.BN254.ScalarField()); err != nil {
		t.Fatalf("control: width-only domain: %v", err)
	}
	circuits.SetQueryForTest(c, q)
	if test.IsSolved(circuits.NewAggregate(testLeaves, testInners), c, ecc.BN254.ScalarField()) == nil {
		t.Fatal("out-of-domain record aggregated")
	}
}
