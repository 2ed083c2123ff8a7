package query_test

import (
	"errors"
	"math"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
)

func domainSchema(t testing.TB) *records.Schema {
	s, err := records.ParseSchema([]byte(`{"name":"levels","key":"id","fields":[
	 {"name":"level","type":"enum","values":["low","mid","high"]},
	 {"name":"only","type":"enum","values":["one"]},
	 {"name":"n","type":"uint","width":32},
	 {"name":"ok","type":"bool"},
	 {"name":"day","type":"date"},
	 {"name":"note","type":"string"},
	 {"name":"t","type":"int","width":8}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCompileDomain: an equality clause on a number carries its field's
// domain maximum in Hi (an n-value enum's n-1, else 2^width-1) and Lo 0; a
// string clause carries no bounds.
func TestCompileDomain(t *testing.T) {
	s := domainSchema(t)
	for _, tc := range []struct {
		q     string
		width uint8
		hi    uint64
	}{
		{`level == "low"`, 2, 2},
		{`level != "high"`, 2, 2},
		{`level in ("low", "mid")`, 2, 2},
		{`level not in ("mid")`, 2, 2},
		{`only == "one"`, 1, 0},
		{`n == 7`, 32, math.MaxUint32},
		{`ok == true`, 1, 1},
		{`day != "2024-01-01"`, 32, math.MaxUint32},
		{`t in (-1, 1)`, 8, 255},
		{`note == "x"`, 0, 0},
	} {
		p, err := query.Prepare(tc.q, s)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		c := p.Encoded.Clauses[0]
		if c.Width != tc.width || c.Lo != 0 || c.Hi != tc.hi {
			t.Errorf("%s: width %d, bounds [%d, %d]; want width %d, [0, %d]", tc.q, c.Width, c.Lo, c.Hi, tc.width, tc.hi)
		}
	}
	// The hash pins the domain: the same clause with the width's bound
	// hashes differently.
	p, err := query.Prepare(`level == "low"`, s)
	if err != nil {
		t.Fatal(err)
	}
	wide := *p.Encoded
	wide.Clauses[0].Hi = 3
	if err := wide.Validate(); err != nil {
		t.Fatal(err)
	}
	if wide.Hash() == p.Hash {
		t.Fatal("the query hash does not cover the domain bound")
	}
}

// TestEvalDomain: a record whose enum slot holds an encoding that names no
// value fails every equality clause on the field with ErrOutOfDomain; the
// in-domain values evaluate as before.
func TestEvalDomain(t *testing.T) {
	s := domainSchema(t)
	var slots [circuits.MaxFields]fr.Element
	for _, q := range []string{`level == "low"`, `level != "low"`, `level in ("low","high")`, `level not in ("mid")`} {
		p, err := query.Prepare(q, s)
		if err != nil {
			t.Fatal(err)
		}
		slots[0].SetUint64(3)
		if _, err := p.Encoded.Eval(&slots); !errors.Is(err, circuits.ErrOutOfDomain) {
			t.Errorf("%s on encoding 3: got %v, want ErrOutOfDomain", q, err)
		}
		for v := uint64(0); v <= 2; v++ {
			slots[0].SetUint64(v)
			if _, err := p.Encoded.Eval(&slots); err != nil {
				t.Errorf("%s on encoding %d: %v", q, v, err)
			}
		}
	}
	slots[1].SetUint64(1) // a one-value enum's only encoding is 0
	p, _ := query.Prepare(`only == "one"`, s)
	if _, err := p.Encoded.Eval(&slots); !errors.Is(err, circuits.ErrOutOfDomain) {
		t.Errorf("one-value enum on encoding 1: got %v", err)
	}
}

// TestValidateDomain: the encoding refuses bounds that do not fit the
// clause: a domain beyond the width, a Lo on an equality clause, bounds on
// a string or neutral clause, and version-1 encodings (Hi had no meaning).
func TestValidateDomain(t *testing.T) {
	p, err := query.Prepare(`level == "low" AND note != "x"`, domainSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(q *circuits.Query){
		"domain beyond width": func(q *circuits.Query) { q.Clauses[0].Hi = 4 },
		"lo on equality":      func(q *circuits.Query) { q.Clauses[0].Lo = 1 },
		"bounds on a string":  func(q *circuits.Query) { q.Clauses[1].Hi = 1 },
		"bounds on neutral":   func(q *circuits.Query) { q.Clauses[2].Hi = 1 },
	} {
		q := *p.Encoded
		mod(&q)
		if q.Validate() == nil {
			t.Errorf("%s: validated", name)
		}
	}
	b, _ := p.Encoded.MarshalBinary()
	var q circuits.Query
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b[0] = 1
	if q.UnmarshalBinary(b) == nil {
		t.Fatal("a version-1 encoding decoded")
	}
}
