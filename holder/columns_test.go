package holder_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/records"
)

// testBasis is a stand-in for the aggregate key's basis: fixed multiples
// of the generator, enough for chunks of rows positions.
func testBasis(rows int) circuits.ColumnBasis {
	_, _, g, _ := bn254.Generators()
	b := make(circuits.ColumnBasis, rows*(1+circuits.MaxFields)+1)
	for i := range b {
		b[i].ScalarMultiplication(&g, big.NewInt(int64(7919*i+13)))
	}
	return b
}

// TestColumns: commitments follow the records chunk by chunk. Reading them
// twice changes nothing; an update or a delete re-salts just its chunk; the
// commitments survive a reopen; and they are what the basis gives for the
// stored rows.
func TestColumns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := open(t, dir)
	sc := schema(t)
	if _, err := st.CreateCollection(ctx, "people", sc); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Columns(ctx, "people"); !errors.Is(err, holder.ErrNoColumns) {
		t.Fatalf("columns without a basis: %v", err)
	}
	basis := testBasis(4)
	st.SetColumnBasis(basis)
	if _, err := st.Commit(ctx, "people", batch(10, 1000), nil); err != nil {
		t.Fatal(err)
	}
	first, err := st.Columns(ctx, "people")
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Commitments) != 3 || first.Rows != 4 {
		t.Fatalf("%d chunks of %d for 10 records", len(first.Commitments), first.Rows)
	}
	again, _ := st.Columns(ctx, "people")
	if again.Digest != first.Digest {
		t.Fatal("reading the columns again changed them")
	}
	// Each commitment is the basis applied to the chunk's rows and salt.
	_, rows, cols, err := st.AggregateSnapshot(ctx, "people")
	if err != nil {
		t.Fatal(err)
	}
	for i := range cols.Commitments {
		want, err := basis.Commit(rows[i], cols.Salts[i])
		if err != nil || !want.Equal(&cols.Commitments[i]) {
			t.Fatalf("chunk %d: stored commitment is not the rows' (%v)", i, err)
		}
	}

	// Rows follow key-path order: pick a key of chunk 1 and one of chunk 2.
	keys, err := st.Keys("people")
	if err != nil {
		t.Fatal(err)
	}
	// An update of a row of chunk 1 touches chunk 1 only, with a new salt.
	upd := []records.Record{{Key: keys[5], Values: []string{"1005", "south"}}}
	if _, err := st.Commit(ctx, "people", upd, nil); err != nil {
		t.Fatal(err)
	}
	after, _ := st.Columns(ctx, "people")
	same := func(a, b *holder.Columns, i int) bool {
		return a.Commitments[i].Equal(&b.Commitments[i]) && a.Salts[i].Equal(&b.Salts[i])
	}
	if !same(first, after, 0) || same(first, after, 1) || !same(first, after, 2) || after.Digest == first.Digest {
		t.Fatal("an update did not re-salt exactly its chunk")
	}
	// A delete of a row of chunk 2 touches chunk 2 only.
	if _, err := st.Delete(ctx, "people", []string{keys[9]}); err != nil {
		t.Fatal(err)
	}
	del, _ := st.Columns(ctx, "people")
	if !same(after, del, 0) || !same(after, del, 1) || same(after, del, 2) {
		t.Fatal("a delete did not re-salt exactly its chunk")
	}
	var zero fr.Element
	if del.Salts[2].Equal(&zero) {
		t.Fatal("zero salt")
	}
	st.Close()

	// Reopened, the stored commitments are reused, not redrawn.
	st = open(t, dir)
	defer st.Close()
	st.SetColumnBasis(basis)
	re, err := st.Columns(ctx, "people")
	if err != nil {
		t.Fatal(err)
	}
	if re.Digest != del.Digest {
		t.Fatal("the commitments changed across a reopen")
	}
}
