package service_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
	"github.com/zkshare/zkshare/verifier"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"
)

// TestVerifierViews runs the tamper, replay and stale-root checks through
// the verifier against each of its three ledger views: the node's ledger in
// process, the node over Connect, and offline from the bundle's own
// evidence against the ledger's key.
func TestVerifierViews(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.createAndCommit("people", people(20, 10000))
	pr, err := n.holder("bank").Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT,
		Subject: canaries[0], Query: "income <= 30000", Nonce: nonce(5), Blind: nonce(77)})
	if err != nil {
		t.Fatal(err)
	}
	good := pr.GetBundle()
	pinned, err := verifier.FromDir(sharedKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := n.ledgerClient("").GetCheckpoint(ctx, &zkv1.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := note.NewEd25519VerifierKey(cp.GetOrigin(), cp.GetNodeKey())
	if err != nil {
		t.Fatal(err)
	}
	views := map[string]func(b *zkv1.Bundle) verifier.Ledger{
		"local":  func(*zkv1.Bundle) verifier.Ledger { return verifier.Local{L: n.srv.Ledger()} },
		"remote": func(*zkv1.Bundle) verifier.Ledger { return verifier.Remote{C: n.ledgerClient("")} },
		"offline": func(b *zkv1.Bundle) verifier.Ledger {
			off, err := verifier.NewOffline(b, vkey, pinned)
			if err != nil {
				t.Fatal(err)
			}
			return off
		},
	}
	var asked, replay fr.Element
	asked.SetBytes(nonce(5))
	replay.SetBytes(nonce(6))
	var blind fr.Element
	blind.SetBytes(nonce(77))
	exp := verifier.Expect{Nonce: &asked, Subject: canaries[0], Blind: &blind}
	flip := func(x []byte) []byte { y := bytes.Clone(x); y[len(y)-1] ^= 1; return y }
	tamper := map[string]func(*zkv1.Bundle){
		"result":           func(b *zkv1.Bundle) { b.Result = !b.Result },
		"root":             func(b *zkv1.Bundle) { b.Root = flip(b.Root) },
		"nonce":            func(b *zkv1.Bundle) { b.Nonce = flip(b.Nonce) },
		"query":            func(b *zkv1.Bundle) { b.Query = "income <= 30001" },
		"proof":            func(b *zkv1.Bundle) { b.Proof = flip(b.Proof) },
		"anchor_tx":        func(b *zkv1.Bundle) { b.AnchorTx = flip(b.AnchorTx) },
		"anchor_log_index": func(b *zkv1.Bundle) { b.AnchorLogIndex++ },
		"anchor_inclusion": func(b *zkv1.Bundle) { b.AnchorInclusion[0] = flip(b.AnchorInclusion[0]) },
		"checkpoint":       func(b *zkv1.Bundle) { b.Checkpoint = bytes.Replace(b.Checkpoint, []byte("\n"), []byte("\n\n"), 1) },
		"collection_txs":   func(b *zkv1.Bundle) { b.CollectionTxs = nil },
		"holder_key_tx":    func(b *zkv1.Bundle) { b.HolderKeyTx = b.CollectionTxs[0] },
	}
	// What only the offline view reads: the others ignore these fields.
	offlineOnly := map[string]bool{"collection_txs": true, "holder_key_tx": true}

	for name, view := range views {
		t.Run(name, func(t *testing.T) {
			v := pinned.Verify(ctx, view(good), good, exp, verifier.Options{Freshness: time.Hour})
			if !v.Valid {
				t.Fatalf("honest bundle: %s check failed: %s", verifier.CheckName(v.Failed), v.Reason)
			}
			if name == "offline" != strings.Contains(strings.Join(v.Warnings, "\n"), "offline") {
				t.Errorf("warnings %q", v.Warnings)
			}
			for what, mut := range tamper {
				b := proto.CloneOf(good)
				mut(b)
				v := pinned.Verify(ctx, view(b), b, exp, verifier.Options{Freshness: time.Hour})
				if v.Valid && (name == "offline" || !offlineOnly[what]) {
					t.Errorf("tampered %s verified", what)
				}
			}
			// A replay: the bundle answers another nonce than the asker's.
			other := exp
			other.Nonce = &replay
			if v := pinned.Verify(ctx, view(good), good, other, verifier.Options{}); v.Valid || v.Failed != verifier.CheckNonce {
				t.Errorf("replayed: valid=%v failed %s", v.Valid, verifier.CheckName(v.Failed))
			}
			// Nothing to rest on: never VALID.
			if v := pinned.Verify(ctx, nil, good, exp, verifier.Options{}); v.Valid || v.Reason != verifier.ErrUnanchored.Error() {
				t.Errorf("no ledger: valid=%v %s", v.Valid, v.Reason)
			}
		})
	}

	// Offline with the holder's key known out of band: the anchor's
	// signature is checked against it.
	holderKey := n.srv.Ledger().State().Participants[node.HolderID].Key
	for key, valid := range map[string]bool{"the holder's": true, "another": false} {
		off, err := verifier.NewOffline(good, vkey, pinned)
		if err != nil {
			t.Fatal(err)
		}
		off.HolderKey = holderKey
		if !valid {
			off.HolderKey = cp.GetNodeKey()
		}
		v := pinned.Verify(ctx, off, good, exp, verifier.Options{})
		if v.Valid != valid || !valid && v.Failed != verifier.CheckAnchor {
			t.Errorf("offline with %s key: valid=%v %s", key, v.Valid, v.Reason)
		}
	}

	// An offline view reads its evidence from the bundle it was made for:
	// used on another bundle, it refuses rather than lend that evidence.
	offGood, err := verifier.NewOffline(good, vkey, pinned)
	if err != nil {
		t.Fatal(err)
	}
	other := proto.CloneOf(good)
	other.Query = "income <= 30001"
	if v := pinned.Verify(ctx, offGood, other, verifier.Expect{}, verifier.Options{}); v.Valid || v.Failed != verifier.CheckAnchor {
		t.Errorf("offline view of another bundle: valid=%v %s", v.Valid, v.Reason)
	}

	// A stale root: replaced by an update, it verifies within the window
	// only. Offline, replacement is not visible (a warning says so).
	update := people(20, 10000)[:1]
	update[0].Values[0] = "1"
	n.commit("people", update)
	time.Sleep(1100 * time.Millisecond)
	for name, view := range views {
		within := pinned.Verify(ctx, view(good), good, exp, verifier.Options{Freshness: time.Hour})
		stale := pinned.Verify(ctx, view(good), good, exp, verifier.Options{Freshness: time.Second})
		switch name {
		case "offline":
			if !within.Valid || !stale.Valid {
				t.Errorf("offline, stale root: %s", stale.Reason)
			}
		default:
			if !within.Valid || stale.Valid || stale.Failed != verifier.CheckFreshness {
				t.Errorf("%s, stale root: within %v (%s), stale %v (%s)", name, within.Valid, within.Reason, stale.Valid, stale.Reason)
			}
		}
	}
}

// TestOfflineConfirmations: offline, an anchor of a collection that needs
// M-of-N confirmations counts only with the bundle's ConfirmAnchor
// transactions, checked under the checkpoint against the registration's
// confirmers.
func TestOfflineConfirmations(t *testing.T) {
	ctx := t.Context()
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	h := n.holder(node.HolderID)
	cr, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "people", Confirmers: []string{node.HolderID}, ConfirmationsRequired: 1})
	if err != nil {
		t.Fatal(err)
	}
	n.setPolicy("people", &zkv1.PolicyRule{Consumer: "*", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_EXISTS}})
	r := n.commit("people", people(10, 100))
	if _, err := h.ConfirmAnchor(ctx, &zkv1.ConfirmAnchorRequest{CollectionId: cr.GetCollection().GetId(), Sequence: 1, Root: r.GetRoot()}); err != nil {
		t.Fatal(err)
	}
	pr, err := n.holder("bank").Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income >= 0", Nonce: nonce(5)})
	if err != nil {
		t.Fatal(err)
	}
	good := pr.GetBundle()
	if len(good.GetConfirmations()) != 1 || len(good.GetCollectionTxs()) != 1 {
		t.Fatalf("evidence: %d confirmations, %d collection transactions", len(good.GetConfirmations()), len(good.GetCollectionTxs()))
	}
	pinned, err := verifier.FromDir(sharedKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := n.ledgerClient("").GetCheckpoint(ctx, &zkv1.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := note.NewEd25519VerifierKey(cp.GetOrigin(), cp.GetNodeKey())
	if err != nil {
		t.Fatal(err)
	}
	verify := func(b *zkv1.Bundle) *verifier.Verdict {
		off, err := verifier.NewOffline(b, vkey, pinned)
		if err != nil {
			t.Fatal(err)
		}
		return pinned.Verify(ctx, off, b, verifier.Expect{}, verifier.Options{})
	}
	if v := verify(good); !v.Valid {
		t.Fatalf("confirmed anchor offline: %s", v.Reason)
	}
	unconfirmed := proto.CloneOf(good)
	unconfirmed.Confirmations = nil
	if v := verify(unconfirmed); v.Valid || v.Failed != verifier.CheckAnchor {
		t.Fatalf("without its confirmations: valid=%v %s", v.Valid, v.Reason)
	}
	forged := proto.CloneOf(good)
	forged.Confirmations[0].LogIndex++
	if v := verify(forged); v.Valid || v.Failed != verifier.CheckAnchor {
		t.Fatalf("a confirmation not under the checkpoint: valid=%v %s", v.Valid, v.Reason)
	}
}
