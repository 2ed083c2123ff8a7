package holder_test

import (
	"context"
	"testing"

	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/tree"
)

// TestAggregateSnapshot: the regions hold every live record once, opened
// with its stored values, and rebuild the collection's root.
func TestAggregateSnapshot(t *testing.T) {
	ctx := context.Background()
	st := open(t, "")
	defer st.Close()
	sc := schema(t)
	if _, err := st.CreateCollection(ctx, "c", sc); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, "c", batch(2000, 1000), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Delete(ctx, "c", []string{"p00007", "p01500"}); err != nil {
		t.Fatal(err)
	}
	c, regs, root, err := st.AggregateSnapshot(ctx, "c", 512, 768)
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 8 {
		t.Fatalf("%d regions for 1998 records, want the 8 cells of depth 3", len(regs))
	}
	want, _ := records.ParseElement(c.Root)
	if !root.Equal(&want) {
		t.Fatal("snapshot root is not the collection's")
	}
	var roots []tree.RegionRoot
	seen := map[string]bool{}
	n := 0
	for _, r := range regs {
		roots = append(roots, tree.RegionRoot{Pos: tree.Pos{Depth: r.Depth, Prefix: r.Prefix}, Root: r.Root})
		for _, l := range r.Leaves {
			n++
			seen[records.ElementHex(l.Key)] = true
		}
	}
	if n != 1998 || len(seen) != 1998 {
		t.Fatalf("%d leaves (%d distinct) in the regions, want 1998", n, len(seen))
	}
	if seen[records.ElementHex(records.KeyDigest("p00007"))] {
		t.Fatal("a deleted record is in a region")
	}
	got, err := tree.RootOfRegions(roots)
	if err != nil || !got.Equal(&root) {
		t.Fatalf("regions do not rebuild the root: %v", err)
	}
}
