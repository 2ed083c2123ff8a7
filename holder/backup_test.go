package holder_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/records"
)

// TestBackupAtVersion backs a store up at a version while a later commit
// exists: the restored store is that version, whole, and nothing after it.
// An older anchored version, still kept (a verifier accepts its root for a
// while), stays readable although a record it reads was deleted since: a
// backup that stops at a key's newest tombstone, as badger's Stream.Backup
// does, loses it.
func TestBackupAtVersion(t *testing.T) {
	ctx := t.Context()
	st := open(t, filepath.Join(t.TempDir(), "src"))
	defer st.Close()
	sc := schema(t)
	if _, err := st.CreateCollection(ctx, "c", sc); err != nil {
		t.Fatal(err)
	}
	res, err := st.Commit(ctx, "c", batch(40, 1000), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.MarkAnchored(ctx, "c", res.Version, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	oldRec, err := st.Record(ctx, "c", "p00003")
	if err != nil {
		t.Fatal(err)
	}
	// The next anchored version deletes p00003.
	if res, err = st.Delete(ctx, "c", []string{"p00003"}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkAnchored(ctx, "c", res.Version, 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	wantVs, err := st.Versions("c")
	if err != nil || len(wantVs) != 2 {
		t.Fatalf("versions %+v, %v", wantVs, err)
	}
	at := st.Now()
	want, err := st.Head("c")
	if err != nil {
		t.Fatal(err)
	}
	wantRec, err := st.Record(ctx, "c", "p00004")
	if err != nil {
		t.Fatal(err)
	}
	// A later commit the backup must not hold.
	if _, err := st.Commit(ctx, "c", []records.Record{{Key: "later", Values: []string{"7", "south"}}, {Key: "p00004", Values: []string{"1", "north"}}}, nil); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	if err := st.Backup(ctx, &buf, at); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if err := holder.Restore(dir, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	got := open(t, dir)
	defer got.Close()
	if got.Now() > at {
		t.Fatalf("restored store is at version %d, after the backup's %d", got.Now(), at)
	}
	h, err := got.Head("c")
	if err != nil {
		t.Fatal(err)
	}
	if !h.Root.Equal(&want.Root) || h.Count != want.Count {
		t.Fatalf("restored head: root %s count %d, want %s %d", records.ElementHex(h.Root), h.Count, records.ElementHex(want.Root), want.Count)
	}
	rec, err := got.Record(ctx, "c", "p00004")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Raw.Values[0] != wantRec.Raw.Values[0] || !rec.Record.Salt.Equal(&wantRec.Record.Salt) {
		t.Fatalf("restored record %v, want %v", rec.Raw, wantRec.Raw)
	}
	verifyWitness(t, got, rec, sc)
	if _, err := got.Record(ctx, "c", "later"); !errors.Is(err, holder.ErrNotFound) {
		t.Fatalf("the restored store reads a commit after the backup: %v", err)
	}
	if _, err := got.Record(ctx, "c", "p00003"); !errors.Is(err, holder.ErrNotFound) {
		t.Fatalf("the restored head reads a deleted record: %v", err)
	}
	vs, err := got.Versions("c")
	if err != nil || len(vs) != 2 || vs[0] != wantVs[0] || vs[1] != wantVs[1] {
		t.Fatalf("restored versions %+v, %v; want %+v", vs, err, wantVs)
	}
	// The older anchored version reads what it read before.
	old, err := got.At(vs[0].Version).Record(ctx, "c", "p00003")
	if err != nil {
		t.Fatalf("the older anchored version lost a record deleted after it: %v", err)
	}
	if !old.Root.Equal(&oldRec.Root) || !old.Record.Salt.Equal(&oldRec.Record.Salt) {
		t.Fatal("the older anchored version reads another record or root")
	}
	// The restored store takes commits at new versions.
	if _, err := got.Commit(ctx, "c", batch(1, 5), nil); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreRefusesBadStreams: a frame declaring more than a restore
// accepts fails before anything allocates it, a stream cut inside a frame
// fails, and a store is never restored over another.
func TestRestoreRefusesBadStreams(t *testing.T) {
	ctx := t.Context()
	huge := binary.LittleEndian.AppendUint64(nil, 1<<40)
	if err := holder.Restore(filepath.Join(t.TempDir(), "h"), bytes.NewReader(huge)); !errors.Is(err, holder.ErrBackupFrame) {
		t.Fatalf("a 1 TiB frame: %v", err)
	}

	st := open(t, "")
	defer st.Close()
	if _, err := st.CreateCollection(ctx, "c", schema(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, "c", batch(10, 0), nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := st.Backup(ctx, &buf, st.Now()); err != nil {
		t.Fatal(err)
	}
	cut := buf.Bytes()[:buf.Len()-5]
	if err := holder.Restore(filepath.Join(t.TempDir(), "h"), bytes.NewReader(cut)); err == nil {
		t.Fatal("a stream cut inside a frame was restored")
	}
	dir := filepath.Join(t.TempDir(), "h")
	if err := holder.Restore(dir, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := holder.Restore(dir, bytes.NewReader(buf.Bytes())); err == nil {
		t.Fatal("restored over an existing store")
	}
	if err := st.Backup(ctx, &buf, st.Now()+1); err == nil {
		t.Fatal("backed up a version the store has not reached")
	}
}

// TestRestoreEncrypted: a store restored with a key is encrypted at rest
// with it, and opens only with it.
func TestRestoreEncrypted(t *testing.T) {
	ctx := t.Context()
	st := open(t, "")
	defer st.Close()
	if _, err := st.CreateCollection(ctx, "c", schema(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, "c", batch(5, 0), nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := st.Backup(ctx, &buf, st.Now()); err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	dir := filepath.Join(t.TempDir(), "h")
	if err := holder.Restore(dir, &buf, holder.WithEncryptionKey(key)); err != nil {
		t.Fatal(err)
	}
	if s, err := holder.Open(dir, nil); err == nil {
		s.Close()
		t.Fatal("an encrypted restored store opened without its key")
	}
	s, err := holder.Open(dir, nil, holder.WithEncryptionKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, err := s.Collection("c"); err != nil || c.Count != 5 {
		t.Fatalf("restored collection %+v, %v", c, err)
	}
}
