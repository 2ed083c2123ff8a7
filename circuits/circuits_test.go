package circuits_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/test"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/tree"
	"github.com/zkshare/zkshare/zkhash"
)

// fixture is a small committed collection: slot 0 is an unsigned 16-bit
// value, slot 1 a 64-bit one, slot 2 a string digest, slot 3 a signed 8-bit
// value (offset encoding).
type fixture struct {
	schema, collection, nonce, blind fr.Element
	records                          []circuits.Record
	store                            *tree.Memory
}

func el(v uint64) fr.Element { var e fr.Element; e.SetUint64(v); return e }

func str(s string) fr.Element {
	return zkhash.Digest("zkshare/string/v1", []byte(s), circuits.StringBits)
}

func newFixture(t testing.TB, rows [][4]fr.Element) *fixture {
	f := &fixture{schema: el(77), collection: el(1001), nonce: el(555), blind: el(0xb11d), store: tree.NewMemory()}
	var ch []tree.Change
	for i, row := range rows {
		r := circuits.Record{Key: zkhash.Digest("zkshare/key/v1", []byte{byte(i)}, 248), Salt: el(uint64(9000 + i))}
		copy(r.Values[:], row[:])
		f.records = append(f.records, r)
		ch = append(ch, tree.Change{Path: zkhash.KeyPath(r.Key), Leaf: r.Leaf(f.schema)})
	}
	if _, err := tree.Apply(context.Background(), f.store, ch); err != nil {
		t.Fatal(err)
	}
	for i := range f.records {
		f.prove(t, &f.records[i])
	}
	return f
}

// prove fills in a record's depth and siblings from the fixture's tree.
func (f *fixture) prove(t testing.TB, r *circuits.Record) {
	t.Helper()
	p, err := tree.Prove(f.store, zkhash.KeyPath(r.Key))
	if err != nil {
		t.Fatal(err)
	}
	r.Depth, r.Siblings = p.Depth, p.Siblings
}

// set commits a record (a new version when its key is present).
func (f *fixture) set(t testing.TB, r *circuits.Record) {
	t.Helper()
	if _, err := tree.Apply(context.Background(), f.store, []tree.Change{{Op: tree.Update, Path: zkhash.KeyPath(r.Key), Leaf: r.Leaf(f.schema)}}); err != nil {
		t.Fatal(err)
	}
	f.prove(t, r)
}

func (f *fixture) root() fr.Element { r, _ := tree.Root(f.store); return r }

func signed8(v int64) fr.Element { return el(uint64(v + 128)) }

var rows = [][4]fr.Element{
	{el(0), el(0), str("north"), signed8(-128)},
	{el(65535), el(^uint64(0)), str("east"), signed8(127)},
	{el(30000), el(1 << 40), str("south"), signed8(-1)},
	{el(30001), el(12), str("west"), signed8(0)},
}

func query(f *fixture, cls ...circuits.Clause) *circuits.Query {
	q := &circuits.Query{SchemaID: f.schema}
	for i := range q.Clauses {
		q.Clauses[i] = circuits.NeutralClause()
	}
	copy(q.Clauses[:], cls)
	q.Pool[0], q.Pool[1], q.Pool[2] = str("north"), str("east"), el(30000)
	return q
}

func rng(field, width uint8, lo, hi uint64) circuits.Clause {
	return circuits.Clause{Field: field, Op: circuits.OpRange, Width: width, Lo: lo, Hi: hi}
}

func TestSubjectClauses(t *testing.T) {
	f := newFixture(t, rows)
	strIn := circuits.Clause{Field: 2, Op: circuits.OpIn, String: true, Mask: 0b011}
	strNotIn := circuits.Clause{Field: 2, Op: circuits.OpNotIn, String: true, Mask: 0b011}
	numEq := circuits.Clause{Field: 0, Op: circuits.OpIn, Width: 16, Hi: 65535, Mask: 0b100}
	numNe := circuits.Clause{Field: 0, Op: circuits.OpNotIn, Width: 16, Hi: 65535, Mask: 0b100}
	cases := []struct {
		name   string
		record int
		cls    []circuits.Clause
		want   bool
	}{
		{"no clauses", 0, nil, true},
		{"<= at equality", 2, []circuits.Clause{rng(0, 16, 0, 30000)}, true},
		{"<= just above", 3, []circuits.Clause{rng(0, 16, 0, 30000)}, false},
		{">= zero", 0, []circuits.Clause{rng(0, 16, 0, 65535)}, true},
		{"width max", 1, []circuits.Clause{rng(0, 16, 65535, 65535)}, true},
		{"64-bit max", 1, []circuits.Clause{rng(1, 64, 1<<40, ^uint64(0))}, true},
		{"64-bit below", 2, []circuits.Clause{rng(1, 64, 1<<40+1, ^uint64(0))}, false},
		{"empty range", 0, []circuits.Clause{rng(0, 16, 1, 0)}, false},
		{"negative below zero", 2, []circuits.Clause{rng(3, 8, 0, 127)}, true}, // -1 < 0
		{"negative min", 0, []circuits.Clause{rng(3, 8, 0, 0)}, true},          // == -128
		{"zero not negative", 3, []circuits.Clause{rng(3, 8, 0, 127)}, false},  // 0 < 0 false
		{"string in", 1, []circuits.Clause{strIn}, true},
		{"string not in", 1, []circuits.Clause{strNotIn}, false},
		{"string in false", 2, []circuits.Clause{strIn}, false},
		{"string not in true", 3, []circuits.Clause{strNotIn}, true},
		{"number ==", 2, []circuits.Clause{numEq}, true},
		{"number == false", 3, []circuits.Clause{numEq}, false},
		{"number !=", 3, []circuits.Clause{numNe}, true},
		{"conjunction true", 2, []circuits.Clause{rng(0, 16, 0, 30000), strNotIn, numEq}, true},
		{"conjunction one false", 2, []circuits.Clause{rng(0, 16, 0, 30000), strIn, numEq}, false},
		{"eight clauses", 2, []circuits.Clause{numEq, numEq, numEq, numEq, numEq, numEq, numEq, rng(1, 64, 0, 1<<40)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := query(f, tc.cls...)
			a, got, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &f.records[tc.record])
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("native result %v, want %v", got, tc.want)
			}
			if err := test.IsSolved(&circuits.Subject{}, a, ecc.BN254.ScalarField()); err != nil {
				t.Fatalf("valid witness not solved: %v", err)
			}
			// The opposite result must not be provable.
			a.Result = 1 - a.Result.(int)
			if test.IsSolved(&circuits.Subject{}, a, ecc.BN254.ScalarField()) == nil {
				t.Fatal("the opposite result was proven")
			}
		})
	}
}

// TestSubjectNegative tampers with one thing at a time; none may solve.
func TestSubjectNegative(t *testing.T) {
	f := newFixture(t, rows)
	q := query(f, rng(0, 16, 0, 30000))
	valid := func() *circuits.Subject {
		a, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &f.records[2])
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	other := query(f, rng(0, 16, 0, 30001))
	cases := map[string]func(a *circuits.Subject){
		"wrong root": func(a *circuits.Subject) { a.Root = el(1) },
		"wrong key": func(a *circuits.Subject) {
			a.KeyCommitment = zkhash.KeyCommitment(f.collection, f.records[3].Key, f.nonce, f.blind)
		},
		"other nonce":         func(a *circuits.Subject) { a.Nonce = el(556) },
		"other collection":    func(a *circuits.Subject) { a.CollectionID = el(1002) },
		"tampered value":      func(a *circuits.Subject) { a.Record.Values[0] = 29999 },
		"tampered salt":       func(a *circuits.Subject) { a.Record.Salt = 1 },
		"query hash mismatch": func(a *circuits.Subject) { a.QueryHash = other.Hash() },
		"other query, same hash": func(a *circuits.Subject) {
			a.Query.Bounds[0][1] = 30001
		},
		"wrong depth":    func(a *circuits.Subject) { a.Record.Depth = 3 },
		"depth too deep": func(a *circuits.Subject) { a.Record.Depth = circuits.Depth + 1 },
		"negative depth": func(a *circuits.Subject) { a.Record.Depth = -1 },
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			a := valid()
			tamper(a)
			if test.IsSolved(&circuits.Subject{}, a, ecc.BN254.ScalarField()) == nil {
				t.Fatal("tampered witness solved")
			}
		})
	}
}

func TestSupersededVersion(t *testing.T) {
	f := newFixture(t, rows)
	old := f.records[2]
	// The holder updates record 2: new value, new salt, same key.
	upd := old
	upd.Values[0] = el(40000)
	upd.Salt = el(123456)
	f.set(t, &upd)
	q := query(f, rng(0, 16, 0, 30000))
	// A prover holding the old version and its old path cannot reach the new root.
	if _, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &old); err == nil {
		t.Fatal("native witness built from a superseded version")
	}
	oldRoot, err := old.Root(f.schema)
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := circuits.SubjectAssignment(f.collection, oldRoot, f.nonce, f.blind, q, &old)
	if err != nil {
		t.Fatal(err)
	}
	a.Root = f.root()
	if test.IsSolved(&circuits.Subject{}, a, ecc.BN254.ScalarField()) == nil {
		t.Fatal("superseded version proven against the new root")
	}
	// Even with the fresh path, the old leaf is not in the tree.
	f.prove(t, &old)
	r2, _ := old.Root(f.schema)
	a2, _, _ := circuits.SubjectAssignment(f.collection, r2, f.nonce, f.blind, q, &old)
	a2.Root = f.root()
	if test.IsSolved(&circuits.Subject{}, a2, ecc.BN254.ScalarField()) == nil {
		t.Fatal("superseded version with fresh siblings proven")
	}
}

// TestEquivocation: a holder that puts a second leaf with key K into the
// tree, at a place that is not K's, cannot prove anything about it: the
// subject circuit walks K's own path, so only the leaf there answers.
func TestEquivocation(t *testing.T) {
	f := newFixture(t, rows)
	honest := f.records[2]
	// A second version of key 2, hidden at the place of another key path.
	twin := honest
	twin.Values[0] = el(40000)
	twin.Salt = el(31337)
	fake := zkhash.KeyPath(honest.Key) ^ 1<<40
	if _, err := tree.Apply(context.Background(), f.store, []tree.Change{{Path: fake, Leaf: twin.Leaf(f.schema)}}); err != nil {
		t.Fatal(err)
	}
	q := query(f, rng(0, 16, 0, 30000))
	f.prove(t, &honest)
	if _, ok, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &honest); err != nil || !ok {
		t.Fatalf("the honest record: ok %v, %v", ok, err)
	}
	// The twin's path to the root exists, but at the fake key path.
	p, err := tree.Prove(f.store, fake)
	if err != nil {
		t.Fatal(err)
	}
	twin.Depth, twin.Siblings = p.Depth, p.Siblings
	if _, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &twin); err == nil {
		t.Fatal("native witness for the hidden twin")
	}
	// In circuit: the twin's siblings and depth from the fake place, walked
	// by its key's own bits, lead elsewhere.
	wrong, _ := twin.Root(f.schema)
	a, _, err := circuits.SubjectAssignment(f.collection, wrong, f.nonce, f.blind, q, &twin)
	if err != nil {
		t.Fatal(err)
	}
	a.Root = f.root()
	if test.IsSolved(&circuits.Subject{}, a, ecc.BN254.ScalarField()) == nil {
		t.Fatal("the hidden twin answered for key 2")
	}
	// And the key is not provably absent either.
	abs, err := tree.Prove(f.store, zkhash.KeyPath(honest.Key))
	if err != nil {
		t.Fatal(err)
	}
	if abs.End.Kind != tree.Leaf {
		t.Fatal("key 2's walk does not end on its leaf")
	}
}

func TestOutOfWidthValue(t *testing.T) {
	// The holder committed 70000 in a field the schema declares 16 bits wide.
	bad := [][4]fr.Element{{el(70000), el(0), str("x"), signed8(0)}}
	f := newFixture(t, bad)
	q := query(f, rng(0, 16, 0, 65535))
	if _, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &f.records[0]); !errors.Is(err, circuits.ErrOutOfWidth) {
		t.Fatalf("native evaluation: got %v, want ErrOutOfWidth", err)
	}
	for _, result := range []int{0, 1} {
		a := forceSubject(f, q, 0, result)
		if test.IsSolved(&circuits.Subject{}, a, ecc.BN254.ScalarField()) == nil {
			t.Fatalf("out-of-width value proven with result %d", result)
		}
	}
	// A field element that wraps around (p-1 looks like "-1") is refused too.
	var minusOne fr.Element
	minusOne.SetOne().Neg(&minusOne)
	g := newFixture(t, [][4]fr.Element{{minusOne, el(0), str("x"), signed8(0)}})
	for _, result := range []int{0, 1} {
		if test.IsSolved(&circuits.Subject{}, forceSubject(g, query(g, rng(0, 16, 0, 10)), 0, result), ecc.BN254.ScalarField()) == nil {
			t.Fatal("wrapped field element proven")
		}
	}
}

// forceSubject builds a witness without the native checks.
func forceSubject(f *fixture, q *circuits.Query, rec int, result int) *circuits.Subject {
	r := f.records[rec]
	nq := *q
	for i := range nq.Clauses {
		if nq.Clauses[i].Op == circuits.OpRange {
			nq.Clauses[i].Op = circuits.OpTrue // keep Eval quiet, restore below
		}
	}
	a, _, _ := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, &nq, &r)
	full, _, _ := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, query(f), &r)
	if a == nil {
		a = full
	}
	a.Query.Header = q.Header()
	a.QueryHash = q.Hash()
	a.Result = result
	return a
}

func TestMaliciousComparisonHint(t *testing.T) {
	f := newFixture(t, rows)
	q := query(f, rng(0, 16, 0, 30000))
	a, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &f.records[3]) // 30001: false
	if err != nil {
		t.Fatal(err)
	}
	a.Result = 1
	liar := func(_ *big.Int, in, out []*big.Int) error {
		out[0].SetUint64(1) // always claims a <= b
		return nil
	}
	if test.IsSolved(&circuits.Subject{}, a, ecc.BN254.ScalarField(), test.WithReplacementHint(circuits.SolverIDForTest(), liar)) == nil {
		t.Fatal("lying comparison hint proved 30001 <= 30000")
	}
}

func TestExists(t *testing.T) {
	f := newFixture(t, rows)
	q := query(f, circuits.Clause{Field: 2, Op: circuits.OpIn, String: true, Mask: 0b10}, rng(1, 64, 1<<63, ^uint64(0)))
	a, err := circuits.ExistsAssignment(f.collection, f.root(), f.nonce, q, &f.records[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := test.IsSolved(&circuits.Exists{}, a, ecc.BN254.ScalarField()); err != nil {
		t.Fatal(err)
	}
	if _, err := circuits.ExistsAssignment(f.collection, f.root(), f.nonce, q, &f.records[0]); err == nil {
		t.Fatal("exists witness built from a record that does not satisfy the query")
	}
	// Forcing a non-satisfying record through must not solve.
	b, _ := circuits.ExistsAssignment(f.collection, f.root(), f.nonce, query(f), &f.records[0])
	b.QueryHash = q.Hash()
	b.Query.Header = q.Header()
	b.Query.Bounds[1] = [2]frontend.Variable{uint64(1 << 63), ^uint64(0)}
	if test.IsSolved(&circuits.Exists{}, b, ecc.BN254.ScalarField()) == nil {
		t.Fatal("exists proven for a record that does not satisfy the query")
	}
	for name, tamper := range map[string]func(a *circuits.Exists){
		"wrong root":  func(a *circuits.Exists) { a.Root = el(3) },
		"query hash":  func(a *circuits.Exists) { a.QueryHash = query(f).Hash() },
		"other value": func(a *circuits.Exists) { a.Record.Values[2] = str("north") },
	} {
		c, _ := circuits.ExistsAssignment(f.collection, f.root(), f.nonce, q, &f.records[1])
		tamper(c)
		if test.IsSolved(&circuits.Exists{}, c, ecc.BN254.ScalarField()) == nil {
			t.Fatalf("%s: tampered exists witness solved", name)
		}
	}
}

// TestProveVerify runs full Groth16 proving and verification, with valid and
// invalid assignments, for both circuits.
func TestProveVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("full Groth16 prove/verify is slow")
	}
	f := newFixture(t, rows)
	q := query(f, rng(0, 16, 0, 30000), circuits.Clause{Field: 2, Op: circuits.OpNotIn, String: true, Mask: 0b11})
	yes, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &f.records[2])
	if err != nil {
		t.Fatal(err)
	}
	no, _, _ := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &f.records[0]) // north: false
	wrongNonce, _, _ := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &f.records[2])
	wrongNonce.Nonce = el(1)
	assert := test.NewAssert(t)
	assert.CheckCircuit(&circuits.Subject{},
		test.WithValidAssignment(yes), test.WithValidAssignment(no),
		test.WithInvalidAssignment(wrongNonce),
		test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16), test.NoFuzzing(), test.NoSerializationChecks())

	e, err := circuits.ExistsAssignment(f.collection, f.root(), f.nonce, q, &f.records[2])
	if err != nil {
		t.Fatal(err)
	}
	eBad, _ := circuits.ExistsAssignment(f.collection, f.root(), f.nonce, q, &f.records[2])
	eBad.Root = el(5)
	assert.CheckCircuit(&circuits.Exists{},
		test.WithValidAssignment(e), test.WithInvalidAssignment(eBad),
		test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16), test.NoFuzzing(), test.NoSerializationChecks())
}

func absence(t *testing.T, f *fixture, key fr.Element) *circuits.Absence {
	t.Helper()
	p, err := tree.Prove(f.store, zkhash.KeyPath(key))
	if err != nil {
		t.Fatal(err)
	}
	a := &circuits.Absence{Key: key, Depth: p.Depth, Siblings: p.Siblings}
	if p.End.Kind == tree.Leaf {
		for i := range f.records {
			if zkhash.KeyPath(f.records[i].Key) == p.End.Path {
				r := &f.records[i]
				in := zkhash.LeafInput(f.schema, r.Key, r.Salt, &r.Values)
				a.Other = &in
			}
		}
	}
	return a
}

func TestAbsent(t *testing.T) {
	f := newFixture(t, rows)
	missing := zkhash.Digest("zkshare/key/v1", []byte("nobody"), 248)
	a, err := circuits.AbsentAssignment(f.collection, f.root(), f.nonce, f.blind, absence(t, f, missing))
	if err != nil {
		t.Fatal(err)
	}
	assert := test.NewAssert(t)
	assert.CheckCircuit(&circuits.Absent{}, test.WithValidAssignment(a), test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16), test.NoFuzzing(), test.NoSerializationChecks())

	// A key whose walk ends on another key's leaf, and one on an empty slot.
	var onLeaf, onEmpty bool
	for i := range 200 {
		k := zkhash.Digest("zkshare/key/v1", []byte{byte(i), 0xee}, 248)
		ab := absence(t, f, k)
		onLeaf, onEmpty = onLeaf || ab.Other != nil, onEmpty || ab.Other == nil
		w, err := circuits.AbsentAssignment(f.collection, f.root(), f.nonce, f.blind, ab)
		if err != nil {
			t.Fatal(err)
		}
		if err := test.IsSolved(&circuits.Absent{}, w, ecc.BN254.ScalarField()); err != nil {
			t.Fatalf("absent key %d: %v", i, err)
		}
	}
	// Keys that share a long prefix with a record leave chain nodes with
	// an empty side: search for one whose walk ends there.
	for i := 0; !onEmpty && i < 1<<16; i++ {
		k := zkhash.Digest("zkshare/key/v1", []byte{byte(i), byte(i >> 8), 1}, 248)
		if zkhash.KeyPath(k)>>58 != zkhash.KeyPath(f.records[0].Key)>>58 {
			continue
		}
		if _, err := tree.Apply(context.Background(), f.store, []tree.Change{{Path: zkhash.KeyPath(k), Leaf: el(uint64(i))}}); err != nil {
			t.Fatal(err)
		}
		f.records = append(f.records, circuits.Record{Key: k})
		for j := range 200 {
			probe := zkhash.Digest("zkshare/key/v1", []byte{byte(j), 0xef}, 248)
			ab := absence(t, f, probe)
			if ab.Other == nil && ab.Depth > 0 {
				onEmpty = true
				w, err := circuits.AbsentAssignment(f.collection, f.root(), f.nonce, f.blind, ab)
				if err != nil {
					t.Fatal(err)
				}
				if err := test.IsSolved(&circuits.Absent{}, w, ecc.BN254.ScalarField()); err != nil {
					t.Fatalf("absent on an empty slot: %v", err)
				}
				break
			}
		}
		break
	}
	if !onLeaf || !onEmpty {
		t.Fatalf("walks ending on a leaf %v, on an empty slot %v: want both", onLeaf, onEmpty)
	}
	// The empty collection: the root itself is the empty slot.
	w0, err := circuits.AbsentAssignment(f.collection, fr.Element{}, f.nonce, f.blind, &circuits.Absence{Key: missing})
	if err != nil {
		t.Fatal(err)
	}
	if err := test.IsSolved(&circuits.Absent{}, w0, ecc.BN254.ScalarField()); err != nil {
		t.Fatalf("absent from an empty collection: %v", err)
	}
	f = newFixture(t, rows)

	present := f.records[1]
	valid := func() *circuits.Absent {
		w, err := circuits.AbsentAssignment(f.collection, f.root(), f.nonce, f.blind, absence(t, f, missing))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	cases := map[string]func(w *circuits.Absent){
		"wrong root":       func(w *circuits.Absent) { w.Root = el(1) },
		"other nonce":      func(w *circuits.Absent) { w.Nonce = el(556) },
		"other collection": func(w *circuits.Absent) { w.CollectionID = el(1002) },
		"key swapped under the commitment": func(w *circuits.Absent) {
			w.Key = present.Key
		},
		"commitment of a present key": func(w *circuits.Absent) {
			w.KeyCommitment = zkhash.KeyCommitment(f.collection, present.Key, f.nonce, f.blind)
		},
		"wrong depth":            func(w *circuits.Absent) { w.Depth = 1 },
		"empty flag not boolean": func(w *circuits.Absent) { w.Empty = 2 },
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			w := valid()
			tamper(w)
			if test.IsSolved(&circuits.Absent{}, w, ecc.BN254.ScalarField()) == nil {
				t.Fatal("tampered witness solved")
			}
		})
	}

	// A present key cannot be proven absent: natively refused, and in
	// circuit its own leaf (claimed as "another key's") or an empty slot
	// claimed at its place do not solve.
	ab := absence(t, f, present.Key)
	if _, err := circuits.AbsentAssignment(f.collection, f.root(), f.nonce, f.blind, ab); err == nil {
		t.Fatal("native absence witness for a present key")
	}
	w := valid()
	w.Key, w.KeyCommitment = present.Key, zkhash.KeyCommitment(f.collection, present.Key, f.nonce, f.blind)
	w.Depth = ab.Depth
	for i := range ab.Siblings {
		w.Siblings[i] = ab.Siblings[i]
	}
	in := zkhash.LeafInput(f.schema, present.Key, present.Salt, &present.Values)
	w.Empty = 0
	for i := range in {
		w.Other[i] = in[i]
	}
	if test.IsSolved(&circuits.Absent{}, w, ecc.BN254.ScalarField()) == nil {
		t.Fatal("a present key proven absent with its own leaf")
	}
	w.Empty = 1
	if test.IsSolved(&circuits.Absent{}, w, ecc.BN254.ScalarField()) == nil {
		t.Fatal("a present key proven absent by an empty slot at its place")
	}
	// An inner node claimed as the end of the walk: stop one level early.
	if ab.Depth > 0 {
		w.Depth = ab.Depth - 1
		if test.IsSolved(&circuits.Absent{}, w, ecc.BN254.ScalarField()) == nil {
			t.Fatal("a present key proven absent above its leaf")
		}
	}
}

// TestDeletedKeyAbsent: a deleted key is provably absent under the new root.
func TestDeletedKeyAbsent(t *testing.T) {
	f := newFixture(t, rows)
	gone := f.records[0]
	if _, err := tree.Apply(context.Background(), f.store, []tree.Change{{Op: tree.Delete, Path: zkhash.KeyPath(gone.Key)}}); err != nil {
		t.Fatal(err)
	}
	f.records = f.records[1:]
	w, err := circuits.AbsentAssignment(f.collection, f.root(), f.nonce, f.blind, absence(t, f, gone.Key))
	if err != nil {
		t.Fatal(err)
	}
	if err := test.IsSolved(&circuits.Absent{}, w, ecc.BN254.ScalarField()); err != nil {
		t.Fatal(err)
	}
}
