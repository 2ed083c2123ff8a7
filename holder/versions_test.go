package holder_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/records"
)

// anchoredStore has collection "c" with 20 records committed and marked
// anchored (sequence 1), then a second commit that updates p00003, adds
// p00020..p00029 and deletes p00005, not anchored.
func anchoredStore(t *testing.T, dir string) (st *holder.Store, v1 holder.Version, root1 string) {
	t.Helper()
	ctx := context.Background()
	st = open(t, dir)
	sc := schema(t)
	if _, err := st.CreateCollection(ctx, "c", sc); err != nil {
		t.Fatal(err)
	}
	holder.SetChunk(st, 4) // several transactions per commit
	res, err := st.Commit(ctx, "c", batch(20, 100), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.MarkAnchored(ctx, "c", res.Version, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, _ := st.Collection("c")
	second := slices.Concat(batch(30, 5000)[20:], []records.Record{{Key: "p00003", Values: []string{"777", "south"}}})
	if _, err := st.Commit(ctx, "c", second, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Delete(ctx, "c", []string{"p00005"}); err != nil {
		t.Fatal(err)
	}
	return st, res.Version, c.Root
}

// TestViewAtVersion: a view at an anchored version reads the records,
// tree and root of that version while later commits exist.
func TestViewAtVersion(t *testing.T) {
	ctx := context.Background()
	st, v1, root1 := anchoredStore(t, "")
	defer st.Close()
	sc := schema(t)
	old := st.At(v1)
	c, err := old.Collection("c")
	if err != nil || c.Root != root1 || c.Count != 20 {
		t.Fatalf("view at v1: %v root %s count %d, want %s 20", err, c.Root, c.Count, root1)
	}
	w, err := old.Record(ctx, "c", "p00003")
	if err != nil || w.Raw.Values[0] != "103" {
		t.Fatalf("p00003 at v1: %v %v, want the first commit's 103", err, w)
	}
	if records.ElementHex(w.Root) != root1 {
		t.Fatal("witness at v1 is not under v1's root")
	}
	got, err := w.Record.Root(sc.ID())
	if err != nil || !got.Equal(&w.Root) {
		t.Fatal("witness path at v1 does not lead to v1's root")
	}
	if _, err := old.Record(ctx, "c", "p00025"); !errors.Is(err, holder.ErrNotFound) {
		t.Fatalf("a key of the later commit at v1: %v, want not found", err)
	}
	if _, err := old.Record(ctx, "c", "p00005"); err != nil {
		t.Fatalf("a key deleted later, at v1: %v", err)
	}
	if a, err := old.Absence(ctx, "c", "p00025"); err != nil || records.ElementHex(a.Root) != root1 {
		t.Fatalf("absence at v1 of a key added later: %v", err)
	}
	// The latest view sees the later commit.
	if w, err := st.Record(ctx, "c", "p00003"); err != nil || w.Raw.Values[0] != "777" {
		t.Fatalf("latest p00003: %v", err)
	}
	if _, err := st.Record(ctx, "c", "p00005"); !errors.Is(err, holder.ErrNotFound) {
		t.Fatalf("latest p00005: %v, want deleted", err)
	}
	// A view cannot write.
	if _, err := old.Commit(ctx, "c", batch(1, 1), nil); err == nil {
		t.Fatal("a view at a past version wrote")
	}
}

// TestRollbackUnanchored: the writes after the anchored version are undone
// whole; the store is then exactly the anchored version, commits go on
// from it, and a second rollback has nothing to do.
func TestRollbackUnanchored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, v1, root1 := anchoredStore(t, dir)
	sc := schema(t)
	h, err := st.Head("c")
	if err != nil || h.Version <= v1 {
		t.Fatalf("head %v %v: want a version after v1", h, err)
	}
	restored, to, err := st.RollbackUnanchored(ctx, "c")
	if err != nil || to != v1 || restored < 12 {
		t.Fatalf("rollback: %d entries to %d, %v; want >= 12 to %d", restored, to, err, v1)
	}
	checkConsistent(t, st, "c", sc, 20)
	c, _ := st.Collection("c")
	if c.Root != root1 {
		t.Fatal("rolled back root is not the anchored one")
	}
	if w, err := st.Record(ctx, "c", "p00003"); err != nil || w.Raw.Values[0] != "103" {
		t.Fatalf("p00003 after rollback: %v", err)
	}
	if _, err := st.Record(ctx, "c", "p00005"); err != nil {
		t.Fatalf("deleted p00005 is back: %v", err)
	}
	if _, err := st.Record(ctx, "c", "p00025"); !errors.Is(err, holder.ErrNotFound) {
		t.Fatalf("p00025 after rollback: %v", err)
	}
	if n, _, err := st.RollbackUnanchored(ctx, "c"); err != nil || n != 0 {
		t.Fatalf("second rollback: %d %v, want nothing to do", n, err)
	}
	// It survives a reopen: the head is the anchored version again.
	st.Close()
	st = open(t, dir)
	defer st.Close()
	if n, _, err := st.RollbackUnanchored(ctx, "c"); err != nil || n != 0 {
		t.Fatalf("rollback after reopen: %d %v, want nothing to do", n, err)
	}
	// Committing the same changes again gives a consistent store.
	second := slices.Concat(batch(30, 5000)[20:], []records.Record{{Key: "p00003", Values: []string{"777", "south"}}})
	if _, err := st.Commit(ctx, "c", second, nil); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, st, "c", sc, 30)
}

// TestRollbackNeverAnchored: a collection with no anchored version rolls
// back to its creation, empty.
func TestRollbackNeverAnchored(t *testing.T) {
	ctx := context.Background()
	st := open(t, "")
	defer st.Close()
	sc := schema(t)
	if _, err := st.CreateCollection(ctx, "c", sc); err != nil {
		t.Fatal(err)
	}
	holder.SetChunk(st, 3)
	if _, err := st.Commit(ctx, "c", batch(10, 1), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.RollbackUnanchored(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	c, _ := st.Collection("c")
	if c.Count != 0 || c.Root != records.ElementHex(fr.Element{}) {
		t.Fatalf("after rollback: count %d root %s, want empty", c.Count, c.Root)
	}
	if keys, _ := st.Keys("c"); len(keys) != 0 {
		t.Fatalf("records left: %v", keys)
	}
}

// TestMarkAndPrune: versions are marked in order, the newest is always
// kept, and the kept list survives a reopen.
func TestMarkAndPrune(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := open(t, dir)
	sc := schema(t)
	if _, err := st.CreateCollection(ctx, "c", sc); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := 1; i <= 4; i++ {
		res, err := st.Commit(ctx, "c", batch(i*3, i), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.MarkAnchored(ctx, "c", res.Version, uint64(i), now); err != nil {
			t.Fatal(err)
		}
		// Marking again is a no-op.
		if err := st.MarkAnchored(ctx, "c", res.Version, uint64(i), now); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := st.Versions("c")
	if err != nil || len(vs) != 4 {
		t.Fatalf("versions: %d %v, want 4", len(vs), err)
	}
	for i, a := range vs {
		if a.Sequence != uint64(i+1) || (i < 3) != (a.Replaced != 0) {
			t.Fatalf("version %d: %+v", i, a)
		}
	}
	if n, err := st.Prune(ctx, "c", func(a holder.AnchoredVersion) bool { return a.Sequence >= 3 }); err != nil || n != 2 {
		t.Fatalf("prune: %d %v, want 2", n, err)
	}
	if n, err := st.Prune(ctx, "c", func(holder.AnchoredVersion) bool { return false }); err != nil || n != 1 {
		t.Fatalf("prune all: %d %v, want 1 (the newest stays)", n, err)
	}
	st.Close()
	st = open(t, dir)
	defer st.Close()
	vs, err = st.Versions("c")
	if err != nil || len(vs) != 1 || vs[0].Sequence != 4 {
		t.Fatalf("after reopen: %+v %v", vs, err)
	}
	// The newest kept version still reads.
	if c, err := st.At(vs[0].Version).Collection("c"); err != nil || c.Count != 12 {
		t.Fatalf("kept version: %v", err)
	}
	// A later write gets a later version than anything before the reopen.
	res, err := st.Commit(ctx, "c", batch(1, 9), nil)
	if err != nil || res.Version <= vs[0].Version {
		t.Fatalf("version after reopen: %d, want > %d (%v)", res.Version, vs[0].Version, err)
	}
	// Marking a version whose root is not the collection's fails cleanly.
	if err := st.MarkAnchored(ctx, "nosuch", res.Version, 5, now); !errors.Is(err, holder.ErrNotFound) {
		t.Fatalf("mark unknown collection: %v", err)
	}
}
