package holder_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/tree"
	"github.com/zkshare/zkshare/zkhash"
)

func deviceSchema(t testing.TB) *records.Schema {
	s, err := records.ParseSchema([]byte(`{"name":"thermo","key":"id","fields":[
	 {"name":"celsius","type":"int","width":16},{"name":"note","type":"string"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// device makes n readings of one device as the device does: values, a
// fresh salt, and the leaf over them; the ledger attests the reading, the
// opening goes to the holder.
func device(t testing.TB, sc *records.Schema, id string, n int) ([]holder.Reading, []holder.Opening) {
	t.Helper()
	salts := make([]fr.Element, n)
	if err := holder.FreshSalts(salts); err != nil {
		t.Fatal(err)
	}
	rs := make([]holder.Reading, n)
	ops := make([]holder.Opening, n)
	for i := range n {
		key := fmt.Sprintf("%s/%d", id, i) // device.ReadingKey's form
		values := []string{fmt.Sprint(i%80 - 20), fmt.Sprintf("reading %d", i)}
		rs[i] = holder.Reading{Key: key, Leaf: deviceLeaf(t, sc, key, values, salts[i])}
		ops[i] = holder.Opening{Key: key, Values: values, Salt: salts[i]}
	}
	return rs, ops
}

func deviceLeaf(t testing.TB, sc *records.Schema, key string, values []string, salt fr.Element) fr.Element {
	t.Helper()
	_, slots, err := sc.Encode(&records.Record{Key: key, Values: values})
	if err != nil {
		t.Fatal(err)
	}
	return zkhash.Leaf(sc.ID(), records.KeyDigest(key), salt, &slots)
}

// ledgerRoot is the root the ledger computes from the same readings.
func ledgerRoot(t testing.TB, rs []holder.Reading) fr.Element {
	t.Helper()
	ch := make([]tree.Change, len(rs))
	for i, r := range rs {
		ch[i] = tree.Change{Op: tree.Insert, Path: zkhash.KeyPath(records.KeyDigest(r.Key)), Leaf: r.Leaf, Ref: r.Key}
	}
	root, err := tree.Apply(context.Background(), tree.NewMemory(), ch)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func deviceStore(t *testing.T, sc *records.Schema) *holder.Store {
	t.Helper()
	st := open(t, "")
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateDeviceCollection(t.Context(), "d", sc); err != nil {
		t.Fatal(err)
	}
	return st
}

func collection(t *testing.T, st *holder.Store) *holder.Collection {
	t.Helper()
	c, err := st.Collection("d")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addReadings(t *testing.T, st *holder.Store, through uint64, rs []holder.Reading) *holder.CommitResult {
	t.Helper()
	res, err := st.AddReadings(t.Context(), "d", through, rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func putOpenings(t *testing.T, st *holder.Store, ops []holder.Opening) int {
	t.Helper()
	n, err := st.PutOpenings(t.Context(), "d", ops)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func checkCounts(t *testing.T, st *holder.Store, count, unopened, pending uint64) {
	t.Helper()
	c := collection(t, st)
	if c.Count != count || c.Unopened != unopened || c.Pending != pending {
		t.Fatalf("count %d, unopened %d, pending %d; want %d, %d, %d", c.Count, c.Unopened, c.Pending, count, unopened, pending)
	}
}

// checkWitness: an opened reading's witness leads to the collection root.
func checkWitness(t *testing.T, st *holder.Store, sc *records.Schema, key string) {
	t.Helper()
	w, err := st.Record(t.Context(), "d", key)
	if err != nil {
		t.Fatalf("record %s: %v", key, err)
	}
	got, err := zkhash.TrieRoot(w.Record.Leaf(sc.ID()), zkhash.KeyPath(w.Record.Key), w.Record.Depth, &w.Record.Siblings)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := records.ParseElement(collection(t, st).Root)
	if !got.Equal(&want) || !got.Equal(&w.Root) {
		t.Fatalf("witness of %s does not lead to the root", key)
	}
}

// TestReadingsMirrorLedger: whatever the order, the split into calls and
// the chunking, and whichever openings came first, the holder's root is
// the ledger's.
func TestReadingsMirrorLedger(t *testing.T) {
	sc := deviceSchema(t)
	rs, ops := device(t, sc, "dev-a", 150)
	more, _ := device(t, sc, "dev-b", 50)
	rs = append(rs, more...)
	want := ledgerRoot(t, rs)
	shuffled := slices.Clone(rs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	reversed := slices.Clone(rs)
	slices.Reverse(reversed)
	for _, tc := range []struct {
		name  string
		order []holder.Reading
		calls int
		chunk int
	}{
		{"one call, one chunk", rs, 1, 1000},
		{"one call, chunks of 1", rs, 1, 1},
		{"reversed, chunks of 7", reversed, 3, 7},
		{"shuffled, chunks of 64", shuffled, 4, 64},
		{"shuffled, a call per reading", shuffled, len(rs), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := deviceStore(t, sc)
			holder.SetChunk(st, tc.chunk)
			putOpenings(t, st, ops[:40]) // before their readings
			per := (len(tc.order) + tc.calls - 1) / tc.calls
			inserted, opened := 0, 0
			for lo := 0; lo < len(tc.order); lo += per {
				res := addReadings(t, st, uint64(lo), tc.order[lo:min(lo+per, len(tc.order))])
				inserted, opened = inserted+res.Inserted, opened+res.Opened
			}
			c := collection(t, st)
			if c.Root != records.ElementHex(want) {
				t.Fatal("holder root is not the ledger's")
			}
			if inserted != len(rs) || opened != 40 {
				t.Fatalf("inserted %d, opened %d; want %d, 40", inserted, opened, len(rs))
			}
			checkCounts(t, st, uint64(len(rs)), uint64(len(rs)-40), 0)
			checkWitness(t, st, sc, ops[7].Key)
		})
	}
}

// TestOpeningAfterReading: an opening that arrives after its attested
// reading opens the leaf, and its witness verifies.
func TestOpeningAfterReading(t *testing.T) {
	sc := deviceSchema(t)
	st := deviceStore(t, sc)
	rs, ops := device(t, sc, "dev", 20)
	addReadings(t, st, 1, rs)
	checkCounts(t, st, 20, 20, 0)
	if _, err := st.Record(t.Context(), "d", ops[3].Key); !errors.Is(err, holder.ErrNotOpened) || !strings.Contains(err.Error(), "collection d") {
		t.Fatalf("unopened record: %v", err)
	}
	if n := putOpenings(t, st, ops[:5]); n != 5 {
		t.Fatalf("opened %d, want 5", n)
	}
	checkCounts(t, st, 20, 15, 0)
	for _, op := range ops[:5] {
		checkWitness(t, st, sc, op.Key)
	}
	w, err := st.Record(t.Context(), "d", ops[3].Key)
	if err != nil || !slices.Equal(w.Raw.Values, ops[3].Values) || w.Version != 0 {
		t.Fatalf("opened record: %+v, %v", w, err)
	}
	// The same openings again change nothing.
	if n := putOpenings(t, st, ops[:5]); n != 0 {
		t.Fatalf("repeated openings opened %d", n)
	}
	checkCounts(t, st, 20, 15, 0)
	if _, err := st.Record(t.Context(), "d", "dev/999"); !errors.Is(err, holder.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
}

// TestAlteredOpening: an opening with a changed value or another salt does
// not open the reading, and rejects the whole call.
func TestAlteredOpening(t *testing.T) {
	sc := deviceSchema(t)
	var other [1]fr.Element
	if err := holder.FreshSalts(other[:]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		alter func(*holder.Opening)
	}{
		{"value", func(op *holder.Opening) { op.Values = []string{"41", op.Values[1]} }},
		{"string value", func(op *holder.Opening) { op.Values = []string{op.Values[0], "forged"} }},
		{"salt", func(op *holder.Opening) { op.Salt = other[0] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := deviceStore(t, sc)
			rs, ops := device(t, sc, "dev", 3)
			bad := ops[1]
			bad.Values = slices.Clone(bad.Values)
			tc.alter(&bad)

			// Attested first: mismatch, and the good opening in the same
			// call is not written either.
			addReadings(t, st, 1, rs[:2])
			if _, err := st.PutOpenings(t.Context(), "d", []holder.Opening{ops[0], bad}); !errors.Is(err, holder.ErrOpeningMismatch) {
				t.Fatalf("altered opening: %v", err)
			}
			for _, k := range []string{ops[0].Key, ops[1].Key} {
				if _, err := st.Record(t.Context(), "d", k); !errors.Is(err, holder.ErrNotOpened) {
					t.Fatalf("record %s after a rejected call: %v", k, err)
				}
			}
			checkCounts(t, st, 2, 2, 0)

			// Once opened, another opening of the key is a mismatch too.
			putOpenings(t, st, ops[1:2])
			if _, err := st.PutOpenings(t.Context(), "d", []holder.Opening{bad}); !errors.Is(err, holder.ErrOpeningMismatch) {
				t.Fatalf("altered opening of an opened reading: %v", err)
			}

			// Before its reading: kept, then dropped when the reading
			// arrives; the right opening opens it afterwards.
			alt := ops[2]
			alt.Values = slices.Clone(alt.Values)
			tc.alter(&alt)
			putOpenings(t, st, []holder.Opening{alt})
			if _, err := st.PutOpenings(t.Context(), "d", ops[2:3]); !errors.Is(err, holder.ErrOpeningMismatch) {
				t.Fatalf("a second, different waiting opening: %v", err)
			}
			checkCounts(t, st, 2, 1, 1)
			if res := addReadings(t, st, 2, rs[2:]); res.Opened != 0 {
				t.Fatal("a mismatched waiting opening opened its reading")
			}
			checkCounts(t, st, 3, 2, 0)
			if n := putOpenings(t, st, ops); n != 2 {
				t.Fatalf("opened %d, want 2", n)
			}
			checkCounts(t, st, 3, 0, 0)
			checkWitness(t, st, sc, ops[2].Key)
		})
	}
}

// TestBadOpeningsWriteNothing: an opening that does not fit the schema
// rejects the call; the error names it by index.
func TestBadOpeningsWriteNothing(t *testing.T) {
	sc := deviceSchema(t)
	_, ops := device(t, sc, "dev", 3)
	for _, tc := range []struct {
		name string
		bad  holder.Opening
		want string
	}{
		{"out of range", holder.Opening{Key: "dev/9", Values: []string{"99999", "x"}}, "opening #3"},
		{"too few values", holder.Opening{Key: "dev/9", Values: []string{"1"}}, "opening #3"},
		{"no key", holder.Opening{Values: []string{"1", "x"}}, "opening #3"},
		{"repeated key", ops[0], "opening #3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := deviceStore(t, sc)
			_, err := st.PutOpenings(t.Context(), "d", []holder.Opening{ops[0], ops[1], tc.bad})
			if !errors.Is(err, records.ErrInvalidBatch) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an invalid batch naming %s", err, tc.want)
			}
			checkCounts(t, st, 0, 0, 0)
		})
	}
}

// TestHolderCannotWriteDeviceCollection: commits and deletes are refused
// on a device-fed collection; readings and openings on any other.
func TestHolderCannotWriteDeviceCollection(t *testing.T) {
	sc := deviceSchema(t)
	st := deviceStore(t, sc)
	rs, ops := device(t, sc, "dev", 4)
	addReadings(t, st, 1, rs)
	putOpenings(t, st, ops[:2])
	before := collection(t, st)
	if _, err := st.Commit(t.Context(), "d", []records.Record{{Key: "dev/9", Values: []string{"1", "x"}}}, nil); !errors.Is(err, holder.ErrDeviceFed) {
		t.Fatalf("commit: %v", err)
	}
	if _, err := st.Commit(t.Context(), "d", []records.Record{{Key: ops[0].Key, Values: []string{"1", "x"}}}, nil); !errors.Is(err, holder.ErrDeviceFed) {
		t.Fatalf("commit over a reading: %v", err)
	}
	for _, k := range []string{ops[0].Key, ops[3].Key} {
		if _, err := st.Delete(t.Context(), "d", []string{k}); !errors.Is(err, holder.ErrDeviceFed) {
			t.Fatalf("delete %s: %v", k, err)
		}
	}
	if after := collection(t, st); after.Root != before.Root || after.Count != before.Count || after.Next != before.Next || after.Unopened != before.Unopened {
		t.Fatalf("refused writes changed the collection: %+v, was %+v", after, before)
	}
	checkWitness(t, st, sc, ops[0].Key)

	if _, err := st.CreateCollection(t.Context(), "c", sc); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddReadings(t.Context(), "c", 1, rs, nil); !errors.Is(err, holder.ErrNotDeviceFed) {
		t.Fatalf("readings into a holder's collection: %v", err)
	}
	if _, err := st.PutOpenings(t.Context(), "c", ops); !errors.Is(err, holder.ErrNotDeviceFed) {
		t.Fatalf("openings into a holder's collection: %v", err)
	}
}

// TestReAddReadings: a re-sync that sends readings again adds nothing; a
// reading whose key is in the tree with another leaf is a conflict, and
// its chunk writes nothing.
func TestReAddReadings(t *testing.T) {
	sc := deviceSchema(t)
	st := deviceStore(t, sc)
	rs, ops := device(t, sc, "dev", 30)
	addReadings(t, st, 10, rs[:20])
	putOpenings(t, st, ops[:5])
	root := collection(t, st).Root

	res := addReadings(t, st, 11, rs[:20])
	if res.Inserted != 0 || collection(t, st).Root != root {
		t.Fatalf("re-added readings changed the tree: %+v", res)
	}
	res = addReadings(t, st, 12, append(slices.Clone(rs[10:]), rs[25])) // overlap, and a repeat in the call
	if res.Inserted != 10 || res.Count != 30 {
		t.Fatalf("overlapping re-sync: %+v", res)
	}
	checkCounts(t, st, 30, 25, 0)
	if c := collection(t, st); c.Root != records.ElementHex(ledgerRoot(t, rs)) || c.Synced != 12 {
		t.Fatalf("after re-sync: synced %d, or root not the ledger's", c.Synced)
	}

	_, others := device(t, sc, "dev", 30) // same keys, other salts
	root = collection(t, st).Root
	for _, tc := range []struct {
		name string
		rs   []holder.Reading
		want error
	}{
		{"opened key, other leaf", []holder.Reading{{Key: ops[2].Key, Leaf: deviceLeaf(t, sc, ops[2].Key, ops[2].Values, others[2].Salt)}}, holder.ErrReadingConflict},
		{"unopened key, other leaf", []holder.Reading{{Key: ops[12].Key, Leaf: deviceLeaf(t, sc, ops[12].Key, ops[12].Values, others[12].Salt)}}, holder.ErrReadingConflict},
		{"one key, two leaves in a call", []holder.Reading{{Key: "dev/77", Leaf: rs[0].Leaf}, {Key: "dev/77", Leaf: rs[1].Leaf}}, holder.ErrReadingConflict},
		{"new readings beside a conflict", append(slices.Clone(more(t, sc)), holder.Reading{Key: ops[2].Key, Leaf: rs[3].Leaf}), holder.ErrReadingConflict},
		{"no key", []holder.Reading{{Leaf: rs[0].Leaf}}, records.ErrInvalidBatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := st.AddReadings(t.Context(), "d", 99, tc.rs, nil); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			c := collection(t, st)
			if c.Root != root || c.Count != 30 || c.Synced != 12 {
				t.Fatalf("a rejected call wrote: count %d, synced %d", c.Count, c.Synced)
			}
		})
	}
}

func more(t testing.TB, sc *records.Schema) []holder.Reading {
	t.Helper()
	rs, _ := device(t, sc, "dev-new", 5)
	return rs
}

// TestAbsenceBesideUnopened: a key whose walk ends on an unopened reading
// cannot be proven absent until it is opened; the unopened key itself is
// present.
func TestAbsenceBesideUnopened(t *testing.T) {
	sc := deviceSchema(t)
	st := deviceStore(t, sc)
	rs, ops := device(t, sc, "dev", 1)
	addReadings(t, st, 1, rs) // a lone leaf: every key's walk ends on it
	if _, err := st.Absence(t.Context(), "d", "nobody"); !errors.Is(err, holder.ErrNotOpened) {
		t.Fatalf("absence beside an unopened reading: %v", err)
	}
	if _, err := st.Absence(t.Context(), "d", ops[0].Key); !errors.Is(err, holder.ErrPresent) {
		t.Fatalf("absence of the unopened reading: %v", err)
	}
	putOpenings(t, st, ops)
	w, err := st.Absence(t.Context(), "d", "nobody")
	if err != nil || w.Absence.Other == nil {
		t.Fatalf("absence beside an opened reading: %+v, %v", w, err)
	}
}

// TestAggregateNeedsOpenings: no aggregate over readings lacking their
// openings; one once all are opened.
func TestAggregateNeedsOpenings(t *testing.T) {
	sc := deviceSchema(t)
	st := deviceStore(t, sc)
	rs, ops := device(t, sc, "dev", 40)
	addReadings(t, st, 1, rs)
	putOpenings(t, st, ops[:39])
	_, _, _, err := st.AggregateSnapshot(t.Context(), "d", 512, 768)
	if !errors.Is(err, holder.ErrNotOpened) || !strings.Contains(err.Error(), "1 readings") {
		t.Fatalf("aggregate with an unopened reading: %v", err)
	}
	putOpenings(t, st, ops[39:])
	_, regs, root, err := st.AggregateSnapshot(t.Context(), "d", 512, 768)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range regs {
		n += len(r.Leaves)
	}
	if want := ledgerRoot(t, rs); n != 40 || !root.Equal(&want) {
		t.Fatalf("%d leaves in the snapshot, or its root is not the ledger's", n)
	}
}

// TestDeviceStateSurvivesReopen: the cursor, the unopened count and the
// waiting openings are on disk.
func TestDeviceStateSurvivesReopen(t *testing.T) {
	sc := deviceSchema(t)
	dir := t.TempDir()
	st := open(t, dir)
	if _, err := st.CreateDeviceCollection(t.Context(), "d", sc); err != nil {
		t.Fatal(err)
	}
	rs, ops := device(t, sc, "dev", 10)
	addReadings(t, st, 42, rs[:8])
	putOpenings(t, st, ops[6:])
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = open(t, dir)
	defer st.Close()
	c := collection(t, st)
	if !c.Devices || c.Synced != 42 || c.Count != 8 || c.Unopened != 6 || c.Pending != 2 {
		t.Fatalf("after reopen: %+v", c)
	}
	if res := addReadings(t, st, 43, rs[8:]); res.Opened != 2 {
		t.Fatalf("waiting openings lost: %+v", res)
	}
	checkWitness(t, st, sc, ops[9].Key)
	if c := collection(t, st); c.Synced != 43 {
		t.Fatalf("synced %d, want 43", c.Synced)
	}
}

// TestDeviceErrorsKeepSecrets: no error or log line of readings and
// openings repeats a value or a salt.
func TestDeviceErrorsKeepSecrets(t *testing.T) {
	sc := deviceSchema(t)
	var logs bytes.Buffer
	st, err := holder.Open("", slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateDeviceCollection(t.Context(), "d", sc); err != nil {
		t.Fatal(err)
	}
	rs, ops := device(t, sc, "dev", 4)
	const canary = "canary-7f3a91"
	secrets := []string{canary, "-31337"}
	for _, op := range ops {
		secrets = append(secrets, op.Values[1], records.ElementHex(op.Salt), op.Salt.String(), fmt.Sprintf("%x", op.Salt.Bytes()))
	}
	forged := func(op holder.Opening, values ...string) holder.Opening {
		op.Values = values
		return op
	}
	var errs []error
	call := func(err error) {
		if err == nil {
			t.Fatal("a bad call succeeded")
		}
		errs = append(errs, err)
	}
	addReadings(t, st, 1, rs[:2])
	putOpenings(t, st, []holder.Opening{forged(ops[3], "3", canary)}) // waits, then is dropped
	addReadings(t, st, 2, rs[2:])
	_, err = st.PutOpenings(t.Context(), "d", []holder.Opening{forged(ops[0], "1", canary)})
	call(err)
	_, err = st.PutOpenings(t.Context(), "d", []holder.Opening{forged(ops[1], canary, "x")})
	call(err)
	_, err = st.PutOpenings(t.Context(), "d", []holder.Opening{forged(ops[1], "-31337", ops[1].Values[1])})
	call(err)
	_, err = st.PutOpenings(t.Context(), "d", []holder.Opening{ops[1], ops[1]})
	call(err)
	putOpenings(t, st, ops[:1])
	_, err = st.PutOpenings(t.Context(), "d", []holder.Opening{forged(ops[0], "1", canary)})
	call(err)
	_, err = st.AddReadings(t.Context(), "d", 3, []holder.Reading{{Key: ops[0].Key, Leaf: rs[1].Leaf}}, nil)
	call(err)
	_, err = st.Record(t.Context(), "d", ops[2].Key)
	call(err)
	if !strings.Contains(logs.String(), "dropped") {
		t.Fatal("a dropped opening was not logged")
	}
	for _, err := range errs {
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q repeats a secret", err)
			}
		}
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("logs repeat a secret %q:\n%s", s, logs.String())
		}
	}
}

// TestFailedSyncLeavesPrefix: a sync that fails in a later chunk keeps
// the chunks before it, a tree the ledger also had, and not its cursor;
// sending it again, fixed, completes it.
func TestFailedSyncLeavesPrefix(t *testing.T) {
	sc := deviceSchema(t)
	st := deviceStore(t, sc)
	holder.SetChunk(st, 4)
	old, _ := device(t, sc, "old", 1)
	addReadings(t, st, 1, old)
	oldPath := zkhash.KeyPath(records.KeyDigest(old[0].Key))
	// New readings all before the old key in path order, so the
	// conflicting re-send of the old key falls in the last chunk.
	var fresh []holder.Reading
	all, _ := device(t, sc, "new", 60)
	for _, r := range all {
		if zkhash.KeyPath(records.KeyDigest(r.Key)) < oldPath {
			fresh = append(fresh, r)
		}
	}
	if len(fresh) < 9 {
		t.Fatalf("only %d readings before the old key", len(fresh))
	}
	slices.SortFunc(fresh, func(a, b holder.Reading) int {
		return cmp.Compare(zkhash.KeyPath(records.KeyDigest(a.Key)), zkhash.KeyPath(records.KeyDigest(b.Key)))
	})
	fresh = fresh[:9]
	conflict := holder.Reading{Key: old[0].Key, Leaf: fresh[0].Leaf}
	var calls int
	_, err := st.AddReadings(t.Context(), "d", 2, append(slices.Clone(fresh), conflict), func(string, int, int) { calls++ })
	if !errors.Is(err, holder.ErrReadingConflict) || !strings.Contains(err.Error(), "reading #10") {
		t.Fatalf("conflict in the last chunk: %v", err)
	}
	c := collection(t, st)
	prefix := append(slices.Clone(old), fresh[:8]...)
	if calls != 2 || c.Synced != 1 || c.Count != 9 || c.Root != records.ElementHex(ledgerRoot(t, prefix)) {
		t.Fatalf("after a failed sync: %d chunks reported, synced %d, count %d", calls, c.Synced, c.Count)
	}
	res := addReadings(t, st, 2, fresh)
	if res.Inserted != 1 || collection(t, st).Synced != 2 {
		t.Fatalf("resumed sync: %+v", res)
	}
	if c := collection(t, st); c.Root != records.ElementHex(ledgerRoot(t, append(old, fresh...))) {
		t.Fatal("resumed sync: root is not the ledger's")
	}
}
