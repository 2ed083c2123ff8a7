package verifier

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"
)

// Offline is the view of a ledger that a bundle carries: its checkpoint and
// inclusion proofs, checked against a ledger key the verifier trusts. The
// registry is the verifier's own pinned keys.
//
// The holder's signature on the anchor transaction is checked against
// HolderKey, a key the verifier knows out of band (`--holder-key`): then a
// ledger key alone cannot make an anchor the holder's. Without it, against
// the bundle's holder_key_tx (the holder's registration or key rotation,
// included under the same checkpoint), which rests on the ledger key like
// the inclusion itself (a warning says so); a holder of the ledger's
// genesis has no such transaction, and the ledger's acceptance of the
// anchor (it takes a collection's anchors from its holder only, signed) is
// then all there is. The bundle's genesis_hash is the one the signature
// covers: a wrong one fails the signature, never passes a forged one.
type Offline struct {
	Bundle    *zkv1.Bundle
	LedgerKey note.Verifier
	HolderKey ed25519.PublicKey // optional, trusted out of band
	Pinned    *Verifier         // the verifier's keys: the offline registry
	Manifest  *keys.Manifest    // optional: the keys' setup, for warnings
}

// NewOffline parses a ledger's note verifier key (the --ledger-key text).
func NewOffline(b *zkv1.Bundle, ledgerKey string, pinned *Verifier) (*Offline, error) {
	nv, err := note.NewVerifier(ledgerKey)
	if err != nil {
		return nil, fmt.Errorf("ledger key: %w", err)
	}
	return &Offline{Bundle: b, LedgerKey: nv, Pinned: pinned}, nil
}

func (v *Offline) included(e *zkv1.LedgerEvidence) (*ledger.Tx, error) {
	if _, err := ledger.VerifyInclusion(v.Bundle.GetCheckpoint(), v.LedgerKey.Name(), v.LedgerKey, e.GetTx(), e.GetLogIndex(), e.GetInclusion()); err != nil {
		return nil, err
	}
	tx, err := ledger.DecodeTx(e.GetTx())
	if err != nil {
		return nil, err
	}
	// A transaction names its ledger: one of another ledger (even one a
	// compromised key fitted under this checkpoint) is not this ledger's.
	if tx.Body.GetOrigin() != v.LedgerKey.Name() {
		return nil, fmt.Errorf("a transaction of ledger %q, not %q", tx.Body.GetOrigin(), v.LedgerKey.Name())
	}
	return tx, nil
}

// Circuit implements Ledger from the pinned keys.
func (v *Offline) Circuit(_ context.Context, id, vk []byte) (*Circuit, error) {
	for circuit, k := range v.Pinned.keys {
		if bytes.Equal(k.CircuitID, id) && bytes.Equal(k.VKSHA256, vk) {
			name := keys.NameOf(circuit)
			c := &Circuit{ID: id, Name: name, VKSHA256: k.VKSHA256, Setup: zkv1.SetupKind_SETUP_KIND_CEREMONY,
				Warning: fmt.Sprintf("offline: whether the ledger retired these %s keys is not visible; a node's view says", name)}
			if v.Manifest == nil || v.Manifest.Circuits[name].Setup != keys.SetupCeremony {
				c.Setup = zkv1.SetupKind_SETUP_KIND_UNSPECIFIED
			}
			return c, nil
		}
	}
	return nil, ErrNotFound
}

// Collection implements Ledger from the bundle's collection transactions
// and confirmations. The confirmation rule is the registration's: a later
// change of confirmers is not visible offline (a warning says so).
func (v *Offline) Collection(_ context.Context, id []byte) (*Collection, error) {
	b := v.Bundle
	var reg *zkv1.RegisterCollection
	var holder string
	for _, e := range b.GetCollectionTxs() {
		tx, err := v.included(e)
		if err != nil {
			return nil, fmt.Errorf("collection transaction: %w", err)
		}
		if r := tx.Body.GetRegisterCollection(); r != nil && bytes.Equal(r.GetCollectionId(), id) {
			reg, holder = r, tx.Body.GetSender()
		}
	}
	if reg == nil {
		return nil, fmt.Errorf("%w: the bundle carries no registration of collection %x", ErrNotFound, id)
	}
	c := &Collection{ID: id, Name: reg.GetName(), Holder: holder, SchemaHash: reg.GetSchemaHash(), Offline: true, Genesis: b.GetGenesisHash(), DeviceFed: reg.GetDeviceFed()}
	if c.DeviceFed {
		c.Warnings = append(c.Warnings, "offline: the devices' counters (readings never attested), endorsements and revocations need a node",
			"offline: a device-fed collection's anchor is the ledger's word: the device signatures it rests on are not checked again offline")
	}
	anchor, err := ledger.DecodeTx(b.GetAnchorTx())
	if err != nil {
		return nil, err
	}
	a := ledger.AnchorOf(anchor.Body)
	// M of N: distinct confirmers of the registration that confirmed this
	// anchor (sequence and root) on the ledger.
	confirmed := map[string]bool{}
	for _, e := range b.GetConfirmations() {
		tx, err := v.included(e)
		if err != nil {
			return nil, fmt.Errorf("confirmation: %w", err)
		}
		ca := tx.Body.GetConfirmAnchor()
		if ca == nil || !bytes.Equal(ca.GetCollectionId(), id) || ca.GetSequence() != a.GetSequence() || !bytes.Equal(ca.GetRoot(), a.GetRoot()) {
			return nil, errors.New("a confirmation is not of this anchor")
		}
		if slices.Contains(reg.GetConfirmers(), tx.Body.GetSender()) {
			confirmed[tx.Body.GetSender()] = true
		}
	}
	if uint32(len(confirmed)) >= reg.GetConfirmationsRequired() {
		c.Latest = a.GetSequence()
	} else {
		c.Pending = []uint64{a.GetSequence()}
	}
	// Always said: a collection registered without confirmers may since
	// have been put under M-of-N (SetConfirmers), and its later anchors then
	// await confirmations that the registration does not ask for.
	c.Warnings = append(c.Warnings, fmt.Sprintf("offline: the confirmation rule is the collection's registered one (%d required); a later change of confirmers needs a node", reg.GetConfirmationsRequired()))
	// The holder's key.
	switch {
	case v.HolderKey != nil:
		c.HolderKey = v.HolderKey
	case b.GetHolderKeyTx() != nil:
		tx, err := v.included(b.GetHolderKeyTx())
		if err != nil {
			return nil, fmt.Errorf("holder key transaction: %w", err)
		}
		if e := b.GetHolderKeyTx(); e.GetLogIndex() >= b.GetAnchorLogIndex() {
			return nil, errors.New("the holder key transaction is not before the anchor")
		}
		switch {
		case tx.Body.GetRegisterParticipant().GetId() == holder:
			c.HolderKey = tx.Body.GetRegisterParticipant().GetPublicKey()
		case tx.Body.GetRotateKey().GetId() == holder:
			c.HolderKey = tx.Body.GetRotateKey().GetPublicKey()
		default:
			return nil, errors.New("the holder key transaction does not set the holder's key")
		}
		c.Warnings = append(c.Warnings, "offline: the holder's key is the ledger's word (pass the holder's key to check it independently)")
	default:
		// A holder of the ledger's genesis has no registration transaction.
		c.Warnings = append(c.Warnings, "offline: the anchor's signature rests on the ledger's word (pass the holder's key to check it independently)")
	}
	c.Warnings = append(c.Warnings, "offline: whether the root was since replaced needs a node (freshness not checked)")
	return c, nil
}

// AnchorBySequence implements Ledger: offline, only the bundle's own.
func (v *Offline) AnchorBySequence(context.Context, []byte, uint64) (*Anchor, error) {
	return nil, ErrNotFound
}

// OnLedger implements Ledger: the anchor is included under the checkpoint
// the trusted ledger key signed.
func (v *Offline) OnLedger(_ context.Context, b *zkv1.Bundle) (*Anchor, error) {
	// The evidence read by Collection is v.Bundle's: it must be the bundle
	// being verified, or another bundle's confirmations could count.
	if b != v.Bundle && !proto.Equal(b, v.Bundle) {
		return nil, errors.New("the offline view was made for another bundle")
	}
	tx, err := v.included(&zkv1.LedgerEvidence{Tx: b.GetAnchorTx(), LogIndex: b.GetAnchorLogIndex(), Inclusion: b.GetAnchorInclusion()})
	if err != nil {
		return nil, err
	}
	return &Anchor{Tx: tx, Sequence: ledger.AnchorOf(tx.Body).GetSequence(), LogIndex: b.GetAnchorLogIndex(), TimeUnixMs: tx.Body.GetTimeUnixMs()}, nil
}
