package holder_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
)

func schema(t testing.TB) *records.Schema {
	s, err := records.ParseSchema([]byte(`{"name":"people","key":"id","fields":[
	 {"name":"income","type":"uint","width":32},{"name":"region","type":"enum","values":["north","south"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func batch(n, income int) []records.Record {
	out := make([]records.Record, n)
	for i := range out {
		out[i] = records.Record{Key: fmt.Sprintf("p%05d", i), Values: []string{fmt.Sprint(income + i), "north"}}
	}
	return out
}

func open(t *testing.T, dir string) *holder.Store {
	s, err := holder.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func verifyWitness(t *testing.T, st *holder.Store, w *holder.Witness, sc *records.Schema) {
	t.Helper()
	c, _ := st.Collection("c")
	root, _ := records.ParseElement(c.Root)
	got := circuits.Root(w.Record.Leaf(sc.ID()), w.Record.Index, &w.Record.Siblings)
	if !got.Equal(&root) {
		t.Fatal("witness does not lead to the collection root")
	}
}

func TestCommitUpdateDelete(t *testing.T) {
	ctx := context.Background()
	st := open(t, "")
	defer st.Close()
	sc := schema(t)
	if _, err := st.CreateCollection(ctx, "c", sc); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateCollection(ctx, "c", sc); !errors.Is(err, holder.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	res, err := st.Commit(ctx, "c", batch(100, 1000), nil)
	if err != nil || res.Inserted != 100 || res.Count != 100 {
		t.Fatalf("commit: %+v %v", res, err)
	}
	old, err := st.Record(ctx, "c", "p00007")
	if err != nil {
		t.Fatal(err)
	}
	verifyWitness(t, st, old, sc)
	if old.Record.Index != 7 {
		t.Fatalf("position %d, want dense 7", old.Record.Index)
	}

	// Update one key, append one: the old version drops out of the tree.
	upd := []records.Record{{Key: "p00007", Values: []string{"5", "south"}}, {Key: "new", Values: []string{"1", "north"}}}
	res, err = st.Commit(ctx, "c", upd, nil)
	if err != nil || res.Inserted != 1 || res.Updated != 1 || res.Count != 101 {
		t.Fatalf("upsert: %+v %v", res, err)
	}
	cur, _ := st.Record(ctx, "c", "p00007")
	verifyWitness(t, st, cur, sc)
	if cur.Record.Index != 7 || cur.Version != 1 || cur.Record.Salt.Equal(&old.Record.Salt) {
		t.Fatalf("update did not replace in place with a fresh salt: %+v", cur)
	}
	stale := circuits.Root(old.Record.Leaf(sc.ID()), 7, &cur.Record.Siblings)
	if stale.Equal(&cur.Root) {
		t.Fatal("superseded version still under the root")
	}
	nw, _ := st.Record(ctx, "c", "new")
	if nw.Record.Index != 100 {
		t.Fatalf("appended at %d, want 100", nw.Record.Index)
	}

	// Delete empties the position.
	res, err = st.Delete(ctx, "c", []string{"p00007"})
	if err != nil || res.Count != 100 {
		t.Fatalf("delete: %+v %v", res, err)
	}
	if _, err := st.Record(ctx, "c", "p00007"); !errors.Is(err, holder.ErrNotFound) {
		t.Fatalf("deleted record: %v", err)
	}
	if _, err := st.Delete(ctx, "c", []string{"nope"}); !errors.Is(err, holder.ErrNotFound) {
		t.Fatalf("delete unknown: %v", err)
	}
	w, _ := st.Record(ctx, "c", "p00008")
	verifyWitness(t, st, w, sc)
}

func TestBadBatchWritesNothing(t *testing.T) {
	ctx := context.Background()
	st := open(t, "")
	defer st.Close()
	st.CreateCollection(ctx, "c", schema(t))
	st.Commit(ctx, "c", batch(3, 0), nil)
	before, _ := st.Collection("c")
	bad := batch(5, 10)
	bad[3].Values[1] = "west"
	if _, err := st.Commit(ctx, "c", bad, nil); !errors.Is(err, records.ErrInvalidBatch) {
		t.Fatalf("bad batch: %v", err)
	}
	after, _ := st.Collection("c")
	if after.Root != before.Root || after.Count != before.Count {
		t.Fatal("rejected batch changed the collection")
	}
	w, _ := st.Record(ctx, "c", "p00001")
	if w.Raw.Values[0] != "1" {
		t.Fatal("rejected batch changed a record")
	}
}

func TestReopenAndLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := open(t, dir)
	st.CreateCollection(ctx, "c", schema(t))
	res, err := st.Commit(ctx, "c", batch(50, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Open(dir, nil); !errors.Is(err, holder.ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	st.Close()
	st = open(t, dir)
	defer st.Close()
	c, err := st.Collection("c")
	if err != nil || c.Root != records.ElementHex(res.Root) || c.Count != 50 {
		t.Fatalf("after reopen: %+v %v", c, err)
	}
	w, _ := st.Record(ctx, "c", "p00049")
	verifyWitness(t, st, w, schema(t))
}

func TestFind(t *testing.T) {
	ctx := context.Background()
	st := open(t, "")
	defer st.Close()
	sc := schema(t)
	st.CreateCollection(ctx, "c", sc)
	st.Commit(ctx, "c", batch(20, 100), nil)
	p, _ := query.Prepare("income >= 115", sc)
	w, err := st.Find(ctx, "c", p.Encoded)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := p.Encoded.Eval(&w.Record.Values); !ok {
		t.Fatal("found record does not satisfy the query")
	}
	p, _ = query.Prepare("income > 1000", sc)
	if _, err := st.Find(ctx, "c", p.Encoded); !errors.Is(err, holder.ErrNotFound) {
		t.Fatalf("impossible query: %v", err)
	}
}

// BenchmarkCommitRecords commits 16-field records into an on-disk store.
func BenchmarkCommitRecords(b *testing.B) {
	fields := `{"name":"wide","key":"id","fields":[`
	for i := 0; i < 16; i++ {
		if i > 0 {
			fields += ","
		}
		fields += fmt.Sprintf(`{"name":"f%d","type":"uint","width":32}`, i)
	}
	sc, err := records.ParseSchema([]byte(fields + "]}"))
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	recs := make([]records.Record, n)
	for i := range recs {
		vals := make([]string, 16)
		for j := range vals {
			vals[j] = fmt.Sprint(i*16 + j)
		}
		recs[i] = records.Record{Key: fmt.Sprintf("k%08d", i), Values: vals}
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		st, err := holder.Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		st.CreateCollection(context.Background(), "wide", sc)
		b.StartTimer()
		if _, err := st.Commit(context.Background(), "wide", recs, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
