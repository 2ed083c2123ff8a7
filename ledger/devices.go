package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/device"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/tree"
	"github.com/zkshare/zkshare/zkhash"
)

// Devices are sensors that feed a device-fed collection. The ledger, not
// the holder, builds such a collection's tree: it checks each reading's
// attestation (the device's EdDSA signature over the reading's salted
// leaf commitment, its counter and its time) and inserts the leaf at the
// reading's key path, so the anchored root is the ledger's own and a holder
// can neither alter, invent, reorder nor silently drop a reading. A reading
// never attested leaves a gap in its device's counters, which the device's
// state shows.

// Device is a registered device and its counters.
type Device struct {
	ID         string `json:"id"`
	Operator   string `json:"operator"` // the collection's holder, who registered it
	Key        []byte `json:"key"`      // EdDSA (BN254 twisted Edwards), compressed
	Collection []byte `json:"collection"`
	Model      string `json:"model,omitempty"`
	Location   string `json:"location,omitempty"`
	Height     uint64 `json:"height"` // of its registration
	Revoked    bool   `json:"revoked,omitempty"`
	RevokedAt  uint64 `json:"revoked_at,omitempty"`
	// LastCounter and LastTimeUnixMs are the newest attested reading's.
	LastCounter    uint64 `json:"last_counter,omitempty"`
	LastTimeUnixMs int64  `json:"last_time_unix_ms,omitempty"`
	Readings       uint64 `json:"readings,omitempty"`
	// Missing counts the counters skipped; Gaps are the newest maxGaps of them.
	Missing uint64       `json:"missing,omitempty"`
	Gaps    []CounterGap `json:"gaps,omitempty"`
	// IntervalMs is how often the device says it reports (0: not stated).
	IntervalMs uint64 `json:"interval_ms,omitempty"`
	// Endorsers are the participants, other than its operator, who vouch
	// for its key.
	Endorsers []string `json:"endorsers,omitempty"`
}

// CounterGap is a run of counters First..Last never attested.
type CounterGap struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// Limits on devices and attestations.
const (
	// MaxAttestations bounds one AttestReadings transaction (its size is
	// bounded by MaxAttestTxBytes too: about 1,000 attestations fit).
	MaxAttestations = 1024
	maxGaps         = 16
	maxDeviceText   = 128
	maxEndorsers    = 16
)

// ErrStaleAnchor means an AttestReadings states an anchor other than the one its
// readings make on the current state, as when another relayer's batch for
// the collection landed first. Plan it again (PlanAttestations) and resend.
var ErrStaleAnchor = errors.New("the stated anchor is not the one these readings make")

// ErrNotDeviceFed means the collection's tree is its holder's, not built from
// attestations (or the reverse, for an anchor).
var ErrNotDeviceFed = errors.New("collection is not device-fed")

const entryDevice byte = 'd'

func (s *State) putDevice(d Device) {
	if s.Devices == nil {
		s.Devices = map[string]Device{}
	}
	s.Devices[d.ID] = d
	s.touch(entryDevice, d.ID)
}

// DevicesOf lists the devices of a collection, by id.
func (s *State) DevicesOf(collectionID []byte) []Device {
	var out []Device
	for _, id := range slices.Sorted(maps.Keys(s.Devices)) {
		if d := s.Devices[id]; bytes.Equal(d.Collection, collectionID) {
			out = append(out, d)
		}
	}
	return out
}

func (s *State) registerDevice(sender Participant, r *zkv1.RegisterDevice, bc BlockContext) (func(), error) {
	if err := need(sender, zkv1.Role_ROLE_HOLDER); err != nil {
		return nil, err
	}
	if err := device.ValidID(r.GetId()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if _, dup := s.Devices[r.GetId()]; dup {
		return nil, fmt.Errorf("%w: device %q is registered (ids are never reused)", ErrRejected, r.GetId())
	}
	pub, err := device.ParsePublicKey(r.GetPublicKey())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if err := pub.VerifyRegistration(r.GetProof(), r.GetId(), r.GetCollectionId(), sender.ID, r.GetReportIntervalMs()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	// One key, one device: a key that signs for two ids would let one
	// sensor's readings pass for another's.
	for _, d := range s.Devices {
		if bytes.Equal(d.Key, r.GetPublicKey()) {
			return nil, fmt.Errorf("%w: the public key is device %q's", ErrRejected, d.ID)
		}
	}
	if len(r.GetModel()) > maxDeviceText || len(r.GetLocation()) > maxDeviceText {
		return nil, fmt.Errorf("%w: model and location are at most %d bytes", ErrRejected, maxDeviceText)
	}
	c, err := s.deviceCollection(r.GetCollectionId())
	if err != nil {
		return nil, err
	}
	if c.Holder != sender.ID {
		return nil, fmt.Errorf("%w: only the collection's holder %q registers its devices", ErrPermission, c.Holder)
	}
	return func() {
		s.putDevice(Device{ID: r.GetId(), Operator: sender.ID, Key: slices.Clone(r.GetPublicKey()), Collection: slices.Clone(c.ID),
			Model: r.GetModel(), Location: r.GetLocation(), Height: bc.Height, IntervalMs: r.GetReportIntervalMs()})
	}, nil
}

// endorseDevice: a participant other than the device's operator vouches
// for it, once. Only active devices are endorsed.
func (s *State) endorseDevice(sender Participant, r *zkv1.EndorseDevice) (func(), error) {
	d, ok := s.Devices[r.GetId()]
	if !ok || d.Revoked {
		return nil, fmt.Errorf("%w: no active device %q", ErrRejected, r.GetId())
	}
	if d.Operator == sender.ID {
		return nil, fmt.Errorf("%w: %q operates device %q: an endorsement is someone else's word", ErrPermission, sender.ID, d.ID)
	}
	if slices.Contains(d.Endorsers, sender.ID) {
		return nil, fmt.Errorf("%w: %q already endorses device %q", ErrRejected, sender.ID, d.ID)
	}
	if len(d.Endorsers) >= maxEndorsers {
		return nil, fmt.Errorf("%w: device %q has %d endorsements, the most", ErrRejected, d.ID, maxEndorsers)
	}
	return func() {
		d.Endorsers = append(slices.Clone(d.Endorsers), sender.ID)
		s.putDevice(d)
	}, nil
}

func (s *State) revokeDevice(sender Participant, r *zkv1.RevokeDevice, bc BlockContext) (func(), error) {
	d, ok := s.Devices[r.GetId()]
	if !ok || d.Revoked {
		return nil, fmt.Errorf("%w: no active device %q", ErrRejected, r.GetId())
	}
	if d.Operator != sender.ID {
		return nil, fmt.Errorf("%w: only the device's operator %q revokes it", ErrPermission, d.Operator)
	}
	return func() {
		d.Revoked, d.RevokedAt = true, bc.Height
		s.putDevice(d)
	}, nil
}

func (s *State) deviceCollection(id []byte) (Collection, error) {
	if err := checkHash("collection_id", id); err != nil {
		return Collection{}, err
	}
	c, ok := s.Collections[hex.EncodeToString(id)]
	if !ok {
		return c, fmt.Errorf("%w: collection %x is not registered", ErrRejected, id)
	}
	if !c.DeviceFed {
		return c, fmt.Errorf("%w: %w: %x", ErrRejected, ErrNotDeviceFed, id)
	}
	return c, nil
}

// attested is what a batch of attestations does, computed without
// changing the state: the new anchor, the devices' new counters and the
// tree nodes written.
type attested struct {
	coll    Collection
	anchor  *zkv1.Anchor
	devices map[string]Device
	nodes   *overlay
	chain   []byte // the collection's TreeChain after the batch
}

// PlanAttestations checks attestations of one collection against s and
// returns the anchor a relayer puts in their AttestReadings: what Apply
// will compute at the given block time. A refused attestation is named by
// its index.
func (s *State) PlanAttestations(ctx context.Context, collectionID []byte, as []*zkv1.Attestation, timeUnixMs int64) (*zkv1.Anchor, error) {
	return s.plan(ctx, collectionID, as, nil, timeUnixMs)
}

func (s *State) plan(ctx context.Context, collectionID []byte, as []*zkv1.Attestation, tx *Tx, timeUnixMs int64) (*zkv1.Anchor, error) {
	at, err := s.attestations(ctx, collectionID, as, tx, BlockContext{Height: s.Height + 1, TimeUnixMs: timeUnixMs})
	if err != nil {
		return nil, err
	}
	return at.anchor, nil
}

// PlanAttestations is State.PlanAttestations on the tip, with the
// signatures checked on every core and remembered, so that the
// transaction that carries them is not checked again.
func (l *Ledger) PlanAttestations(ctx context.Context, collectionID []byte, as []*zkv1.Attestation, timeUnixMs int64) (*zkv1.Anchor, error) {
	st := l.State()
	probe := &Tx{Body: &zkv1.TxBody{Kind: &zkv1.TxBody_AttestReadings{AttestReadings: &zkv1.AttestReadings{Attestations: as}}}}
	l.sigs.precheck(st, probe)
	return st.plan(ctx, collectionID, as, probe, timeUnixMs)
}

// attestations checks as against s and computes their effect. tx, when
// set, caches signature checks across the several Apply runs a
// transaction gets (mempool, proposal, block).
func (s *State) attestations(ctx context.Context, collectionID []byte, as []*zkv1.Attestation, tx *Tx, bc BlockContext) (*attested, error) {
	c, err := s.deviceCollection(collectionID)
	if err != nil {
		return nil, err
	}
	if n := len(as); n == 0 || n > MaxAttestations {
		return nil, fmt.Errorf("%w: %d attestations, want 1..%d", ErrRejected, n, MaxAttestations)
	}
	at := &attested{coll: c, devices: map[string]Device{}}
	changes := make([]tree.Change, len(as))
	for i, a := range as {
		d, ok := at.devices[a.GetDeviceId()]
		if !ok {
			if d, ok = s.Devices[a.GetDeviceId()]; !ok {
				return nil, attestationErr(i, a, ErrUnauthenticated, "unknown device")
			}
		}
		if d.Revoked {
			return nil, attestationErr(i, a, ErrUnauthenticated, "device revoked")
		}
		if !bytes.Equal(d.Collection, c.ID) {
			return nil, attestationErr(i, a, ErrRejected, "the device feeds another collection")
		}
		if a.GetCounter() <= d.LastCounter {
			return nil, attestationErr(i, a, ErrRejected, fmt.Sprintf("counter replayed or out of order (last attested %d)", d.LastCounter))
		}
		if dt := a.GetTimeUnixMs() - bc.TimeUnixMs; dt > MaxClockSkew || dt < -MaxClockSkew {
			return nil, attestationErr(i, a, ErrRejected, fmt.Sprintf("reading time is %d ms from the block's (at most %d)", dt, MaxClockSkew))
		}
		if a.GetTimeUnixMs() < d.LastTimeUnixMs {
			return nil, attestationErr(i, a, ErrRejected, "reading time before the device's last reading")
		}
		if err := tx.checkAttestation(i, d.Key, a); err != nil {
			return nil, attestationErr(i, a, ErrUnauthenticated, err.Error())
		}
		var leaf fr.Element
		_ = leaf.SetBytesCanonical(a.GetCommitment()) // checked with the signature
		key := device.ReadingKey(d.ID, a.GetCounter())
		changes[i] = tree.Change{Op: tree.Insert, Path: zkhash.KeyPath(zkhash.KeyDigest(key)), Leaf: leaf, Ref: key}
		if skipped := a.GetCounter() - d.LastCounter - 1; skipped > 0 {
			d.Missing += skipped
			d.Gaps = append(slices.Clone(d.Gaps), CounterGap{First: d.LastCounter + 1, Last: a.GetCounter() - 1})
			if len(d.Gaps) > maxGaps {
				d.Gaps = d.Gaps[len(d.Gaps)-maxGaps:]
			}
		}
		d.LastCounter, d.LastTimeUnixMs = a.GetCounter(), a.GetTimeUnixMs()
		d.Readings++
		at.devices[d.ID] = d
	}
	root, err := s.applyReadings(ctx, at, changes)
	if err != nil {
		return nil, err
	}
	rb := root.Bytes()
	at.anchor = &zkv1.Anchor{CollectionId: slices.Clone(c.ID), Root: rb[:], Sequence: 1, RecordCount: uint64(len(as))}
	if c.Last != nil {
		at.anchor.Sequence, at.anchor.PreviousRoot = c.Last.Sequence+1, slices.Clone(c.Last.Root)
		at.anchor.RecordCount += c.Last.RecordCount
	}
	return at, nil
}

// applyReadings inserts a batch's leaves into the collection's tree, in an
// overlay at.nodes, or takes the writes a replica already computed for the
// same batch on the same tree.
func (s *State) applyReadings(ctx context.Context, at *attested, changes []tree.Change) (fr.Element, error) {
	c := &at.coll
	at.nodes = s.overlayFor(c.ID)
	digest := changesDigest(changes)
	at.chain = nextTreeChain(c.TreeChain, digest)
	key := treeCacheKey(c, digest)
	if r, ok := s.trees.get(key); ok {
		at.nodes.writes = r.writes
		return r.root, nil
	}
	if db, ok := s.stored.(dbNodes); ok {
		txn := db.db.NewTransaction(false)
		defer txn.Discard()
		at.nodes.stored = txnNodes{txn}
	}
	root, err := tree.Apply(ctx, at.nodes, changes)
	if errors.Is(err, tree.ErrPathCollision) {
		return root, fmt.Errorf("%w: a reading's key path collides with an attested reading's", ErrRejected)
	}
	if err != nil {
		return root, fmt.Errorf("device tree of collection %x: %w", c.ID, err)
	}
	s.trees.put(key, treeResult{writes: at.nodes.writes, root: root})
	return root, nil
}

func attestationErr(i int, a *zkv1.Attestation, sentinel error, why string) error {
	return &AttestationError{Index: i, DeviceID: a.GetDeviceId(), Counter: a.GetCounter(), Err: fmt.Errorf("%w: %s", sentinel, why)}
}

// AttestationError names the attestation a batch was refused for.
type AttestationError struct {
	Index    int
	DeviceID string
	Counter  uint64
	Err      error
}

func (e *AttestationError) Error() string {
	return fmt.Sprintf("attestation %d (device %q, counter %d): %v", e.Index, e.DeviceID, e.Counter, e.Err)
}

func (e *AttestationError) Unwrap() error { return e.Err }

// checkAttestation verifies a's signature by key, once per transaction.
func (tx *Tx) checkAttestation(i int, key []byte, a *zkv1.Attestation) error {
	if tx != nil && len(key) != 0 && i < len(tx.attestedBy) && bytes.Equal(tx.attestedBy[i], key) {
		return nil
	}
	pub, err := device.ParsePublicKey(key)
	if err != nil {
		return err
	}
	if err := pub.Verify(a); err != nil {
		return err
	}
	if tx != nil {
		if tx.attestedBy == nil {
			tx.attestedBy = make([][]byte, len(tx.Body.GetAttestReadings().GetAttestations()))
		}
		if i < len(tx.attestedBy) {
			tx.attestedBy[i] = key
		}
	}
	return nil
}

// sigCache remembers attestation signatures already verified, so that a
// transaction checked in the mempool, a proposal and its block costs one
// verification per attestation, not four. Bounded: it is dropped whole
// when full.
type sigCache struct {
	mu sync.Mutex
	m  map[[32]byte]struct{}
}

const sigCacheSize = 1 << 18

func sigCacheKey(key []byte, a *zkv1.Attestation) [32]byte {
	b, _ := deterministic.Marshal(a) // an attestation always encodes
	return sha256.Sum256(append(append(slices.Clip(key), 0), b...))
}

// precheck verifies the device signatures of an AttestReadings
// transaction against st's device keys, spread over the cores, and marks
// them checked in tx, so that Apply on the single writer finds them done.
// It changes nothing else; Apply still checks whatever it did not mark.
func (c *sigCache) precheck(st *State, tx *Tx) {
	as := tx.Body.GetAttestReadings().GetAttestations()
	if len(as) == 0 || len(as) > MaxAttestations {
		return
	}
	keys := make([][]byte, len(as))
	cks := make([][32]byte, len(as))
	ok := make([]bool, len(as))
	c.mu.Lock()
	for i, a := range as {
		keys[i] = st.Devices[a.GetDeviceId()].Key
		cks[i] = sigCacheKey(keys[i], a)
		_, ok[i] = c.m[cks[i]]
	}
	c.mu.Unlock()
	tree.Parallel(len(as), func(i int) {
		if ok[i] || len(keys[i]) == 0 {
			return
		}
		if pub, err := device.ParsePublicKey(keys[i]); err == nil {
			ok[i] = pub.Verify(as[i]) == nil
		}
	})
	tx.attestedBy = make([][]byte, len(as))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m)+len(as) > sigCacheSize {
		c.m = make(map[[32]byte]struct{}, len(as))
	}
	for i := range as {
		if ok[i] && len(keys[i]) != 0 {
			tx.attestedBy[i] = keys[i]
			c.m[cks[i]] = struct{}{}
		}
	}
}

func (s *State) attest(r *zkv1.AttestReadings, tx *Tx, bc BlockContext) (func(), error) {
	want := r.GetAnchor()
	at, err := s.attestations(context.Background(), want.GetCollectionId(), r.GetAttestations(), tx, bc)
	if err != nil {
		return nil, err
	}
	got := at.anchor
	switch {
	case want.GetSequence() != got.GetSequence():
		return nil, fmt.Errorf("%w: %w: anchor sequence %d, next is %d", ErrRejected, ErrStaleAnchor, want.GetSequence(), got.GetSequence())
	case !bytes.Equal(want.GetPreviousRoot(), got.GetPreviousRoot()):
		return nil, fmt.Errorf("%w: %w: previous_root is not the collection's last anchored root", ErrRejected, ErrStaleAnchor)
	case !bytes.Equal(want.GetRoot(), got.GetRoot()):
		return nil, fmt.Errorf("%w: %w: root is not the root these readings make", ErrRejected, ErrStaleAnchor)
	case want.GetRecordCount() != got.GetRecordCount():
		return nil, fmt.Errorf("%w: %w: record_count %d, the readings make %d", ErrRejected, ErrStaleAnchor, want.GetRecordCount(), got.GetRecordCount())
	case len(want.GetColumns()) != 0:
		return nil, fmt.Errorf("%w: columns must be empty", ErrRejected)
	}
	return func() {
		for _, d := range at.devices {
			s.putDevice(d)
		}
		s.adoptNodes(at.coll.ID, at.nodes)
		c := at.coll
		st := &AnchorState{Sequence: got.GetSequence(), Root: got.GetRoot(), RecordCount: got.GetRecordCount(), Height: bc.Height,
			TimeUnixMs: bc.TimeUnixMs, TxHash: tx.Hash[:], ConfirmedHeight: bc.Height}
		c.Last, c.Latest = st, st
		c.TreeChain = at.chain
		s.putCollection(hex.EncodeToString(c.ID), c)
	}, nil
}

// Proto is the device as the API shows it; collection is its collection's name.
func (d *Device) Proto(collection string) *zkv1.DeviceState {
	out := &zkv1.DeviceState{Id: d.ID, Collection: collection, PublicKey: d.Key, Model: d.Model, Location: d.Location, Revoked: d.Revoked,
		LastCounter: d.LastCounter, LastTimeUnixMs: d.LastTimeUnixMs, Readings: d.Readings, Missing: d.Missing, RegisteredHeight: d.Height,
		Operator: d.Operator, EndorsedBy: d.Endorsers, RevokedHeight: d.RevokedAt, ReportIntervalMs: d.IntervalMs}
	for _, g := range d.Gaps {
		out.Gaps = append(out.Gaps, &zkv1.CounterRange{First: g.First, Last: g.Last})
	}
	return out
}
