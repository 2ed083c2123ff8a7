package verifier_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
)

// TestParseSum: a revealed sum has exactly one accepted spelling.
func TestParseSum(t *testing.T) {
	for _, s := range []string{"0", "7", "1234567890", new(big.Int).Sub(fr.Modulus(), big.NewInt(1)).String()} {
		v, err := verifier.ParseSum(s)
		if err != nil || v.String() != s {
			t.Errorf("%q: %v, %v", s, v, err)
		}
	}
	p := fr.Modulus()
	for _, s := range []string{"", "010", "08", "00", "0x10", "0b1", "0o7", "+5", "-0", "-5", " 5", "5 ", "5\n", "1_000", "1e3", "5.0", "٣",
		p.String(), new(big.Int).Add(p, big.NewInt(5)).String(), strings.Repeat("9", 100)} {
		if v, err := verifier.ParseSum(s); err == nil {
			t.Errorf("%q parsed as %v", s, v)
		}
	}
}

// TestDescribeDates: the minimum and maximum of a date or timestamp field
// read as dates and times, and a field that cannot be summed shows no sum
// or average.
func TestDescribeDates(t *testing.T) {
	day := &records.Field{Name: "shipped", Type: records.Date}
	ts := &records.Field{Name: "seen", Type: records.Timestamp}
	enc := func(f *records.Field, s string) uint64 {
		v, err := f.EncodeUint(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	b := revealed("shipped", &zkv1.AggregateReveal{Count: 2, Min: enc(day, "2026-01-31"), Max: enc(day, "2026-07-14")})
	got := verifier.Describe(b, day, big.NewInt(0))
	if want := "count 2, min 2026-01-31, max 2026-07-14"; !strings.Contains(got, want) || strings.Contains(got, "sum") || strings.Contains(got, "average") {
		t.Errorf("date field: %q, want %q and no sum", got, want)
	}
	b = revealed("seen", &zkv1.AggregateReveal{Count: 2, Min: enc(ts, "2026-01-31T23:59:59Z"), Max: enc(ts, "2026-07-14T08:00:00Z")})
	if got, want := verifier.Describe(b, ts, big.NewInt(0)), "min 2026-01-31T23:59:59Z, max 2026-07-14T08:00:00Z"; !strings.Contains(got, want) {
		t.Errorf("timestamp field: %q, want %q", got, want)
	}
	// A summable field: the sum rendered is the one passed in (the
	// verified one), not the bundle's text.
	n := &records.Field{Name: "n", Type: records.Uint, Width: 16}
	b = revealed("n", &zkv1.AggregateReveal{Count: 2, Sum: "0x10", Min: 3, Max: 13})
	if got, want := verifier.Describe(b, n, big.NewInt(16)), "count 2, sum 16, min 3, max 13, average 8.00"; !strings.Contains(got, want) {
		t.Errorf("number field: %q, want %q", got, want)
	}
	r := b.GetAggregate().GetReveal()
	r.Small, r.MinGroup = true, 5
	if got := verifier.Describe(b, n, big.NewInt(0)); !strings.Contains(got, "fewer than 5 records match") || strings.Contains(got, "count 2") {
		t.Errorf("small group: %q", got)
	}
}

// revealed is an aggregate bundle (unchecked) with a revealed answer.
func revealed(field string, r *zkv1.AggregateReveal) *zkv1.Bundle {
	return &zkv1.Bundle{Kind: bundle.KindAggregate, Collection: "c", Query: "x == 1",
		Aggregate: &zkv1.AggregateBody{Field: field, Answer: &zkv1.AggregateBody_Reveal{Reveal: r}}}
}
