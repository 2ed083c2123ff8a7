package bundle_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

func key(id string, k int) *ledger.Identity {
	seed := sha256.Sum256(fmt.Appendf(nil, "%s/%d", id, k))
	return &ledger.Identity{ID: id, Key: ed25519.NewKeyFromSeed(seed[:])}
}

const padSenders = 32

// anchored builds a ledger with a collection of holder "bank", confirmed
// by "court", whose anchor 1 sits in the middle of unrelated transactions
// (key rotations of other participants), and a bundle about its root.
func anchored(tb testing.TB, unrelated int) (*ledger.Ledger, *zkv1.Bundle) {
	tb.Helper()
	dir := tb.TempDir()
	admin, node := key("admin", 0), key("node", 0)
	g := &ledger.Genesis{Development: true, Origin: "test.zkshare.dev/bundle", TimeUnixMs: time.Now().UnixMilli(), Participants: []ledger.Participant{
		{ID: admin.ID, Role: zkv1.Role_ROLE_ADMIN, Key: admin.Public()},
		{ID: node.ID, Role: zkv1.Role_ROLE_VALIDATOR, Key: node.Public()},
	}}
	for i := range padSenders {
		id := fmt.Sprintf("pad%02d", i)
		g.Participants = append(g.Participants, ledger.Participant{ID: id, Role: zkv1.Role_ROLE_CONSUMER, Key: key(id, 0).Public()})
	}
	if err := ledger.Init(dir, g); err != nil {
		tb.Fatal(err)
	}
	l, err := ledger.Open(dir, node, ledger.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	ctx := context.Background()
	seqs := map[string]uint64{}
	submit := func(who *ledger.Identity, kind func(*zkv1.TxBody)) {
		tb.Helper()
		seqs[who.ID]++
		tx, err := ledger.NewTx(l.Chain(), who, seqs[who.ID], time.Now(), kind)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := l.SubmitTx(ctx, tx); err != nil {
			tb.Fatal(err)
		}
	}
	rotations := 0
	pad := func(n int) {
		var wg sync.WaitGroup
		for i := range padSenders {
			id := fmt.Sprintf("pad%02d", i)
			from := rotations / padSenders
			wg.Go(func() {
				for k := from; k < from+n/padSenders; k++ {
					tx, err := ledger.NewTx(l.Chain(), key(id, k), uint64(k+1), time.Now(), ledger.RotateKey(id, key(id, k+1).Public()))
					if err == nil {
						_, err = l.SubmitTx(ctx, tx)
					}
					if err != nil {
						tb.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		rotations += n / padSenders * padSenders
	}
	bank, court := key("bank", 0), key("court", 0)
	coll := ledger.CollectionID("bank/people")
	submit(admin, ledger.RegisterParticipant("bank", zkv1.Role_ROLE_HOLDER, bank.Public()))
	submit(admin, ledger.RegisterParticipant("court", zkv1.Role_ROLE_HOLDER, court.Public()))
	cid := sha256.Sum256([]byte("subject"))
	submit(admin, ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: cid[:], Name: "subject", VkSha256: cid[:], Setup: zkv1.SetupKind_SETUP_KIND_DEV}))
	submit(bank, ledger.RegisterCollection(&zkv1.RegisterCollection{CollectionId: coll, Name: "bank/people", SchemaHash: cid[:], TreeDepth: 32,
		CircuitIds: [][]byte{cid[:]}, Confirmers: []string{"court"}, ConfirmationsRequired: 1}))
	pad(unrelated / 2)
	root := sha256.Sum256([]byte("root"))
	submit(bank, ledger.AnchorRoot(&zkv1.Anchor{CollectionId: coll, Root: root[:], RecordCount: 1, Sequence: 1}))
	submit(court, ledger.Confirm(&zkv1.ConfirmAnchor{CollectionId: coll, Sequence: 1, Root: root[:]}))
	pad(unrelated - unrelated/2)
	return l, &zkv1.Bundle{Collection: "bank/people", CollectionId: coll, Root: root[:]}
}

// scan finds the evidence as Attach did before the ledger's indexes: a
// pass over the whole log.
func scan(t *testing.T, l *ledger.Ledger, coll []byte, holder string, anchorAt uint64) (reg, key uint64, confirms []uint64) {
	for i := range l.Head().LogSize {
		e, err := l.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		switch k := e.Tx.Body.GetKind().(type) {
		case *zkv1.TxBody_RegisterCollection:
			if bytes.Equal(k.RegisterCollection.GetCollectionId(), coll) {
				reg = i
			}
		case *zkv1.TxBody_RegisterParticipant:
			if k.RegisterParticipant.GetId() == holder && i < anchorAt {
				key = i
			}
		case *zkv1.TxBody_RotateKey:
			if k.RotateKey.GetId() == holder && i < anchorAt {
				key = i
			}
		case *zkv1.TxBody_ConfirmAnchor:
			if bytes.Equal(k.ConfirmAnchor.GetCollectionId(), coll) && k.ConfirmAnchor.GetSequence() == 1 {
				confirms = append(confirms, i)
			}
		}
	}
	return reg, key, confirms
}

// Attach finds by index lookup what a pass over the log finds.
func TestAttachEvidence(t *testing.T) {
	l, b := anchored(t, 256)
	if err := bundle.Attach(l, b, 0); err != nil {
		t.Fatal(err)
	}
	reg, key, confirms := scan(t, l, b.GetCollectionId(), "bank", b.GetAnchorLogIndex())
	if len(b.GetCollectionTxs()) != 1 || b.GetCollectionTxs()[0].GetLogIndex() != reg {
		t.Fatalf("collection txs %v, want the registration at %d", b.GetCollectionTxs(), reg)
	}
	if b.GetHolderKeyTx().GetLogIndex() != key || len(b.GetHolderKeyTx().GetTx()) == 0 {
		t.Fatalf("holder key tx at %d, want %d", b.GetHolderKeyTx().GetLogIndex(), key)
	}
	if len(b.GetConfirmations()) != len(confirms) || len(confirms) != 1 || b.GetConfirmations()[0].GetLogIndex() != confirms[0] {
		t.Fatalf("confirmations %v, want at %v", b.GetConfirmations(), confirms)
	}
	if len(b.GetCheckpoint()) == 0 || len(b.GetAnchorInclusion()) == 0 {
		t.Fatal("no checkpoint or anchor inclusion proof")
	}
}

// BenchmarkAttach: the cost of attaching the evidence no longer grows
// with the log: the same anchor among 0, 1,000 and 10,000 unrelated
// transactions.
func BenchmarkAttach(b *testing.B) {
	for _, n := range []int{0, 1_000, 10_000} {
		b.Run(fmt.Sprintf("unrelated=%d", n), func(b *testing.B) {
			l, bun := anchored(b, n)
			b.ResetTimer()
			for b.Loop() {
				if err := bundle.Attach(l, bun, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
