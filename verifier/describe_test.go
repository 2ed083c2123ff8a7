package verifier_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
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
	u := func(x uint64) *uint64 { return &x }
	day := &records.Field{Name: "shipped", Type: records.Date}
	ts := &records.Field{Name: "seen", Type: records.Timestamp}
	enc := func(f *records.Field, s string) uint64 {
		v, err := f.EncodeUint(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	b := &bundle.Aggregate{Collection: "c", Query: "x == 1", Field: "shipped", Count: u(2),
		Min: u(enc(day, "2026-01-31")), Max: u(enc(day, "2026-07-14"))}
	got := verifier.Describe(aggProto(b), day, big.NewInt(0))
	if want := "count 2, min 2026-01-31, max 2026-07-14"; !strings.Contains(got, want) || strings.Contains(got, "sum") || strings.Contains(got, "average") {
		t.Errorf("date field: %q, want %q and no sum", got, want)
	}
	b.Field, b.Min, b.Max = "seen", u(enc(ts, "2026-01-31T23:59:59Z")), u(enc(ts, "2026-07-14T08:00:00Z"))
	if got, want := verifier.Describe(aggProto(b), ts, big.NewInt(0)), "min 2026-01-31T23:59:59Z, max 2026-07-14T08:00:00Z"; !strings.Contains(got, want) {
		t.Errorf("timestamp field: %q, want %q", got, want)
	}
	// A summable field: the sum rendered is the one passed in (the
	// verified one), not the bundle's text.
	n := &records.Field{Name: "n", Type: records.Uint, Width: 16}
	b = &bundle.Aggregate{Collection: "c", Query: "x == 1", Field: "n", Count: u(2), Sum: "0x10", Min: u(3), Max: u(13)}
	if got, want := verifier.Describe(aggProto(b), n, big.NewInt(16)), "count 2, sum 16, min 3, max 13, average 8.00"; !strings.Contains(got, want) {
		t.Errorf("number field: %q, want %q", got, want)
	}
	b.Small, b.MinGroup = true, 5
	if got := verifier.Describe(aggProto(b), n, big.NewInt(0)); !strings.Contains(got, "fewer than 5 records match") || strings.Contains(got, "count 2") {
		t.Errorf("small group: %q", got)
	}
}
