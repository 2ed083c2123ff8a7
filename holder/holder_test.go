package holder_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/tree"
	"github.com/zkshare/zkshare/zkhash"
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
	got, err := w.Record.Root(sc.ID())
	if err != nil || !got.Equal(&root) {
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

	// Update one key, append one: the old version drops out of the tree.
	upd := []records.Record{{Key: "p00007", Values: []string{"5", "south"}}, {Key: "new", Values: []string{"1", "north"}}}
	res, err = st.Commit(ctx, "c", upd, nil)
	if err != nil || res.Inserted != 1 || res.Updated != 1 || res.Count != 101 {
		t.Fatalf("upsert: %+v %v", res, err)
	}
	cur, _ := st.Record(ctx, "c", "p00007")
	verifyWitness(t, st, cur, sc)
	if cur.Version != 1 || cur.Record.Salt.Equal(&old.Record.Salt) {
		t.Fatalf("update did not replace with a fresh salt: %+v", cur)
	}
	stale := old.Record
	stale.Depth, stale.Siblings = cur.Record.Depth, cur.Record.Siblings
	if r, _ := stale.Root(sc.ID()); r.Equal(&cur.Root) {
		t.Fatal("superseded version still under the root")
	}
	if _, err := st.Record(ctx, "c", "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Absence(ctx, "c", "new"); !errors.Is(err, holder.ErrPresent) {
		t.Fatalf("absence of a present key: %v", err)
	}
	ab, err := st.Absence(ctx, "c", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ab.Absence.Root(); err != nil || !r.Equal(&cur.Root) {
		t.Fatalf("absence does not lead to the root: %v", err)
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
// BenchmarkCommitRecords commits fresh 16-field records into an empty
// collection on disk: encode, salt, leaf hashes, tree and durable writes.
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
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			recs := make([]records.Record, n)
			for i := range recs {
				vals := make([]string, 16)
				for j := range vals {
					vals[j] = strconv.Itoa(i*16 + j)
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
		})
	}
}

// rebuiltRoot recomputes a collection's root from its stored records alone,
// so a test can check that the stored tree matches the stored records.
func rebuiltRoot(t *testing.T, st *holder.Store, name string, sc *records.Schema) fr.Element {
	t.Helper()
	keys, err := st.Keys(name)
	if err != nil {
		t.Fatal(err)
	}
	m := tree.NewMemory()
	var ch []tree.Change
	for _, k := range keys {
		w, err := st.Record(context.Background(), name, k)
		if err != nil {
			t.Fatal(err)
		}
		ch = append(ch, tree.Change{Path: zkhash.KeyPath(w.Record.Key), Leaf: w.Record.Leaf(sc.ID())})
	}
	r, err := tree.Apply(context.Background(), m, ch)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func checkConsistent(t *testing.T, st *holder.Store, name string, sc *records.Schema, count uint64) {
	t.Helper()
	c, err := st.Collection(name)
	if err != nil {
		t.Fatal(err)
	}
	if c.Count != count {
		t.Fatalf("count %d, want %d", c.Count, count)
	}
	want := rebuiltRoot(t, st, name, sc)
	if c.Root != records.ElementHex(want) {
		t.Fatal("stored root does not match the tree of the stored records")
	}
}

func TestChunkedCommit(t *testing.T) {
	ctx := context.Background()
	sc := schema(t)
	for _, chunk := range []int{1, 7, 64, 1000} {
		t.Run(fmt.Sprint("chunk ", chunk), func(t *testing.T) {
			st := open(t, "")
			defer st.Close()
			holder.SetChunk(st, chunk)
			if _, err := st.CreateCollection(ctx, "c", sc); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Commit(ctx, "c", batch(50, 100), nil); err != nil {
				t.Fatal(err)
			}
			checkConsistent(t, st, "c", sc, 50)
			// 30 updates (p00020..p00049) interleaved with 30 inserts.
			var mixed []records.Record
			for i := 20; i < 80; i++ {
				mixed = append(mixed, records.Record{Key: fmt.Sprintf("p%05d", i), Values: []string{fmt.Sprint(i), "south"}})
			}
			var calls, last int
			res, err := st.Commit(ctx, "c", mixed, func(phase string, done, total int) { calls, last = calls+1, done })
			if err != nil {
				t.Fatal(err)
			}
			if res.Inserted != 30 || res.Updated != 30 || res.Count != 80 {
				t.Fatalf("result %+v", res)
			}
			if last != len(mixed) || calls < (len(mixed)+chunk-1)/chunk {
				t.Fatalf("progress: %d calls, last %d", calls, last)
			}
			checkConsistent(t, st, "c", sc, 80)
			w, err := st.Record(ctx, "c", "p00049")
			if err != nil || w.Version != 1 || w.Raw.Values[1] != "south" {
				t.Fatalf("updated record: %+v, %v", w, err)
			}
		})
	}
}

// A batch of long strings overflows one badger transaction; the commit
// splits it and still leaves a consistent store.
func TestCommitLargerThanOneTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 20 MB")
	}
	ctx := context.Background()
	sc, err := records.ParseSchema([]byte(`{"name":"docs","key":"id","fields":[{"name":"a","type":"string"},{"name":"b","type":"string"},{"name":"c","type":"string"},{"name":"d","type":"string"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	st := open(t, t.TempDir())
	defer st.Close()
	if _, err := st.CreateCollection(ctx, "docs", sc); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 1200)
	recs := make([]records.Record, 4000) // about 20 MB against a 9.6 MB transaction limit
	for i := range recs {
		recs[i] = records.Record{Key: fmt.Sprint("d", i), Values: []string{long + fmt.Sprint(i), long, long, long}}
	}
	if _, err := st.Commit(ctx, "docs", recs, nil); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, st, "docs", sc, 4000)
}

// TestQualifiedNames: a store keeps HOLDER/NAME collections (a node's
// form) apart, with the id of the full name, and refuses a plain name that
// is another's holder prefix (their keys would overlap).
func TestQualifiedNames(t *testing.T) {
	ctx := context.Background()
	st := open(t, t.TempDir())
	for _, bad := range []string{"a/b/c", "/x", "a/", "A/x", "a/x.y"} {
		if err := holder.ValidName(bad); err == nil {
			t.Errorf("ValidName(%q) accepted", bad)
		}
	}
	for _, name := range []string{"holder/x", "other.org/x"} {
		c, err := st.CreateCollection(ctx, name, schema(t))
		if err != nil {
			t.Fatal(err)
		}
		if want := records.ElementHex(records.CollectionID(name)); c.Name != name || c.ID != want {
			t.Fatalf("%s: got %s id %s, want id %s", name, c.Name, c.ID, want)
		}
		if _, err := st.Commit(ctx, name, batch(3, 10), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateCollection(ctx, "holder", schema(t)); !errors.Is(err, holder.ErrExists) {
		t.Fatalf("plain name over a holder prefix: %v", err)
	}
	if _, err := st.CreateCollection(ctx, "plain", schema(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateCollection(ctx, "plain/x", schema(t)); !errors.Is(err, holder.ErrExists) {
		t.Fatalf("qualified name under a plain collection: %v", err)
	}
	if c, err := st.Collection("holder/x"); err != nil || c.Count != 3 {
		t.Fatalf("holder/x: %+v %v", c, err)
	}
}
