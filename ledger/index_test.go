package ledger_test

import (
	"context"
	"errors"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// indexed builds a ledger with a collection, a key rotation of its holder
// and an anchor with two confirmations, and returns the log indices of the
// registration, the holder's registration, its rotation, the anchor and
// the confirmations.
func indexed(t *testing.T) (n *net, reg, joined, rotated, anchored uint64, confirms []uint64) {
	n = newNet(t, t.TempDir())
	n.setup([]string{"ministry", "court"}, 2)
	reg = n.l.Head().LogSize - 1
	joined = n.l.Head().LogSize - 6 // agency, bank, circuit, ministry, court, collection
	fresh, _ := ledger.NewIdentity("agency")
	rotated = n.must("agency", ledger.RotateKey("agency", fresh.Public())).LogIndex
	n.ids["agency"] = fresh
	anchored = n.must("agency", anchor(1, h32("r1"), nil)).LogIndex
	for _, c := range []string{"ministry", "court"} {
		confirms = append(confirms, n.must(c, ledger.Confirm(&zkv1.ConfirmAnchor{CollectionId: benefitsID, Sequence: 1, Root: h32("r1")})).LogIndex)
	}
	return n, reg, joined, rotated, anchored, confirms
}

func checkLookups(t *testing.T, l *ledger.Ledger, reg, joined, rotated, anchored uint64, confirms []uint64) {
	t.Helper()
	if e, err := l.Registration(benefitsID); err != nil || e.LogIndex != reg || e.Tx.Body.GetRegisterCollection() == nil {
		t.Fatalf("registration: %+v, %v; want log index %d", e, err, reg)
	}
	if _, err := l.Registration(ledger.CollectionID("agency/other")); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("registration of an unknown collection: %v", err)
	}
	for _, c := range []struct {
		before, want uint64
	}{{anchored, rotated}, {rotated + 1, rotated}, {rotated, joined}, {joined + 1, joined}} {
		if e, err := l.KeyTxBefore("agency", c.before); err != nil || e.LogIndex != c.want {
			t.Fatalf("key before %d: %+v, %v; want %d", c.before, e, err, c.want)
		}
	}
	if _, err := l.KeyTxBefore("agency", joined); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("key before the registration: %v", err)
	}
	if _, err := l.KeyTxBefore("node", 1<<40); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("key of a genesis participant: %v", err)
	}
	got, err := l.Confirmations(benefitsID, 1, l.Head().LogSize)
	if err != nil || len(got) != len(confirms) {
		t.Fatalf("confirmations: %d, %v; want %d", len(got), err, len(confirms))
	}
	for i, e := range got {
		if e.LogIndex != confirms[i] {
			t.Fatalf("confirmation %d at %d, want %d", i, e.LogIndex, confirms[i])
		}
	}
	if got, _ := l.Confirmations(benefitsID, 1, confirms[1]); len(got) != 1 {
		t.Fatalf("confirmations within %d: %d, want 1", confirms[1], len(got))
	}
	if got, _ := l.Confirmations(benefitsID, 2, l.Head().LogSize); len(got) != 0 {
		t.Fatalf("confirmations of an unwritten anchor: %d", len(got))
	}
}

func TestIndexLookups(t *testing.T) {
	n, reg, joined, rotated, anchored, confirms := indexed(t)
	checkLookups(t, n.l, reg, joined, rotated, anchored, confirms)
	if err := n.l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// A store written before the indexes existed gets them on open.
func TestReindexOnOpen(t *testing.T) {
	for _, tc := range []struct {
		name   string
		marker []byte // nil: no marker at all
	}{{"no version marker", nil}, {"another version's marker", []byte{0}}} {
		t.Run(tc.name, func(t *testing.T) {
			n, reg, joined, rotated, anchored, confirms := indexed(t)
			n.l.Close()
			if err := ledger.DropIndexesForTest(n.dir, true); err != nil {
				t.Fatal(err)
			}
			if tc.marker != nil {
				if err := ledger.SetIndexVersionForTest(n.dir, tc.marker); err != nil {
					t.Fatal(err)
				}
			}
			l, err := ledger.Open(n.dir, n.node, ledger.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			checkLookups(t, l, reg, joined, rotated, anchored, confirms)
			if err := l.Verify(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Verify finds index entries that went missing.
func TestVerifyIndexes(t *testing.T) {
	n, _, _, _, _, _ := indexed(t)
	n.l.Close()
	if err := ledger.DropIndexesForTest(n.dir, false); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(n.dir, nil, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var bad *ledger.BadBlockError
	if err := l.Verify(context.Background(), nil); !errors.As(err, &bad) {
		t.Fatalf("verify with indexes missing: %v", err)
	}
}
