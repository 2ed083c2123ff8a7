package holder_test

import (
	"bytes"
	"fmt"
	"testing"
)

// TestAuditOpeningsOrder: a collection's and a consumer's openings list
// oldest first after a cursor, and newest first before one, each bounded.
func TestAuditOpeningsOrder(t *testing.T) {
	s := open(t, "")
	coll, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	for _, i := range []uint64{3, 7, 9, 12, 20} {
		if err := s.PutAuditOpening(t.Context(), coll, "bank", i, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutAuditOpening(t.Context(), other, "shop", 8, []byte("8")); err != nil {
		t.Fatal(err)
	}
	str := func(vs [][]byte, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s", vs)
	}
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"oldest, from the start", str(s.AuditOpenings(coll, "", 0, 10)), "[3 7 9 12 20]"},
		{"oldest, after 7", str(s.AuditOpenings(coll, "", 7, 2)), "[9 12]"},
		{"newest, from the end", str(s.AuditOpeningsNewest(coll, "", 0, 3)), "[20 12 9]"},
		{"newest, before 12", str(s.AuditOpeningsNewest(coll, "", 12, 10)), "[9 7 3]"},
		{"newest, before 3", str(s.AuditOpeningsNewest(coll, "", 3, 10)), "[]"},
		{"newest, before 1", str(s.AuditOpeningsNewest(coll, "", 1, 10)), "[]"},
		{"newest, a consumer's", str(s.AuditOpeningsNewest(nil, "bank", 0, 2)), "[20 12]"},
		{"newest, another consumer's", str(s.AuditOpeningsNewest(nil, "shop", 0, 10)), "[8]"},
		{"newest, a collection with none before", str(s.AuditOpeningsNewest(other, "", 8, 10)), "[]"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, tc.got, tc.want)
		}
	}
	if _, err := s.AuditOpeningsNewest(nil, "", 0, 1); err == nil {
		t.Error("neither a collection nor a consumer: no error")
	}
}
