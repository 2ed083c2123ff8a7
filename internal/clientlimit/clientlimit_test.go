package clientlimit

import (
	"errors"
	"testing"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct{ id, addr, want string }{
		{"bank", "10.0.0.1:443", "id:bank"},
		{"", "10.0.0.1:443", "ip:10.0.0.1"},
		{"", "10.0.0.1", "ip:10.0.0.1"},
		{"", "[2001:db8:1:2:3:4:5:6]:80", "ip:2001:db8:1:2::/64"},
		{"", "[2001:db8:1:2:ffff::1]:80", "ip:2001:db8:1:2::/64"},
		{"", "[::ffff:10.0.0.1]:80", "ip:::ffff:10.0.0.1"},
		{"", "", "unknown"},
	} {
		if got := Key(tc.id, tc.addr); got != tc.want {
			t.Errorf("Key(%q, %q) = %q, want %q", tc.id, tc.addr, got, tc.want)
		}
	}
}

// TestAcquire: a client's burst is perMinute calls, then ErrRate; another
// client is not held back; more calls at once than slots get ErrBusy; a
// released slot serves again.
func TestAcquire(t *testing.T) {
	l := New(2, 3)
	var held []func()
	for i := range 2 {
		rel, err := l.Acquire("a")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		held = append(held, rel)
	}
	for range 5 { // refused while busy: b's minute is untouched
		if _, err := l.Acquire("b"); !errors.Is(err, ErrBusy) {
			t.Errorf("a third call at once: %v, want ErrBusy", err)
		}
	}
	held[0]()
	rel, err := l.Acquire("a")
	if err != nil {
		t.Fatalf("a's third call: %v", err)
	}
	rel()
	if _, err := l.Acquire("a"); !errors.Is(err, ErrRate) {
		t.Errorf("a's fourth call within the minute: %v, want ErrRate", err)
	}
	for i := range 3 {
		rel, err = l.Acquire("b")
		if err != nil {
			t.Fatalf("b's call %d, after refusals while busy and a's rate: %v", i, err)
		}
		rel()
	}
	if _, err := l.Acquire("b"); !errors.Is(err, ErrRate) {
		t.Errorf("b's fourth call: %v, want ErrRate", err)
	}
	held[1]()
}
