package holder_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/records"
)

// wideSchema has 16 string fields: a record of 16 values of 1,000 bytes
// (each under the node's MaxValueBytes) is a 16 KB entry.
func wideSchema(t *testing.T) *records.Schema {
	t.Helper()
	var fields []string
	for i := range 16 {
		fields = append(fields, fmt.Sprintf(`{"name":"f%d","type":"string"}`, i))
	}
	s, err := records.ParseSchema([]byte(`{"name":"wide","key":"id","fields":[` + strings.Join(fields, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wideBatch(n int, fill byte) []records.Record {
	out := make([]records.Record, n)
	for i := range out {
		vals := make([]string, 16)
		for j := range vals {
			vals[j] = fmt.Sprintf("%04d", i) + strings.Repeat(string(fill), 996)
		}
		out[i] = records.Record{Key: fmt.Sprintf("w%05d", i), Values: vals}
	}
	return out
}

// TestAttack16RollbackOfLargeUpdate: an update of 1,000 wide records (16
// MB of values) is committed (Commit halves its chunks until badger takes
// them) but never anchored. Rolling it back must work: Rollback restores up
// to 4,096 keys per transaction and never halves, so the first batch (16
// MB of old values) is ErrTxnTooBig, every time. The node's undo and its
// start-up recovery then leave the unanchored update in the head, and the
// next commit anchors it.
//
// Found in the review of issue 16 and fixed; the test keeps it fixed.
func TestAttack16RollbackOfLargeUpdate(t *testing.T) {
	ctx := context.Background()
	st, err := holder.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateCollection(ctx, "w", wideSchema(t)); err != nil {
		t.Fatal(err)
	}
	res, err := st.Commit(ctx, "w", wideBatch(1000, 'a'), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.MarkAnchored(ctx, "w", res.Version, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	anchored, _ := st.Collection("w")
	// The update that is never anchored (its anchor failed, or the node
	// stopped before it).
	if _, err := st.Commit(ctx, "w", wideBatch(1000, 'b'), nil); err != nil {
		t.Fatal(err)
	}
	n, to, err := st.RollbackUnanchored(ctx, "w")
	if err != nil {
		t.Fatalf("roll back of an unanchored update of 1,000 wide records failed (%d entries, to %d): %v", n, to, err)
	}
	c, _ := st.Collection("w")
	if c.Root != anchored.Root {
		t.Fatalf("after the rollback the head is not the anchored version")
	}
}

// TestAttack16DeviceCollectionPinsDiscard: a device-fed collection has a
// versions key whose Base (its creation) never moves and no anchored
// versions, so discard (and a backup's pin floor) never passes it: once a
// store has one, badger keeps every old version of every collection for
// ever. A record the holder deleted (and whose deletion was anchored and
// the older versions pruned) keeps its values and salt in the store and in
// every backup. Without the device collection the backup leaves them out.
//
// Found in the review of issue 16 and fixed; the test keeps it fixed.
func TestAttack16DeviceCollectionPinsDiscard(t *testing.T) {
	const secret = "SECRET-VALUE-4242"
	run := func(t *testing.T, device bool) bool {
		ctx := context.Background()
		st, err := holder.Open("", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if device {
			if _, err := st.CreateDeviceCollection(ctx, "d", schema(t)); err != nil {
				t.Fatal(err)
			}
		}
		sc, err := records.ParseSchema([]byte(`{"name":"s","key":"id","fields":[{"name":"note","type":"string"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateCollection(ctx, "c", sc); err != nil {
			t.Fatal(err)
		}
		r1, err := st.Commit(ctx, "c", []records.Record{{Key: "alice", Values: []string{secret}}, {Key: "bob", Values: []string{"x"}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		long := time.Now().Add(-24 * time.Hour)
		if err := st.MarkAnchored(ctx, "c", r1.Version, 1, long); err != nil {
			t.Fatal(err)
		}
		r2, err := st.Delete(ctx, "c", []string{"alice"})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.MarkAnchored(ctx, "c", r2.Version, 2, long); err != nil {
			t.Fatal(err)
		}
		// The version with alice is forgotten: nothing may read it now.
		if n, err := st.Prune(ctx, "c", func(holder.AnchoredVersion) bool { return false }); err != nil || n != 1 {
			t.Fatalf("prune: %d %v", n, err)
		}
		var buf bytes.Buffer
		if err := st.Backup(ctx, &buf, st.Now()); err != nil {
			t.Fatal(err)
		}
		return bytes.Contains(buf.Bytes(), []byte(secret))
	}
	if run(t, false) {
		t.Fatal("control: without a device collection the deleted value is in the backup too (the test is wrong)")
	}
	if run(t, true) {
		t.Fatal("a store with a device-fed collection keeps a deleted, pruned record's values for ever: its backup still holds them (the device collection's Base pins discard and the backup floor)")
	}
}
