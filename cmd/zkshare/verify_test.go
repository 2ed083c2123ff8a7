package main

import (
	"testing"
	"time"
)

// TestFreshnessSeconds: a window the wire cannot carry is refused, never
// rounded to 0 (which the server reads as its default, a looser window).
func TestFreshnessSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want uint32
		ok   bool
	}{
		{0, 0, true},
		{time.Second, 1, true},
		{90 * time.Minute, 5400, true},
		{500 * time.Millisecond, 0, false},
		{1500 * time.Millisecond, 0, false},
		{-time.Second, 0, false},
		{(1 << 32) * time.Second, 0, false},
	} {
		got, err := freshnessSeconds(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("freshnessSeconds(%s) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
