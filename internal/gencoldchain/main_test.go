package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/zkshare/zkshare/records"
)

// The committed dataset is what the generator makes, and every shipment
// loads under the schema.
func TestCommittedDataset(t *testing.T) {
	dir := t.TempDir()
	if err := write(dir, 20000); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "..", "testdata", "coldchain")
	for _, name := range []string{"schema.json", "shipments.csv", "expected.json"} {
		got, _ := os.ReadFile(filepath.Join(dir, name))
		want, err := os.ReadFile(filepath.Join(committed, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s differs from the generator's output: run make testdata", name)
		}
	}
	sc, err := records.LoadSchema(filepath.Join(committed, "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(filepath.Join(committed, "shipments.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	recs, err := sc.ReadCSV(fh)
	if err != nil || len(recs) != 20000 {
		t.Fatalf("load: %d records, %v", len(recs), err)
	}
}
