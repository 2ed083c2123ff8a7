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
		got, err := tc.f.ThresholdValue(tc.which, tc.in)
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
