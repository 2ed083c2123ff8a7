package node

import "testing"

func TestOffsetField(t *testing.T) {
	for _, tt := range []struct {
		in   string
		base int
		want string
	}{
		{"readings[3] (device \"a\", counter 2): replayed", 4096, "readings[4099] (device \"a\", counter 2): replayed"},
		{"readings[0].salt", 10, "readings[10].salt"},
		{"collection x: readings[1]", 10, "collection x: readings[1]"},
	} {
		if got := offsetField(tt.in, tt.base); got != tt.want {
			t.Errorf("offsetField(%q, %d) = %q, want %q", tt.in, tt.base, got, tt.want)
		}
	}
}
