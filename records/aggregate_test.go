package records

import (
	"math/big"
	"testing"
)

func TestAggregateValues(t *testing.T) {
	temp := &Field{Name: "t", Type: Decimal, Width: 16, Scale: 1}
	hours := &Field{Name: "h", Type: Uint, Width: 16}
	for _, tc := range []struct {
		f         *Field
		which, in string
		want      string
		wantErr   bool
	}{
		{temp, "max", "8.0", "32848", false}, // 80 + 2^15
		{temp, "min", "-2.5", "32743", false},
		{temp, "sum", "-2.5", "-25", false},
		{temp, "count", "0", "0", false},
		{temp, "count", "-1", "", true},
		{temp, "max", "8.05", "", true},
		{hours, "sum", "12000", "12000", false},
		{hours, "avg", "1", "", true},
	} {
		which, err := ParseAggregate(tc.which)
		var got *big.Int
		if err == nil {
			got, err = tc.f.ThresholdValue(which, tc.in)
		}
		if (err != nil) != tc.wantErr || (err == nil && got.String() != tc.want) {
			t.Errorf("%s %s %q: %v, %v; want %s", tc.f.Name, tc.which, tc.in, got, err, tc.want)
		}
	}
	if got := temp.Decode(32848); got != "8.0" {
		t.Errorf("decode max: %s", got)
	}
	if got := temp.Decode(32743); got != "-2.5" {
		t.Errorf("decode min: %s", got)
	}
	// Three readings -2.5, 0.3, 8.0 encode with offset 2^15 each.
	sum := big.NewInt(-25 + 3 + 80 + 3*32768)
	if got := temp.RealSum(sum, 3); got != "5.8" {
		t.Errorf("real sum: %s", got)
	}
	if got := temp.RealSum(big.NewInt(0), 0); got != "0.0" {
		t.Errorf("empty sum: %s", got)
	}
}

// TestDecode: a revealed minimum or maximum reads as the field's own value:
// dates as dates, timestamps as RFC 3339, each the inverse of EncodeUint.
func TestDecode(t *testing.T) {
	day := &Field{Name: "d", Type: Date}
	ts := &Field{Name: "ts", Type: Timestamp}
	level := &Field{Name: "l", Type: Enum, Values: []string{"low", "mid", "high"}}
	ok := &Field{Name: "ok", Type: Bool}
	n := &Field{Name: "n", Type: Uint, Width: 8}
	for _, tc := range []struct {
		f    *Field
		text string
	}{
		{day, "1970-01-01"}, {day, "2026-07-14"}, {day, "1969-12-31"}, {day, "0001-01-01"}, {day, "9999-12-31"},
		{ts, "1970-01-01T00:00:00Z"}, {ts, "2026-07-14T08:30:05Z"}, {ts, "1901-02-03T04:05:06Z"},
		{level, "high"}, {ok, "true"}, {ok, "false"}, {n, "255"},
	} {
		v, err := tc.f.EncodeUint(tc.text)
		if err != nil {
			t.Fatalf("%s %q: %v", tc.f.Type, tc.text, err)
		}
		if got := tc.f.Decode(v); got != tc.text {
			t.Errorf("%s: Decode(EncodeUint(%q)) = %q", tc.f.Type, tc.text, got)
		}
	}
	// A timestamp with an offset decodes in UTC.
	v, _ := ts.EncodeUint("2026-07-14T10:30:05+02:00")
	if got := ts.Decode(v); got != "2026-07-14T08:30:05Z" {
		t.Errorf("timestamp in UTC: %q", got)
	}
	// Encodings that name no value say so.
	for _, tc := range []struct {
		f    *Field
		v    uint64
		want string
	}{
		{level, 3, "3 (encoded)"}, {ok, 2, "2 (encoded)"}, {day, 1<<32 - 1, "4294967295 (encoded)"}, {day, 0, "0 (encoded)"},
	} {
		if got := tc.f.Decode(tc.v); got != tc.want {
			t.Errorf("%s Decode(%d) = %q, want %q", tc.f.Type, tc.v, got, tc.want)
		}
	}
}

// The text forms of aggregates and relations read back as themselves, and
// their values are the circuits' (the order ThresholdAssignment expects).
func TestAggregateAndRelationNames(t *testing.T) {
	for i, name := range []string{"count", "sum", "min", "max"} {
		a, err := ParseAggregate(name)
		if err != nil || int(a) != i || a.String() != name {
			t.Errorf("aggregate %q: %d (%s), %v", name, a, a, err)
		}
	}
	for i, name := range []string{"<=", ">=", "=="} {
		r, err := ParseRelation(name)
		if err != nil || int(r) != i || r.String() != name {
			t.Errorf("relation %q: %d (%s), %v", name, r, r, err)
		}
	}
	for _, bad := range []string{"", "avg", "COUNT", " count"} {
		if _, err := ParseAggregate(bad); err == nil {
			t.Errorf("aggregate %q parsed", bad)
		}
	}
	for _, bad := range []string{"", "<", "!=", "=<"} {
		if _, err := ParseRelation(bad); err == nil {
			t.Errorf("relation %q parsed", bad)
		}
	}
	if s := Aggregate(7).String(); s != "aggregate(7)" {
		t.Errorf("out of range: %s", s)
	}
}
