package verifier

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// Ledger is the read-only view of a ledger a verification rests on. Three
// implementations: Local (a *ledger.Ledger in this process), Remote (a
// node's LedgerService over Connect) and Offline (a bundle's own
// checkpoint and inclusion proofs, against a ledger key the verifier
// trusts).
type Ledger interface {
	// Circuit is the registry entry of one version of a circuit: its
	// circuit id and verifying key's SHA-256 (ErrNotFound if none).
	Circuit(ctx context.Context, id, vkSHA256 []byte) (*Circuit, error)
	// Collection is what the ledger says of a collection (ErrNotFound).
	Collection(ctx context.Context, id []byte) (*Collection, error)
	// AnchorBySequence is a collection's anchor seq, for freshness.
	AnchorBySequence(ctx context.Context, collectionID []byte, seq uint64) (*Anchor, error)
	// OnLedger checks that the bundle's anchor transaction is entry
	// AnchorLogIndex of this ledger, under the bundle's checkpoint signed
	// by a key this view trusts, and returns it.
	OnLedger(ctx context.Context, b *zkv1.Bundle) (*Anchor, error)
}

// ErrNotFound means the ledger has no such circuit, collection or anchor.
var ErrNotFound = errors.New("not on the ledger")

// Circuit is a circuit registry entry: one version of a circuit.
type Circuit struct {
	ID       []byte
	Name     string
	VKSHA256 []byte
	Setup    zkv1.SetupKind
	Version  uint32
	// RetiredAt: non-zero once retired (its bundles no longer verify).
	RetiredAt uint64
	// VK is the verifying key when the registry carries it.
	VK []byte
	// Contributors: for ceremony keys, who contributed, in order.
	Contributors []string
	// Warning is what this view cannot tell of the entry ("" if nothing).
	Warning string
}

// Collection is what a verifier needs of a collection.
type Collection struct {
	ID         []byte
	Name       string
	Holder     string
	SchemaHash []byte
	Latest     uint64   // the newest anchor that counts; 0 none
	Pending    []uint64 // anchors that await (or never got) their confirmations
	// HolderKey, when set, is the key the anchor transaction must be
	// signed with, for the ledger whose genesis hash is Genesis (the
	// offline view; a ledger checked it when it accepted the anchor).
	HolderKey ed25519.PublicKey
	Genesis   []byte
	// DeviceFed: the ledger builds the tree from device attestations, and
	// Devices are the devices that feed it (none known offline).
	DeviceFed bool
	Devices   []*zkv1.DeviceState
	// Offline: whether the root was since replaced is not known.
	Offline  bool
	Warnings []string
}

// Counts says whether anchor seq counts: not awaiting (or left without) its
// M-of-N confirmations, and no newer than the latest that counts.
func (c *Collection) Counts(seq uint64) bool {
	return !slices.Contains(c.Pending, seq) && c.Latest != 0 && seq <= c.Latest
}

// Anchor is an anchor transaction on the ledger.
type Anchor struct {
	Tx         *ledger.Tx // nil from AnchorBySequence on a remote view
	Sequence   uint64
	Height     uint64
	TimeUnixMs int64 // the block's time
	LogIndex   uint64
}

// Local is the view of a ledger in this process.
type Local struct{ L *ledger.Ledger }

// Circuit implements Ledger.
func (v Local) Circuit(_ context.Context, id, vk []byte) (*Circuit, error) {
	c, ok := v.L.State().CircuitVersion(id, vk)
	if !ok {
		return nil, ErrNotFound
	}
	return &Circuit{ID: c.ID, Name: c.Name, VKSHA256: c.VKSHA256, Setup: c.Setup, Version: c.Version, RetiredAt: c.RetiredAt, VK: c.VK, Contributors: c.Contributors}, nil
}

// Collection implements Ledger.
func (v Local) Collection(_ context.Context, id []byte) (*Collection, error) {
	st := v.L.State()
	c, ok := st.Collections[hex.EncodeToString(id)]
	if !ok {
		return nil, ErrNotFound
	}
	out := collectionOf(&c)
	for _, d := range st.DevicesOf(c.ID) {
		out.Devices = append(out.Devices, d.Proto(c.Name))
	}
	return out, nil
}

func collectionOf(c *ledger.Collection) *Collection {
	out := &Collection{ID: c.ID, Name: c.Name, Holder: c.Holder, SchemaHash: c.SchemaHash, DeviceFed: c.DeviceFed}
	if c.Latest != nil {
		out.Latest = c.Latest.Sequence
	}
	for seq := range c.Pending {
		out.Pending = append(out.Pending, seq)
	}
	slices.Sort(out.Pending)
	return out
}

// AnchorBySequence implements Ledger.
func (v Local) AnchorBySequence(_ context.Context, id []byte, seq uint64) (*Anchor, error) {
	e, err := v.L.AnchorBySequence(id, seq)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return v.anchor(e), nil
}

func (v Local) anchor(e *ledger.Entry) *Anchor {
	a := &Anchor{Tx: e.Tx, Sequence: ledger.AnchorOf(e.Tx.Body).GetSequence(), Height: e.Height, LogIndex: e.LogIndex,
		TimeUnixMs: e.Tx.Body.GetTimeUnixMs()}
	if t, err := v.L.BlockTime(e.Height); err == nil {
		a.TimeUnixMs = t
	}
	return a
}

// OnLedger implements Ledger: any active validator of this ledger may have
// signed the checkpoint (under a consortium, a bundle made on one
// organisation's node verifies on all).
func (v Local) OnLedger(_ context.Context, b *zkv1.Bundle) (*Anchor, error) {
	var keys [][]byte
	for _, p := range v.L.Participants() {
		if p.Role == zkv1.Role_ROLE_VALIDATOR && !p.Revoked {
			keys = append(keys, p.Key)
		}
	}
	if err := includedUnder(b, v.L.Origin(), keys); err != nil {
		return nil, err
	}
	tx, err := ledger.DecodeTx(b.GetAnchorTx())
	if err != nil {
		return nil, err
	}
	e, err := v.L.Transaction(tx.Hash[:])
	if err != nil || e.LogIndex != b.GetAnchorLogIndex() {
		return nil, errors.New("the anchor transaction is not on this ledger")
	}
	return v.anchor(e), nil
}

// includedUnder checks the bundle's anchor inclusion under its checkpoint,
// signed for origin by one of keys.
func includedUnder(b *zkv1.Bundle, origin string, keys [][]byte) error {
	err := errors.New("no active validator")
	for _, k := range keys {
		nv, e := ledger.NoteVerifier(origin, k)
		if e != nil {
			continue
		}
		if _, err = ledger.VerifyInclusion(b.GetCheckpoint(), origin, nv, b.GetAnchorTx(), b.GetAnchorLogIndex(), b.GetAnchorInclusion()); err == nil {
			return nil
		}
	}
	return err
}

// txDomain and the layout below are ledger's signedMessage: a transaction
// signature covers the domain, the genesis hash and the body's bytes.
// (TestSignatureMatchesLedger keeps them in step.)
const txDomain = "zkshare/tx/v1\n"

// signedBy says whether raw (an encoded zkv1.Tx) is signed by key for the
// ledger of genesis.
func signedBy(raw []byte, key ed25519.PublicKey, genesis []byte) bool {
	var env zkv1.Tx
	if len(key) != ed25519.PublicKeySize || len(genesis) != 32 || unmarshal(raw, &env) != nil {
		return false
	}
	m := bytes.Join([][]byte{[]byte(txDomain), genesis, env.GetBody()}, nil)
	return ed25519.Verify(key, m, env.GetSignature())
}
