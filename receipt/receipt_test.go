package receipt_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/receipt"
	"github.com/zkshare/zkshare/records"
	"google.golang.org/protobuf/proto"
)

// issued commits the first records of the benefits dataset and returns a
// receipt for one of them.
func issued(t testing.TB) *zkv1.Receipt {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "benefits", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := records.ParseSchema(raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("..", "testdata", "benefits", "records.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := sc.ReadCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := holder.Open(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.CreateCollection(t.Context(), "agency/benefits", sc); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(t.Context(), "agency/benefits", recs[:200], nil); err != nil {
		t.Fatal(err)
	}
	w, err := s.Record(t.Context(), "agency/benefits", recs[17].Key)
	if err != nil {
		t.Fatal(err)
	}
	return receipt.New("agency/benefits", raw, w)
}

func TestRoundTrip(t *testing.T) {
	r := issued(t)
	w, err := receipt.Witness(r)
	if err != nil {
		t.Fatal(err)
	}
	again := receipt.New(r.GetCollection(), r.GetSchema(), w)
	if !proto.Equal(again, r) {
		t.Fatal("a receipt rebuilt from its witness differs")
	}
	if w.Record.Depth == 0 || len(r.GetSiblings()) != w.Record.Depth {
		t.Fatalf("depth %d, %d siblings", w.Record.Depth, len(r.GetSiblings()))
	}
}

// TestDamaged: every field that the path to the root rests on is checked,
// so a damaged or doctored receipt fails here, never in the prover.
func TestDamaged(t *testing.T) {
	r := issued(t)
	flip := func(b []byte) []byte { b = bytes.Clone(b); b[31] ^= 1; return b }
	tests := []struct {
		name   string
		change func(r *zkv1.Receipt)
		want   string
	}{
		{"a value", func(r *zkv1.Receipt) { r.Values[0] = "1" }, "do not lead"},
		{"the key", func(r *zkv1.Receipt) { r.Key = "C99999" }, "do not lead"},
		{"the salt", func(r *zkv1.Receipt) { r.Salt = flip(r.Salt) }, "do not lead"},
		{"a sibling", func(r *zkv1.Receipt) { r.Siblings[0] = flip(r.Siblings[0]) }, "do not lead"},
		{"the root", func(r *zkv1.Receipt) { r.Root = flip(r.Root) }, "do not lead"},
		{"one level deeper", func(r *zkv1.Receipt) { r.Depth++; r.Siblings = append(r.Siblings, make([]byte, 32)) }, "do not lead"},
		{"a sibling missing", func(r *zkv1.Receipt) { r.Siblings = r.Siblings[1:] }, "siblings at depth"},
		{"too deep", func(r *zkv1.Receipt) { r.Depth = 65 }, "siblings at depth"},
		{"a short salt", func(r *zkv1.Receipt) { r.Salt = r.Salt[1:] }, "salt"},
		{"a non-canonical root", func(r *zkv1.Receipt) { r.Root = bytes.Repeat([]byte{0xff}, 32) }, "root"},
		{"a short sibling", func(r *zkv1.Receipt) { r.Siblings[0] = r.Siblings[0][:31] }, "sibling 0"},
		{"a value the schema refuses", func(r *zkv1.Receipt) { r.Values[0] = "not a number" }, "record"},
		{"too few values", func(r *zkv1.Receipt) { r.Values = r.Values[:2] }, "record"},
		{"no schema", func(r *zkv1.Receipt) { r.Schema = nil }, "schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := proto.Clone(r).(*zkv1.Receipt)
			tt.change(b)
			if _, err := receipt.Witness(b); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
	if _, err := receipt.Witness(nil); err == nil {
		t.Fatal("a nil receipt was accepted")
	}
}

// FuzzWitness: a receipt is untrusted input; decoding never panics.
func FuzzWitness(f *testing.F) {
	good, err := proto.Marshal(issued(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r zkv1.Receipt
		if proto.Unmarshal(b, &r) != nil {
			return
		}
		_, _ = receipt.Witness(&r)
	})
}
