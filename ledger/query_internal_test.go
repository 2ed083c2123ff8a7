package ledger

import (
	"bytes"
	"errors"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// internalLedger is a fresh ledger with an admin, a node and consumers,
// for tests that reach behind the API.
func internalLedger(t *testing.T, opts Options, consumers ...*Identity) (*Ledger, *Identity) {
	t.Helper()
	admin, _ := NewIdentity("admin")
	node, _ := NewIdentity("node")
	dir := t.TempDir()
	g := &Genesis{Origin: "test.zkshare.dev/internal", TimeUnixMs: time.Now().UnixMilli(), Participants: []Participant{
		{ID: admin.ID, Role: zkv1.Role_ROLE_ADMIN, Key: admin.Public()},
		{ID: node.ID, Role: zkv1.Role_ROLE_VALIDATOR, Key: node.Public()},
	}}
	for _, c := range consumers {
		g.Participants = append(g.Participants, Participant{ID: c.ID, Role: zkv1.Role_ROLE_CONSUMER, Key: c.Public()})
	}
	if err := Init(dir, g); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir, node, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, admin
}

// TestCorruptIndexValues: short or long index values and keys are reported
// as ErrCorrupt, not a panic.
func TestCorruptIndexValues(t *testing.T) {
	l, _ := internalLedger(t, Options{})
	coll := bytes.Repeat([]byte{7}, 32)
	hash := bytes.Repeat([]byte{9}, 32)
	put := func(k, v []byte) {
		t.Helper()
		if err := l.db.Update(func(txn *badger.Txn) error { return txn.Set(k, v) }); err != nil {
			t.Fatal(err)
		}
	}
	for name, v := range map[string][]byte{"empty": {}, "short": {1, 2, 3}, "long": make([]byte, 9)} {
		t.Run(name, func(t *testing.T) {
			put(hashKey(hash), v)
			if _, err := l.Transaction(hash); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Transaction: %v", err)
			}
			put(anchorKey(coll, 1), v)
			if _, err := l.AnchorBySequence(coll, 1); !errors.Is(err, ErrCorrupt) {
				t.Errorf("AnchorBySequence: %v", err)
			}
			if _, err := l.AnchorAt(coll, 10); !errors.Is(err, ErrCorrupt) {
				t.Errorf("AnchorAt: %v", err)
			}
		})
	}
	// An audit index key with a short log index.
	put(append(append([]byte("ac/"), coll...), 1, 2, 3), nil)
	if _, err := l.AuditEntries(coll, 0, 10); !errors.Is(err, ErrCorrupt) {
		t.Errorf("AuditEntries by collection: %v", err)
	}
	// A short collection id is no prefix into other collections' indexes.
	if _, err := l.AnchorAt(coll[:4], 10); !errors.Is(err, ErrNotFound) {
		t.Errorf("AnchorAt with a short id: %v", err)
	}
	if _, err := l.AuditEntries(coll[:4], 0, 10); err == nil {
		t.Error("AuditEntries with a short id")
	}
}

// TestStoredNotPublished: between storing a block and publishing it, its
// transactions are not found yet, and the state and head agree; once
// published, the transaction is found and provable under the head.
func TestStoredNotPublished(t *testing.T) {
	l, admin := internalLedger(t, Options{})
	consumer, _ := NewIdentity("bank")
	tx, err := NewTx(l.Chain(), admin, 1, time.Now(), RegisterParticipant("bank", zkv1.Role_ROLE_CONSUMER, consumer.Public()))
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	testHookPublish = func() {
		ran = true
		if e, err := l.Transaction(tx.Hash[:]); !errors.Is(err, ErrNotFound) {
			t.Errorf("stored, unpublished transaction: %+v, %v", e, err)
		}
		if st, h := l.Tip(); st.Height != 0 || h.Height != 0 {
			t.Errorf("tip moved before publishing: state %d, head %d", st.Height, h.Height)
		}
	}
	defer func() { testHookPublish = nil }()
	if _, err := l.SubmitTx(t.Context(), tx); err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Fatal("hook did not run")
	}
	e, err := l.Transaction(tx.Hash[:])
	if err != nil {
		t.Fatal(err)
	}
	st, h := l.Tip()
	if _, ok := st.Participants["bank"]; !ok || h.Height != 1 {
		t.Fatalf("published tip: %d, %v", h.Height, ok)
	}
	if _, err := l.InclusionProof(e.LogIndex, h.LogSize); err != nil {
		t.Fatal(err)
	}
}
