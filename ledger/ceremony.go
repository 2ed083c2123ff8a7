package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// A multi-party setup ceremony leaves a trace on the ledger: each
// contribution's receipt (RecordContribution), signed by its contributor's
// ledger key and chained to the one before it, so anyone can audit who
// contributed, in which order, and that no contribution was made after the
// beacon block was known. A ceremony-key registration names the ceremony
// and its last receipt, and its registry entry then lists the contributors
// as the ledger recorded them.

// entryCeremony is the state entry kind of a ceremony's record.
const entryCeremony byte = 'y'

// Bounds of a ceremony on the ledger.
const (
	// MaxContributions bounds one ceremony's recorded contributions (two
	// per participant: one per phase).
	MaxContributions = 256
	// MaxPlanBytes bounds an opened ceremony's plan.
	MaxPlanBytes        = 12 << 10
	maxCeremonyCircuits = 16
	minParticipants     = 2
)

// Ceremony is what the ledger recorded of a ceremony: its plan's
// essentials, the contributions, and the keys its participants attested.
type Ceremony struct {
	ID           []byte                `json:"id"`
	BeaconHeight uint64                `json:"beacon_height"`
	OpenedAt     uint64                `json:"opened_at"`
	Participants []CeremonyParticipant `json:"participants"`
	Circuits     []CeremonyCircuit     `json:"circuits"`
	Contributed  []Contribution        `json:"contributions,omitempty"`
	// Beacon and Keys are fixed by the first attestation; Attesters are
	// the participants who attested them.
	Beacon    []byte        `json:"beacon,omitempty"`
	Keys      []CeremonyKey `json:"keys,omitempty"`
	Attesters []string      `json:"attesters,omitempty"`
}

// CeremonyKey is one circuit's keys from a ceremony.
type CeremonyKey struct {
	Name      string `json:"name"`
	CircuitID []byte `json:"circuit_id"`
	VKSHA256  []byte `json:"vk_sha256"`
}

// CeremonyParticipant is a planned contributor and the key it signs with.
type CeremonyParticipant struct {
	ID  string `json:"id"`
	Key []byte `json:"key"`
}

// CeremonyCircuit is a circuit a ceremony sets up.
type CeremonyCircuit struct {
	Name string `json:"name"`
	ID   []byte `json:"id"`
}

// Contribution is one recorded contribution.
type Contribution struct {
	Index       uint32 `json:"index"`
	Contributor string `json:"contributor"`
	ReceiptHash []byte `json:"receipt_hash"`
	StateHash   []byte `json:"state_hash"`
	Height      uint64 `json:"height"`
}

// Last is the hash of the ceremony's last recorded receipt (nil if none).
func (c *Ceremony) Last() []byte {
	if len(c.Contributed) == 0 {
		return nil
	}
	return c.Contributed[len(c.Contributed)-1].ReceiptHash
}

// Contributors lists the contributors in order (each participant twice:
// a ceremony's phases each take a round).
func (c *Ceremony) Contributors() []string {
	out := make([]string, len(c.Contributed))
	for i, k := range c.Contributed {
		out[i] = k.Contributor
	}
	return out
}

// Complete says whether every planned contribution is recorded.
func (c *Ceremony) Complete() bool { return len(c.Contributed) == 2*len(c.Participants) }

// Attested says whether every participant attested the keys.
func (c *Ceremony) Attested() bool {
	return len(c.Participants) > 0 && len(c.Attesters) == len(c.Participants)
}

func (c *Ceremony) participant(id string) (CeremonyParticipant, bool) {
	for _, p := range c.Participants {
		if p.ID == id {
			return p, true
		}
	}
	return CeremonyParticipant{}, false
}

// Attests says whether the participants attested these keys of circuit name.
func (c *Ceremony) Attests(name string, id, vkSHA256 []byte) bool {
	for _, k := range c.Keys {
		if k.Name == name && bytes.Equal(k.CircuitID, id) && bytes.Equal(k.VKSHA256, vkSHA256) {
			return c.Attested()
		}
	}
	return false
}

func (s *State) putCeremony(c Ceremony) {
	if s.Ceremonies == nil {
		s.Ceremonies = map[string]Ceremony{}
	}
	id := hex.EncodeToString(c.ID)
	s.Ceremonies[id] = c
	s.touch(entryCeremony, id)
}

// CeremonyOf returns the ledger's record of a ceremony.
func (s *State) CeremonyOf(id []byte) (Ceremony, bool) {
	c, ok := s.Ceremonies[hex.EncodeToString(id)]
	return c, ok
}

// planView is what the ledger reads of a ceremony plan (ceremony.json,
// package ceremony's Plan): the rest is the ceremony's own business.
type planView struct {
	GenesisHash  string `json:"genesis_hash"`
	BeaconHeight uint64 `json:"beacon_height"`
	Circuits     []struct {
		Name      string `json:"name"`
		CircuitID string `json:"circuit_id"`
	} `json:"circuits"`
	Participants []struct {
		ID        string `json:"id"`
		PublicKey string `json:"public_key"`
	} `json:"participants"`
}

// ActOpenCeremony opens a ceremony whose plan is plan.
func ActOpenCeremony(plan []byte) *zkv1.GovernanceAction {
	return &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_OpenCeremony{OpenCeremony: &zkv1.OpenCeremony{Plan: plan}}}
}

// openCeremony: the plan is this ledger's, names two or more distinct
// active participants with their current keys, one to 16 circuits, and a
// beacon block still to come.
func (s *State) openCeremony(r *zkv1.OpenCeremony, bc BlockContext) (func(), error) {
	plan := r.GetPlan()
	if len(plan) == 0 || len(plan) > MaxPlanBytes {
		return nil, fmt.Errorf("%w: a ceremony plan of %d bytes (1 to %d)", ErrRejected, len(plan), MaxPlanBytes)
	}
	sum := sha256.Sum256(plan)
	if _, dup := s.CeremonyOf(sum[:]); dup {
		return nil, fmt.Errorf("%w: ceremony %x is open", ErrRejected, sum[:8])
	}
	var v planView
	if err := json.Unmarshal(plan, &v); err != nil {
		return nil, fmt.Errorf("%w: ceremony plan: %w", ErrRejected, err)
	}
	if v.GenesisHash != hex.EncodeToString(s.GenesisHash) {
		return nil, fmt.Errorf("%w: the plan is for ledger %.16s, not this one", ErrRejected, v.GenesisHash)
	}
	if v.BeaconHeight <= bc.Height {
		return nil, fmt.Errorf("%w: beacon height %d is not in the future (this block is %d)", ErrRejected, v.BeaconHeight, bc.Height)
	}
	n := len(v.Participants)
	if n < minParticipants || 2*n > MaxContributions {
		return nil, fmt.Errorf("%w: %d participants, want %d to %d", ErrRejected, n, minParticipants, MaxContributions/2)
	}
	if len(v.Circuits) == 0 || len(v.Circuits) > maxCeremonyCircuits {
		return nil, fmt.Errorf("%w: %d circuits, want 1 to %d", ErrRejected, len(v.Circuits), maxCeremonyCircuits)
	}
	c := Ceremony{ID: sum[:], BeaconHeight: v.BeaconHeight, OpenedAt: bc.Height}
	for _, pc := range v.Circuits {
		id, err := hex.DecodeString(pc.CircuitID)
		if err != nil || len(id) != hashLen || pc.Name == "" || len(pc.Name) > 64 || slices.ContainsFunc(c.Circuits, func(o CeremonyCircuit) bool { return o.Name == pc.Name }) {
			return nil, fmt.Errorf("%w: plan circuit %q: want a unique name and a 32-byte id", ErrRejected, pc.Name)
		}
		c.Circuits = append(c.Circuits, CeremonyCircuit{Name: pc.Name, ID: id})
	}
	for _, pp := range v.Participants {
		key, err := hex.DecodeString(pp.PublicKey)
		p, ok := s.Participants[pp.ID]
		if err != nil || !ok || p.Revoked || !bytes.Equal(p.Key, key) {
			return nil, fmt.Errorf("%w: plan participant %q is not an active participant with that key", ErrRejected, pp.ID)
		}
		if _, dup := c.participant(pp.ID); dup {
			return nil, fmt.Errorf("%w: plan participant %q is named twice", ErrRejected, pp.ID)
		}
		c.Participants = append(c.Participants, CeremonyParticipant{ID: p.ID, Key: slices.Clone(key)})
	}
	return func() { s.putCeremony(c) }, nil
}

const receiptDomain = "zkshare/ceremony/receipt/v1\n"

// ReceiptMessage is what a contributor signs: every field of the receipt
// but the signature, in a fixed layout.
func ReceiptMessage(r *zkv1.ContributionReceipt) []byte {
	b := make([]byte, 0, len(receiptDomain)+3*hashLen+4+8+1+len(r.GetContributor()))
	b = append(b, receiptDomain...)
	b = appendField(b, r.GetCeremonyId())
	b = binary.BigEndian.AppendUint32(b, r.GetIndex())
	b = appendField(b, r.GetPrevious())
	b = appendField(b, r.GetStateHash())
	b = binary.BigEndian.AppendUint64(b, r.GetBeaconHeight())
	return appendField(b, []byte(r.GetContributor()))
}

func appendField(b, f []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
	return append(b, f...)
}

// ReceiptHash names a receipt: the next receipt's previous, and a ceremony
// registration's transcript hash when it is the last.
func ReceiptHash(r *zkv1.ContributionReceipt) []byte {
	h := sha256.Sum256(ReceiptMessage(r))
	return h[:]
}

// SignReceipt makes id the receipt's contributor and signs it.
func SignReceipt(id *Identity, r *zkv1.ContributionReceipt) {
	r.Contributor = id.ID
	r.Signature = ed25519.Sign(id.Key, ReceiptMessage(r))
}

// VerifyReceipt checks a receipt's signature against key.
func VerifyReceipt(key ed25519.PublicKey, r *zkv1.ContributionReceipt) bool {
	return len(key) == ed25519.PublicKeySize && ed25519.Verify(key, ReceiptMessage(r), r.GetSignature())
}

// RecordContributionTx records a ceremony contribution's receipt.
func RecordContributionTx(r *zkv1.ContributionReceipt) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) {
		b.Kind = &zkv1.TxBody_RecordContribution{RecordContribution: &zkv1.RecordContribution{Receipt: r}}
	}
}

// recordContribution: any active participant relays; the ceremony is open,
// the receipt is the next step's, signed by that step's planned participant
// (still active), and the beacon block does not exist yet.
func (s *State) recordContribution(r *zkv1.ContributionReceipt, bc BlockContext) (func(), error) {
	if err := checkHash("receipt.ceremony_id", r.GetCeremonyId()); err != nil {
		return nil, err
	}
	if err := checkHash("receipt.previous", r.GetPrevious()); err != nil {
		return nil, err
	}
	if err := checkHash("receipt.state_hash", r.GetStateHash()); err != nil {
		return nil, err
	}
	c, ok := s.CeremonyOf(r.GetCeremonyId())
	if !ok {
		return nil, fmt.Errorf("%w: ceremony %x is not open on this ledger", ErrRejected, r.GetCeremonyId())
	}
	if r.GetBeaconHeight() != c.BeaconHeight {
		return nil, fmt.Errorf("%w: beacon height %d, the ceremony's is %d", ErrRejected, r.GetBeaconHeight(), c.BeaconHeight)
	}
	if bc.Height >= c.BeaconHeight {
		return nil, fmt.Errorf("%w: the ceremony's beacon block %d is known (this block is %d): it takes no more contributions", ErrRejected, c.BeaconHeight, bc.Height)
	}
	if c.Complete() {
		return nil, fmt.Errorf("%w: the ceremony has every contribution it planned", ErrRejected)
	}
	want, prev := uint32(len(c.Contributed)+1), c.Last()
	if prev == nil {
		prev = c.ID
	}
	if r.GetIndex() != want || !bytes.Equal(r.GetPrevious(), prev) {
		return nil, fmt.Errorf("%w: contribution %d after %.8x: the ceremony's next is %d after %.8x", ErrRejected, r.GetIndex(), r.GetPrevious(), want, prev)
	}
	planned := c.Participants[int(want-1)%len(c.Participants)]
	if r.GetContributor() != planned.ID {
		return nil, fmt.Errorf("%w: contribution %d is %q's, not %q's", ErrPermission, want, planned.ID, r.GetContributor())
	}
	if err := s.stillHolds(planned); err != nil {
		return nil, err
	}
	if !VerifyReceipt(planned.Key, r) {
		return nil, fmt.Errorf("%w: the receipt is not signed by %q's key", ErrUnauthenticated, planned.ID)
	}
	return func() {
		c.Contributed = append(slices.Clone(c.Contributed), Contribution{Index: r.GetIndex(), Contributor: planned.ID,
			ReceiptHash: ReceiptHash(r), StateHash: slices.Clone(r.GetStateHash()), Height: bc.Height})
		s.putCeremony(c)
	}, nil
}

const attestationDomain = "zkshare/ceremony/keys/v1\n"

// AttestationMessage is what a participant signs of a KeysAttestation:
// every field but the signature, in a fixed layout.
func AttestationMessage(a *zkv1.KeysAttestation) []byte {
	b := append([]byte(nil), attestationDomain...)
	b = appendField(b, a.GetCeremonyId())
	b = appendField(b, a.GetTranscriptHash())
	b = appendField(b, a.GetBeacon())
	b = binary.BigEndian.AppendUint32(b, uint32(len(a.GetKeys())))
	for _, k := range a.GetKeys() {
		b = appendField(b, []byte(k.GetName()))
		b = appendField(b, k.GetCircuitId())
		b = appendField(b, k.GetVkSha256())
	}
	return appendField(b, []byte(a.GetAttester()))
}

// SignAttestation makes id the attester and signs the attestation.
func SignAttestation(id *Identity, a *zkv1.KeysAttestation) {
	a.Attester = id.ID
	a.Signature = ed25519.Sign(id.Key, AttestationMessage(a))
}

// AttestCeremonyKeysTx records a participant's attestation of a
// ceremony's keys.
func AttestCeremonyKeysTx(a *zkv1.KeysAttestation) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) {
		b.Kind = &zkv1.TxBody_AttestCeremonyKeys{AttestCeremonyKeys: &zkv1.AttestCeremonyKeys{Attestation: a}}
	}
}

// attestKeys: the ceremony is complete and its beacon block exists; the
// attester is a planned participant (active, not attested yet) and signed
// with its planned key; the keys are of the plan's circuits, each once,
// over the last receipt. The first attestation fixes the beacon and the
// keys: every later one must attest the same.
func (s *State) attestKeys(a *zkv1.KeysAttestation, bc BlockContext) (func(), error) {
	c, ok := s.CeremonyOf(a.GetCeremonyId())
	if !ok {
		return nil, fmt.Errorf("%w: ceremony %x is not open on this ledger", ErrRejected, a.GetCeremonyId())
	}
	if !c.Complete() || bc.Height <= c.BeaconHeight {
		return nil, fmt.Errorf("%w: ceremony %.8x has %d of %d contributions and its beacon block is %d (this block is %d): its keys are not final", ErrRejected, c.ID, len(c.Contributed), 2*len(c.Participants), c.BeaconHeight, bc.Height)
	}
	if !bytes.Equal(a.GetTranscriptHash(), c.Last()) || len(a.GetBeacon()) != hashLen {
		return nil, fmt.Errorf("%w: the attestation is not over the ceremony's last contribution %.8x with a 32-byte beacon", ErrRejected, c.Last())
	}
	p, ok := c.participant(a.GetAttester())
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a participant of ceremony %.8x", ErrPermission, a.GetAttester(), c.ID)
	}
	if err := s.stillHolds(p); err != nil {
		return nil, err
	}
	if len(a.GetSignature()) != ed25519.SignatureSize || !ed25519.Verify(p.Key, AttestationMessage(a), a.GetSignature()) {
		return nil, fmt.Errorf("%w: the attestation is not signed by %q's key", ErrUnauthenticated, p.ID)
	}
	if slices.Contains(c.Attesters, p.ID) {
		return nil, fmt.Errorf("%w: %q attested ceremony %.8x's keys already", ErrRejected, p.ID, c.ID)
	}
	keys := a.GetKeys()
	if len(keys) == 0 || len(keys) > len(c.Circuits) {
		return nil, fmt.Errorf("%w: %d keys, the plan has %d circuits", ErrRejected, len(keys), len(c.Circuits))
	}
	for i, k := range keys {
		if !slices.ContainsFunc(c.Circuits, func(pc CeremonyCircuit) bool { return pc.Name == k.GetName() && bytes.Equal(pc.ID, k.GetCircuitId()) }) ||
			len(k.GetVkSha256()) != hashLen || slices.ContainsFunc(keys[:i], func(o *zkv1.CeremonyKey) bool { return o.GetName() == k.GetName() }) {
			return nil, fmt.Errorf("%w: key %d (%q) is not of a plan circuit, or is named twice", ErrRejected, i, k.GetName())
		}
	}
	if len(c.Attesters) > 0 && (!bytes.Equal(a.GetBeacon(), c.Beacon) || !sameKeys(keys, c.Keys)) {
		return nil, fmt.Errorf("%w: %q attests other keys or another beacon than %s did: the ceremony's keys are disputed", ErrRejected, p.ID, strings.Join(c.Attesters, ", "))
	}
	return func() {
		if len(c.Attesters) == 0 {
			c.Beacon = slices.Clone(a.GetBeacon())
			c.Keys = make([]CeremonyKey, len(keys))
			for i, k := range keys {
				c.Keys[i] = CeremonyKey{Name: k.GetName(), CircuitID: slices.Clone(k.GetCircuitId()), VKSHA256: slices.Clone(k.GetVkSha256())}
			}
		}
		c.Attesters = append(slices.Clone(c.Attesters), p.ID)
		s.putCeremony(c)
	}, nil
}

func sameKeys(a []*zkv1.CeremonyKey, b []CeremonyKey) bool {
	return slices.EqualFunc(a, b, func(x *zkv1.CeremonyKey, y CeremonyKey) bool {
		return x.GetName() == y.Name && bytes.Equal(x.GetCircuitId(), y.CircuitID) && bytes.Equal(x.GetVkSha256(), y.VKSHA256)
	})
}

// stillHolds: p is an active participant whose ledger key is still the
// plan's. A revoked participant, or one whose key was rotated (perhaps
// because it leaked), no longer acts in a ceremony opened before: the
// recovery is a new ceremony.
func (s *State) stillHolds(p CeremonyParticipant) error {
	lp, ok := s.Participants[p.ID]
	if !ok || lp.Revoked || !bytes.Equal(lp.Key, p.Key) {
		return fmt.Errorf("%w: %q is no longer an active participant holding the plan's key", ErrUnauthenticated, p.ID)
	}
	return nil
}

// CheckCeremonyTx runs a ceremony transaction's checks (RecordContribution,
// AttestCeremonyKeys) against s as the next block would, changing nothing:
// a relay refuses what the ledger would, before it signs anything.
func CheckCeremonyTx(s *State, kind func(*zkv1.TxBody)) error {
	var b zkv1.TxBody
	kind(&b)
	bc := BlockContext{Height: s.Height + 1}
	var err error
	switch k := b.GetKind().(type) {
	case *zkv1.TxBody_RecordContribution:
		_, err = s.recordContribution(k.RecordContribution.GetReceipt(), bc)
	case *zkv1.TxBody_AttestCeremonyKeys:
		_, err = s.attestKeys(k.AttestCeremonyKeys.GetAttestation(), bc)
	default:
		err = fmt.Errorf("%w: not a ceremony transaction", ErrMalformed)
	}
	return err
}
