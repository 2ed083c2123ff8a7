package query_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
)

func schema(t testing.TB) *records.Schema {
	s, err := records.ParseSchema([]byte(`{"name":"benefits","key":"citizen_id","fields":[
	 {"name":"income","type":"uint","width":32},
	 {"name":"age","type":"uint","width":8},
	 {"name":"balance","type":"int","width":16},
	 {"name":"region","type":"enum","values":["north","east","south","west"]},
	 {"name":"status","type":"string"},
	 {"name":"born","type":"date"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPrepareAndEvaluate(t *testing.T) {
	s := schema(t)
	rec := func(vals ...string) [circuits.MaxFields]fr.Element {
		_, slots, err := s.Encode(&records.Record{Key: "k", Values: vals})
		if err != nil {
			t.Fatal(err)
		}
		return slots
	}
	alice := rec("25000", "67", "-5", "north", "active", "1959-03-01")
	cases := []struct {
		q    string
		want bool
	}{
		{`income <= 30000 AND age >= 65 AND region in ("north","east") AND status != "suspended"`, true},
		{`income < 25000`, false},
		{`income < 25001`, true},
		{`income > 24999 and income <= 25000`, true},
		{`income between (0, 24999)`, false},
		{`age between(65, 67)`, true},
		{`balance < 0`, true},
		{`balance >= -5`, true},
		{`balance > -5`, false},
		{`balance == -5`, true},
		{`region not in ("north")`, false},
		{`status == "active"`, true},
		{`status in ("a", "b", "c", "d", "e", "f", "g", "active")`, true},
		{`born < "1960-01-01"`, true},
		{`income < 0`, false},
		{`age > 255`, false},
		{`age <= 255 AND age >= 0`, true},
	}
	for _, tc := range cases {
		p, err := query.Prepare(tc.q, s)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		got, err := p.Encoded.Eval(&alice)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v %v, want %v", tc.q, got, err, tc.want)
		}
		// The canonical text parses to the same hash.
		p2, err := query.Prepare(p.Text, s)
		if err != nil || p2.Hash != p.Hash {
			t.Errorf("%s: canonical text %q hashes differently (%v)", tc.q, p.Text, err)
		}
	}
}

func TestDifferentQueriesDifferentHashes(t *testing.T) {
	s := schema(t)
	seen := map[fr.Element]string{}
	for _, q := range []string{"income <= 30000", "income < 30000", "income <= 30001", "age <= 200",
		`status == "a"`, `status != "a"`, `status == "b"`, `region == "north"`, `region in ("north","east")`} {
		p, err := query.Prepare(q, s)
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := seen[p.Hash]; dup {
			t.Fatalf("%q and %q share a hash", q, prev)
		}
		seen[p.Hash] = q
	}
}

func TestErrors(t *testing.T) {
	s := schema(t)
	cases := []struct{ q, want string }{
		{"", "expected a field name"},
		{"income <= ", "at 10 (end of input): expected a value"},
		{"income =< 5", `at 7 ("=")`},
		{"income <= 5 OR age > 3", `at 12 ("OR"): expected AND`},
		{"wage <= 5", "field wage: no such field"},
		{"citizen_id == \"x\"", "the key is not a value field"},
		{`status < "b"`, "string values have no order"},
		{`region >= "north"`, "enum values have no order"},
		{`region == "middle"`, "unknown enum value"},
		{`income <= "5"`, "uint constants are not quoted"},
		{`status == active`, "string constants are quoted"},
		{`age <= 256`, "out of range for uint8"},
		{`income between (5, 4)`, "reversed"},
		{`income in (1,2,3,4,5,6,7,8,9)`, "more than 8 values"},
		{`a == 1 AND a == 1 AND a == 1 AND a == 1 AND a == 1 AND a == 1 AND a == 1 AND a == 1 AND a == 1`, "more than 8 clauses"},
		{`income in (1,2,3,4,5,6,7,8) AND age in (11,12,13,14,15,16,17,18) AND balance == 9`, "more than 16 equality constants"},
		{`status == "unterminated`, "unterminated string"},
		{`income <= 5 ;`, "unexpected character"},
	}
	for _, tc := range cases {
		_, err := query.Prepare(tc.q, s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.q, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	s := schema(f)
	for _, q := range []string{`income <= 30000 AND region in ("north","east")`, `age between(1, 2)`, `status not in ("x")`, `balance > -3`} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, text string) {
		q, err := query.Parse(text)
		if err != nil {
			return
		}
		// Canonical text re-parses to the same canonical text.
		q2, err := query.Parse(q.String())
		if err != nil {
			t.Fatalf("canonical text %q does not parse: %v", q.String(), err)
		}
		if q2.String() != q.String() {
			t.Fatalf("canonical text unstable: %q vs %q", q.String(), q2.String())
		}
		enc, err := query.Compile(q, s)
		if err != nil {
			return
		}
		b, _ := enc.MarshalBinary()
		var dec circuits.Query
		if err := dec.UnmarshalBinary(b); err != nil {
			t.Fatalf("encoding does not decode: %v", err)
		}
		if dec.Hash() != enc.Hash() {
			t.Fatal("decoded query hashes differently")
		}
	})
}

func FuzzUnmarshalQuery(f *testing.F) {
	p, _ := query.Prepare(`income <= 3 AND status == "x"`, schema(f))
	b, _ := p.Encoded.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var q circuits.Query
		if err := q.UnmarshalBinary(b); err != nil {
			return
		}
		again, _ := q.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatal("re-encoding differs")
		}
	})
}
