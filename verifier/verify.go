package verifier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
)

// Options are a verification's settings.
type Options struct {
	// Freshness: how long ago the root may have been replaced by a newer
	// anchor that counts (0: only the latest).
	Freshness time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Verify checks a bundle of any kind against a view of the ledger, in the
// documented order: key registry, anchor (the holder's, included under a
// signed checkpoint, counted under the collection's M-of-N rule), freshness,
// schema, pinned key, statement, nonce, subject, proof. A VALID verdict
// rests on the ledger the view reads. It never panics on malformed input.
func (vf *Verifier) Verify(ctx context.Context, view Ledger, b *zkv1.Bundle, exp Expect, opts Options) (v *Verdict) {
	v = &Verdict{}
	defer func() {
		if r := recover(); r != nil { // gnark decoders on hostile bytes
			v.Valid, v.Failed, v.Reason = false, CheckDecode, "malformed bundle"
		}
	}()
	if err := bundle.Check(b); err != nil {
		return v.fail(CheckDecode, "%v", err)
	}
	v.Statement = bundle.Statement(b)
	if view == nil {
		// No ledger: the statement and proof are checked, but the verdict
		// is never VALID.
		if vf.statementAndProof(b, nil, exp, v, vf.pinned); v.Valid {
			v.fail(CheckAnchor, "%s", ErrUnanchored.Error())
		}
		return v
	}

	// Key registry: every circuit the bundle uses is registered with its key.
	type used struct {
		id, vk  []byte
		circuit zkv1.Circuit
	}
	circuits := []used{{b.GetCircuitId(), b.GetVkSha256(), b.GetCircuit()}}
	if a := b.GetAggregate(); a != nil {
		circuits = append([]used{{a.GetChunkCircuitId(), a.GetChunkVkSha256(), zkv1.Circuit_CIRCUIT_AGGREGATE}}, circuits...)
	}
	// Versions the pinned keys do not cover verify with the registry's key.
	fromRegistry := map[zkv1.Circuit]Key{}
	for _, k := range circuits {
		c, err := view.Circuit(ctx, k.id, k.vk)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return v.fail(CheckRegistry, "reading the registry: %v", err)
		}
		// The registry names circuits in words: the text form of zkv1.Circuit.
		if err != nil || !bytes.Equal(c.VKSHA256, k.vk) || k.circuit == zkv1.Circuit_CIRCUIT_UNSPECIFIED || keys.CircuitOf(c.Name) != k.circuit {
			return v.fail(CheckRegistry, "circuit %x with verifying key %x is not registered on the ledger", k.id, k.vk)
		}
		if c.RetiredAt != 0 {
			return v.fail(CheckRegistry, "version %d of circuit %s (verifying key %.16x…) was retired at height %d", c.Version, c.Name, k.vk, c.RetiredAt)
		}
		v.Circuits = append(v.Circuits, &zkv1.CircuitVersion{Name: c.Name, Version: c.Version, VkSha256: c.VKSHA256, Setup: c.Setup, Contributors: c.Contributors})
		if c.Setup != zkv1.SetupKind_SETUP_KIND_CEREMONY {
			v.warn(fmt.Sprintf("the %s keys come from a single-party development setup: whoever ran it can forge proofs; production keys come from a ceremony", c.Name))
		}
		if c.Warning != "" {
			v.warn(c.Warning)
		}
		if _, ok := vf.pinned(k.circuit, k.id, k.vk); !ok && len(c.VK) > 0 {
			key, err := vf.registryKey(c)
			if err != nil {
				return v.fail(CheckRegistry, "version %d of circuit %s: %v", c.Version, c.Name, err)
			}
			fromRegistry[k.circuit] = key
		}
	}
	v.pass(CheckRegistry)

	// Anchor.
	coll, anchor, err := checkAnchor(ctx, view, b)
	if err != nil {
		return v.fail(CheckAnchor, "%v", err)
	}
	for _, w := range coll.Warnings {
		v.warn(w)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	v.devices(coll, now())
	v.AnchorHeight, v.AnchorTimeUnixMs = anchor.Height, anchor.TimeUnixMs
	v.pass(CheckAnchor)

	// Freshness.
	if !coll.Offline {
		if err := checkFresh(ctx, view, coll, anchor.Sequence, opts); err != nil {
			return v.fail(CheckFreshness, "%v", err)
		}
		v.pass(CheckFreshness)
	}

	// Schema.
	sc, err := records.ParseSchema(b.GetSchema())
	if err != nil {
		return v.fail(CheckSchema, "%v", err)
	}
	if id := sc.ID(); !bytes.Equal(elemBytes(id), coll.SchemaHash) {
		return v.fail(CheckSchema, "the bundle's schema is not the one registered for the collection")
	}
	v.pass(CheckSchema)

	// Pinned key, statement, nonce, subject, proof.
	var av *Anchored
	if b.GetAggregate() != nil {
		a := ledger.AnchorOf(anchor.Tx.Body)
		av = &Anchored{Root: a.GetRoot()}
	}
	vf.statementAndProof(b, av, exp, v, func(c zkv1.Circuit, id, vk []byte) (Key, bool) {
		if k, ok := fromRegistry[c]; ok && bytes.Equal(k.VKSHA256, vk) && bytes.Equal(k.CircuitID, id) {
			return k, true
		}
		return vf.pinned(c, id, vk)
	})
	return v
}

// checkAnchor: the bundle's anchor transaction anchors its collection's
// root, is on the view's ledger, was sent (and, where the view
// knows the key, signed) by the collection's holder, and counts.
func checkAnchor(ctx context.Context, view Ledger, b *zkv1.Bundle) (*Collection, *Anchor, error) {
	tx, err := ledger.DecodeTx(b.GetAnchorTx())
	if err != nil {
		return nil, nil, fmt.Errorf("anchor transaction: %w", err)
	}
	a := ledger.AnchorOf(tx.Body)
	if a == nil || !bytes.Equal(a.GetCollectionId(), b.GetCollectionId()) || !bytes.Equal(a.GetRoot(), b.GetRoot()) {
		return nil, nil, errors.New("the anchor transaction does not anchor this collection's root")
	}
	if agg := b.GetAggregate(); agg != nil && a.GetSequence() != agg.GetAnchorSequence() {
		return nil, nil, errors.New("the anchor transaction is not the aggregate's anchor")
	}
	coll, err := view.Collection(ctx, b.GetCollectionId())
	if errors.Is(err, ErrNotFound) {
		return nil, nil, fmt.Errorf("collection %x is not registered on the ledger", b.GetCollectionId())
	}
	if err != nil {
		return nil, nil, err
	}
	// A device-fed collection's anchors are the ledger's own, made from
	// attestations that anyone may relay; any other's are its holder's.
	if fed := tx.Body.GetAttestReadings() != nil; fed != coll.DeviceFed {
		return nil, nil, errors.New("the anchor transaction's kind does not match how the collection is fed")
	}
	if !coll.DeviceFed && tx.Body.GetSender() != coll.Holder {
		return nil, nil, fmt.Errorf("anchored by %q, not by the collection's holder %q", tx.Body.GetSender(), coll.Holder)
	}
	if !coll.DeviceFed && coll.HolderKey != nil && !signedBy(b.GetAnchorTx(), coll.HolderKey, coll.Genesis) {
		return nil, nil, fmt.Errorf("the anchor transaction is not signed by the holder %q's key", coll.Holder)
	}
	anchor, err := view.OnLedger(ctx, b)
	if err != nil {
		return nil, nil, err
	}
	anchor.Sequence = a.GetSequence()
	// Only an anchor that counts: one awaiting (or that never got) its
	// confirmations is the holder's word alone.
	if !coll.Counts(a.GetSequence()) {
		return nil, nil, fmt.Errorf("anchor %d does not count: it awaits (or never got) its confirmations", a.GetSequence())
	}
	return coll, anchor, nil
}

// checkFresh: the anchor is the collection's latest that counts, or was
// replaced within the freshness window. Only an anchor that counts
// replaces another: an unconfirmed successor neither replaces a root nor
// starts its clock.
func checkFresh(ctx context.Context, view Ledger, coll *Collection, seq uint64, opts Options) error {
	if coll.Latest == seq {
		return nil
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	for next := seq + 1; next <= coll.Latest; next++ {
		if !coll.Counts(next) {
			continue
		}
		a, err := view.AnchorBySequence(ctx, coll.ID, next)
		if err != nil {
			return fmt.Errorf("the root's anchor is not the collection's latest, and its successor %d is not found", next)
		}
		// The successor's own time: it counted from then or later, so the
		// window never runs longer than asked.
		if age := now().Sub(time.UnixMilli(a.TimeUnixMs)); age > opts.Freshness {
			return fmt.Errorf("the root was replaced %s ago (anchor %d); the window is %s", age.Round(time.Second), next, opts.Freshness)
		}
		return nil
	}
	return errors.New("the root's anchor is not the collection's latest, and no successor counts")
}

// ErrUnanchored means the proof may check out, but nothing ties its root to a
// collection anchored on a ledger, so it shows nothing about one.
var ErrUnanchored = errors.New("not anchored: the proof shows nothing about any anchored collection (verify against a ledger: a node, or offline with the ledger's key)")
