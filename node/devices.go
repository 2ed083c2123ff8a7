package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/device"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/zkhash"
	"google.golang.org/protobuf/proto"
)

// Limits on device readings.
const (
	// MaxReadingsPerCall bounds one SubmitReadings call (a stream is
	// taken in calls of at most this many).
	MaxReadingsPerCall = 4096
	// attestTxBytes bounds the attestations of one AttestReadings
	// transaction, leaving room for its anchor and envelope.
	attestTxBytes = ledger.MaxAttestTxBytes - 1024
)

// DeviceInfo is a device to register.
type DeviceInfo struct {
	ID, Collection, Model, Location string
	PublicKey                       []byte
	// Proof is the device's consent: its signature over its id, the
	// collection's id, this node's holder and IntervalMs
	// (device.Key.SignRegistration).
	Proof []byte
	// IntervalMs is how often the device says it reports (0: not stated).
	IntervalMs uint64
}

// RegisterDevice registers a device feeding one of the caller's
// device-fed collections.
func (n *Node) RegisterDevice(ctx context.Context, c Caller, d DeviceInfo) (*ledger.Receipt, error) {
	coll := n.Qualify(d.Collection)
	if err := n.ownsCollection(c, coll); err != nil {
		return nil, err
	}
	if err := device.ValidID(d.ID); err != nil {
		return nil, invalid("id", "%v", err)
	}
	if _, err := device.ParsePublicKey(d.PublicKey); err != nil {
		return nil, invalid("public_key", "%v", err)
	}
	lc := n.ledger.State().Collections[collectionKey(coll)]
	if !lc.DeviceFed {
		return nil, errorf(ErrFailedPrecondition, "collection: %q is not device-fed (create it with device_fed)", coll)
	}
	if _, dup := n.ledger.State().Devices[d.ID]; dup {
		return nil, errorf(ErrAlreadyExists, "id: device %q is registered", d.ID)
	}
	pub, _ := device.ParsePublicKey(d.PublicKey) // checked above
	if err := pub.VerifyRegistration(d.Proof, d.ID, lc.ID, n.holderID.ID, d.IntervalMs); err != nil {
		return nil, invalid("proof", "%v (the device signs its id, the collection %q, the holder %q and its report interval)", err, coll, n.holderID.ID)
	}
	return n.send(ctx, n.holderID, ledger.RegisterDeviceTx(&zkv1.RegisterDevice{Id: d.ID, PublicKey: d.PublicKey, CollectionId: lc.ID, Model: d.Model, Location: d.Location, Proof: d.Proof, ReportIntervalMs: d.IntervalMs}))
}

// EndorseDevice vouches, as this node's admin, for a device another
// participant operates.
func (n *Node) EndorseDevice(ctx context.Context, c Caller, id string) (*ledger.Receipt, error) {
	if n.admin == nil || c.ID != n.admin.ID {
		return nil, errorf(ErrPermissionDenied, "this node endorses as its admin only")
	}
	d, ok := n.ledger.State().Devices[id]
	if !ok {
		return nil, errorf(ErrNotFound, "id: no device %q", id)
	}
	if d.Operator == c.ID || d.Operator == n.holderID.ID {
		// This node's admin and holder are one organisation: its word on
		// its own holder's device is the holder's word.
		return nil, errorf(ErrPermissionDenied, "id: device %q is operated by this node's holder %q: another organisation must endorse it", id, d.Operator)
	}
	return n.send(ctx, n.admin, ledger.EndorseDeviceTx(id))
}

// RevokeDevice revokes one of the caller's devices.
func (n *Node) RevokeDevice(ctx context.Context, c Caller, id string) (*ledger.Receipt, error) {
	if err := n.ActsAsHolder(c); err != nil {
		return nil, err
	}
	d, ok := n.ledger.State().Devices[id]
	if !ok {
		return nil, errorf(ErrNotFound, "id: no device %q", id)
	}
	if d.Operator != c.ID {
		return nil, errorf(ErrPermissionDenied, "id: device %q is operated by %q", id, d.Operator)
	}
	return n.send(ctx, n.holderID, ledger.RevokeDeviceTx(id))
}

// Devices lists the registered devices, of one collection or all.
func (n *Node) Devices(collection string) ([]*zkv1.DeviceState, error) {
	collection = n.Qualify(collection)
	st := n.ledger.State()
	names := map[string]string{}
	for _, c := range st.Collections {
		names[string(c.ID)] = c.Name
	}
	var want string
	if collection != "" {
		lc, ok := st.Collections[collectionKey(collection)]
		if !ok {
			return nil, errorf(ErrNotFound, "collection: %q is not registered", collection)
		}
		want = string(lc.ID)
	}
	var out []*zkv1.DeviceState
	for _, id := range slices.Sorted(maps.Keys(st.Devices)) {
		d := st.Devices[id]
		if want == "" || string(d.Collection) == want {
			out = append(out, d.Proto(names[string(d.Collection)]))
		}
	}
	return out, nil
}

// Attested says what SubmitReadings did.
type Attested struct {
	Accepted int
	TxHashes [][]byte
	Height   uint64
}

// SubmitReadings relays signed device readings to the ledger, in order,
// in as few AttestReadings transactions as fit, and keeps the openings of
// readings of collections this node holds. The first refused reading
// stops it: the error names it (readings[i]), every reading before it is
// attested (Attested says how many), none after it.
func (n *Node) SubmitReadings(ctx context.Context, rs []*zkv1.Reading) (*Attested, error) {
	return n.SubmitReadingsAt(ctx, rs, 0)
}

// SubmitReadingsAt is SubmitReadings for readings that are the part of a
// longer stream starting at base: errors name readings by their place in
// the stream.
func (n *Node) SubmitReadingsAt(ctx context.Context, rs []*zkv1.Reading, base int) (*Attested, error) {
	out, err := n.submitReadings(ctx, rs)
	var ie *InvalidArgumentError
	switch {
	case err == nil || base == 0:
	case errors.As(err, &ie):
		err = invalid(offsetField(ie.Field, base), "%s", ie.Reason)
	default:
		err = &offsetErr{err: err, base: base}
	}
	return out, err
}

// offsetErr renumbers the readings[i] an error's text names.
type offsetErr struct {
	err  error
	base int
}

func (e *offsetErr) Error() string { return offsetField(e.err.Error(), e.base) }
func (e *offsetErr) Unwrap() error { return e.err }

var readingIndexRE = regexp.MustCompile(`^readings\[(\d+)\]`)

func offsetField(s string, base int) string {
	return readingIndexRE.ReplaceAllStringFunc(s, func(m string) string {
		i, _ := strconv.Atoi(m[len("readings[") : len(m)-1])
		return fmt.Sprintf("readings[%d]", i+base)
	})
}

func (n *Node) submitReadings(ctx context.Context, rs []*zkv1.Reading) (*Attested, error) {
	if len(rs) > MaxReadingsPerCall {
		return nil, invalid("readings", "at most %d per call", MaxReadingsPerCall)
	}
	n.attestMu.Lock()
	defer n.attestMu.Unlock()
	out := &Attested{}
	for lo := 0; lo < len(rs); {
		if lc, ok := n.attestedBefore(rs[lo]); ok {
			if err := n.deliverOpening(ctx, lc, rs[lo], lo); err != nil {
				return out, err
			}
			lo++
			out.Accepted = lo
			continue
		}
		hi, lc, err := n.nextBatch(rs, lo)
		if err != nil {
			return out, err
		}
		took, err := n.attestBatch(ctx, lc, rs[lo:hi], lo, out)
		out.Accepted = lo + took
		if err != nil {
			return out, err
		}
		if took == 0 { // never: attestBatch takes one reading or says why not
			return out, fmt.Errorf("readings[%d]: not relayed", lo)
		}
		lo += took
	}
	return out, nil
}

// nextBatch finds the readings from lo on that one transaction can carry:
// of one collection, within the transaction size. A reading with no
// attestation, or of an unknown device, ends the batch before it; if it is
// the first, its error is returned.
func (n *Node) nextBatch(rs []*zkv1.Reading, lo int) (int, ledger.Collection, error) {
	st := n.ledger.State()
	var lc ledger.Collection
	size := 0
	for i := lo; i < len(rs); i++ {
		a := rs[i].GetAttestation()
		if a == nil {
			if i == lo {
				return lo, lc, invalid(fmt.Sprintf("readings[%d].attestation", i), "missing")
			}
			return i, lc, nil
		}
		d, ok := st.Devices[a.GetDeviceId()]
		if !ok {
			if i == lo {
				return lo, lc, fmt.Errorf("readings[%d] (device %q, counter %d): %w: unknown device", i, a.GetDeviceId(), a.GetCounter(), ledger.ErrUnauthenticated)
			}
			return i, lc, nil
		}
		c := st.Collections[hex.EncodeToString(d.Collection)]
		if _, late := n.attestedBefore(rs[i]); late && i > lo {
			return i, lc, nil
		}
		if i == lo {
			lc = c
		} else if !slices.Equal(c.ID, lc.ID) {
			return i, lc, nil
		}
		if size += proto.Size(a) + 3; size > attestTxBytes || i-lo == ledger.MaxAttestations {
			if i == lo {
				return lo, lc, invalid(fmt.Sprintf("readings[%d].attestation", i), "%d bytes: too big for a transaction", proto.Size(a))
			}
			return i, lc, nil
		}
	}
	return len(rs), lc, nil
}

// attestedBefore says whether r is an opening of a reading whose counter
// the ledger has passed: one relayed through another organisation, or sent
// again after a lost reply. It only delivers its opening.
func (n *Node) attestedBefore(r *zkv1.Reading) (ledger.Collection, bool) {
	a := r.GetAttestation()
	if a == nil || len(r.GetValues()) == 0 && len(r.GetSalt()) == 0 {
		return ledger.Collection{}, false
	}
	st := n.ledger.State()
	d, ok := st.Devices[a.GetDeviceId()]
	if !ok || a.GetCounter() > d.LastCounter {
		return ledger.Collection{}, false
	}
	return st.Collections[hex.EncodeToString(d.Collection)], true
}

// deliverOpening keeps the opening of a reading already in the ledger's
// tree. The opening must open the commitment the device signed, and that
// commitment must be the attested leaf: otherwise the reading is a replay
// of its counter (or of a gap's), refused as the ledger refuses it.
func (n *Node) deliverOpening(ctx context.Context, lc ledger.Collection, r *zkv1.Reading, i int) error {
	ops, err := n.openings(lc, []*zkv1.Reading{r}, i)
	if err != nil {
		return err
	}
	if err := n.syncReadings(ctx, lc.Name); err != nil {
		return err
	}
	a := r.GetAttestation()
	replay := fmt.Errorf("readings[%d] (device %q, counter %d): %w: counter replayed or out of order (last attested %d)", i, a.GetDeviceId(), a.GetCounter(), ledger.ErrRejected, n.ledger.State().Devices[a.GetDeviceId()].LastCounter)
	if _, err := n.store.Record(ctx, lc.Name, ops[0].Key); errors.Is(err, holder.ErrNotFound) {
		return replay // never attested: a gap stays a gap
	} else if err != nil && !errors.Is(err, holder.ErrNotOpened) {
		return err
	}
	if _, err := n.store.PutOpenings(ctx, lc.Name, []holder.Opening{*ops[0]}); errors.Is(err, holder.ErrOpeningMismatch) {
		return replay // signed by the device, but not the reading attested under this counter
	} else if err != nil {
		return fmt.Errorf("readings[%d]: keep opening: %w", i, err)
	}
	return nil
}

// attestBatch relays one batch of one collection. A reading whose opening
// does not match its signed commitment, or whose attestation the ledger
// would refuse, is left out with those after it; the ones before it are
// relayed first, with their openings kept.
func (n *Node) attestBatch(ctx context.Context, lc ledger.Collection, rs []*zkv1.Reading, base int, out *Attested) (int, error) {
	ops, refused := n.openings(lc, rs, base)
	as := make([]*zkv1.Attestation, len(ops))
	for i := range ops {
		as[i] = rs[i].GetAttestation()
	}
	anchor, as, refused := n.plannable(ctx, lc, as, base, refused)
	if len(as) == 0 {
		return 0, refused
	}
	var open []holder.Opening
	for _, o := range ops[:len(as)] {
		if o != nil {
			open = append(open, *o)
		}
	}
	if len(open) > 0 {
		if _, err := n.store.PutOpenings(ctx, lc.Name, open); err != nil {
			return 0, fmt.Errorf("readings[%d..%d]: keep openings: %w", base, base+len(as)-1, err)
		}
	}
	rec, err := n.relay(ctx, lc, as, anchor)
	if err != nil {
		return 0, err
	}
	out.TxHashes = append(out.TxHashes, rec.Hash[:])
	out.Height = rec.Height
	if lc.Holder == n.holderID.ID {
		if err := n.syncReadings(ctx, lc.Name); err != nil {
			n.log.WarnContext(ctx, "readings attested but not yet mirrored", "collection", lc.Name, "err", err)
		}
	}
	return len(as), refused
}

// plannable cuts as before the first attestation the ledger would refuse,
// and names it (else keeps refused).
func (n *Node) plannable(ctx context.Context, lc ledger.Collection, as []*zkv1.Attestation, base int, refused error) (*zkv1.Anchor, []*zkv1.Attestation, error) {
	for len(as) > 0 {
		anchor, err := n.ledger.PlanAttestations(ctx, lc.ID, as, time.Now().UnixMilli())
		var ae *ledger.AttestationError
		if !errors.As(err, &ae) {
			if err != nil {
				return nil, nil, err
			}
			return anchor, as, refused
		}
		refused = fmt.Errorf("readings[%d] (device %q, counter %d): %w", base+ae.Index, ae.DeviceID, ae.Counter, ae.Err)
		as = as[:ae.Index]
	}
	return nil, nil, refused
}

// relay plans the batch's anchor on the tip and sends it; a batch that
// another relayer's for the same collection overtook (in a consortium) is
// planned again, a few times.
func (n *Node) relay(ctx context.Context, lc ledger.Collection, as []*zkv1.Attestation, anchor *zkv1.Anchor) (*ledger.Receipt, error) {
	const attempts = 4
	for i := 1; ; i++ {
		if i > 1 {
			var err error
			if anchor, err = n.ledger.PlanAttestations(ctx, lc.ID, as, time.Now().UnixMilli()); err != nil {
				return nil, err
			}
		}
		rec, err := n.send(ctx, n.holderID, ledger.AttestReadingsTx(anchor, as))
		if !errors.Is(err, ledger.ErrStaleAnchor) || i == attempts {
			return rec, err
		}
		n.log.InfoContext(ctx, "attestations overtaken: planning again", "collection", lc.Name, "attempt", i)
	}
}

// openings checks the openings of a batch: each must open its
// attestation's signed commitment, and only this node's holder takes any
// (values sent to another node are refused, never stored). It returns one
// entry per reading up to the first bad one (nil: no opening sent), and
// that reading's error.
func (n *Node) openings(lc ledger.Collection, rs []*zkv1.Reading, base int) ([]*holder.Opening, error) {
	var schema *records.Schema
	ops := make([]*holder.Opening, 0, len(rs))
	for i, r := range rs {
		if len(r.GetValues()) == 0 && len(r.GetSalt()) == 0 {
			ops = append(ops, nil)
			continue
		}
		field := fmt.Sprintf("readings[%d]", base+i)
		if lc.Holder != n.holderID.ID {
			return ops, invalid(field, "this node does not hold collection %q: send openings to its holder's node only", lc.Name)
		}
		if schema == nil {
			hc, err := n.store.Collection(lc.Name)
			if err != nil {
				return ops, err
			}
			schema = hc.SchemaOf()
		}
		var salt, signed fr.Element
		if len(r.GetSalt()) != fr.Bytes || salt.SetBytesCanonical(r.GetSalt()) != nil {
			return ops, invalid(field+".salt", "want 32 bytes, a BN254 scalar")
		}
		if len(r.GetValues()) > zkhash.MaxFields {
			return ops, invalid(field+".values", "at most %d", zkhash.MaxFields)
		}
		a := r.GetAttestation()
		key := device.ReadingKey(a.GetDeviceId(), a.GetCounter())
		kd, slots, err := schema.Encode(&records.Record{Key: key, Values: r.GetValues()})
		if err != nil {
			return ops, invalid(field+".values", "do not fit the collection's schema")
		}
		leaf := zkhash.Leaf(schema.ID(), kd, salt, &slots)
		if signed.SetBytesCanonical(a.GetCommitment()) != nil || !leaf.Equal(&signed) {
			return ops, invalid(field, "the values and salt do not open the commitment the device signed")
		}
		ops = append(ops, &holder.Opening{Key: key, Values: r.GetValues(), Salt: salt})
	}
	return ops, nil
}

// syncReadings mirrors a device-fed collection's tree from the ledger into
// the holder store: the readings of every anchor after the store's last,
// with the openings that arrived for them. A no-op for any other
// collection, or one this node does not hold.
func (n *Node) syncReadings(ctx context.Context, name string) error {
	lc, ok := n.ledger.State().Collections[collectionKey(name)]
	if !ok || !lc.DeviceFed || lc.Holder != n.holderID.ID || lc.Latest == nil {
		return nil
	}
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	hc, err := n.store.Collection(name)
	if err != nil {
		return err
	}
	if hc.Synced >= lc.Latest.Sequence {
		return nil
	}
	var rs []holder.Reading
	for seq := hc.Synced + 1; seq <= lc.Latest.Sequence; seq++ {
		e, err := n.ledger.AnchorBySequence(lc.ID, seq)
		if err != nil {
			return fmt.Errorf("collection %s: anchor %d: %w", name, seq, err)
		}
		for _, a := range e.Tx.Body.GetAttestReadings().GetAttestations() {
			var leaf fr.Element
			if err := leaf.SetBytesCanonical(a.GetCommitment()); err != nil {
				return fmt.Errorf("collection %s: anchor %d: %w", name, seq, err)
			}
			rs = append(rs, holder.Reading{Key: device.ReadingKey(a.GetDeviceId(), a.GetCounter()), Leaf: leaf})
		}
	}
	res, err := n.store.AddReadings(ctx, name, lc.Latest.Sequence, rs, nil)
	if err != nil {
		return fmt.Errorf("collection %s: mirror the ledger's readings: %w", name, err)
	}
	if rb := res.Root.Bytes(); !slices.Equal(rb[:], lc.Latest.Root) {
		n.log.ErrorContext(ctx, "holder tree differs from the ledger's", "collection", name, "anchor", lc.Latest.Sequence)
		return errorf(ErrFailedPrecondition, "collection %q: the holder's tree differs from the ledger's anchored root", name)
	}
	n.log.InfoContext(ctx, "readings mirrored", "collection", name, "readings", len(rs), "anchor", lc.Latest.Sequence)
	return nil
}
