package chunk

import (
	"bytes"
	"errors"
	"testing"
)

func TestWriter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []int
		want   []int
	}{
		{"empty", nil, nil},
		{"one short", []int{3}, []int{3}},
		{"exact", []int{4}, []int{4}},
		{"one large write", []int{11}, []int{4, 4, 3}},
		{"small writes", []int{1, 2, 3, 4}, []int{4, 4, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			var all []byte
			w := NewWriter(4, func(b []byte) error { got = append(got, len(b)); all = append(all, b...); return nil })
			var in []byte
			for i, n := range tc.writes {
				p := bytes.Repeat([]byte{byte('a' + i)}, n)
				in = append(in, p...)
				if m, err := w.Write(p); err != nil || m != n {
					t.Fatalf("write %d: %d %v", n, m, err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(all, in) || len(got) != len(tc.want) {
				t.Fatalf("pieces %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("pieces %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestWriterError(t *testing.T) {
	bad := errors.New("full")
	w := NewWriter(2, func([]byte) error { return bad })
	if n, err := w.Write([]byte("abcde")); !errors.Is(err, bad) || n != 2 {
		t.Fatalf("write: %d %v, want 2 and the emit error", n, err)
	}
}
