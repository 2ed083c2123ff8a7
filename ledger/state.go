package ledger

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/tree"
)

// State is everything Apply needs to judge the next transaction. It is
// small (participants, circuits, collections with their latest anchors);
// history lives in blocks and indexes.
type State struct {
	Origin       string                 `json:"origin"`
	GenesisHash  []byte                 `json:"genesis_hash"` // transactions sign it (see Chain)
	Height       uint64                 `json:"height"`
	Participants map[string]Participant `json:"participants"`
	Circuits     map[string]Circuit     `json:"circuits"`    // by hex id
	Collections  map[string]Collection  `json:"collections"` // by hex id
	// Threshold is how many governors (active admins) must approve a
	// governance action; 0 means a majority of them (see governance.go).
	Threshold uint32 `json:"governance_threshold,omitempty"`
	// Proposals are the open governance proposals, by hex id.
	Proposals map[string]Proposal `json:"proposals,omitempty"`
	// Devices are the registered devices, by id (see devices.go).
	Devices map[string]Device `json:"devices,omitempty"`
	// Ceremonies are the setup ceremonies' records, by hex id (ceremony.go).
	Ceremonies map[string]Ceremony `json:"ceremonies,omitempty"`
	// Development: the genesis marks this ledger for development, so it
	// accepts single-party (development) circuit keys.
	Development bool `json:"development,omitempty"`

	// nodes are the device trees' nodes written since the last stored
	// block, by hex collection id; stored reads the others (devtree.go).
	nodes  map[string]map[tree.Pos]tree.Node
	stored nodeReader
	trees  *treeCache // shared by a ledger's states

	// The state's commitment and its changes (see statestore.go): dirty
	// are the entries Apply changed since the last fold, tree the
	// commitment as of that fold (folded: there was one), changed the
	// entries the fold took in, which the state's block stores.
	dirty   map[entryKey]struct{}
	tree    *stateNode
	folded  bool
	changed []entryKey
}

// Participant is a registered party.
type Participant struct {
	ID       string    `json:"id"`
	Role     zkv1.Role `json:"role"`
	Key      []byte    `json:"key"`
	Revoked  bool      `json:"revoked,omitempty"`
	Sequence uint64    `json:"sequence"` // of its last accepted transaction
	// KeyFrom is the height of the block whose transactions rotated to Key
	// (0: the genesis key); RevokedAt the height of its revocation.
	KeyFrom   uint64 `json:"key_from,omitempty"`
	RevokedAt uint64 `json:"revoked_at,omitempty"`
	// PastKeys are a validator's earlier keys, oldest first: the keys
	// that signed its earlier blocks (see BlockKeyAt).
	PastKeys []KeyEpoch `json:"past_keys,omitempty"`
	// ConsensusKey is a validator's consensus-engine key (CometBFT's), apart
	// from Key, which signs its transactions and ledger blocks; none for a
	// ledger without a consensus engine. ConsensusKeyFrom is the height of
	// the block that rotated to it, PastConsensusKeys the earlier ones,
	// oldest first (the engine knows a validator by them).
	ConsensusKey      []byte     `json:"consensus_key,omitempty"`
	ConsensusKeyFrom  uint64     `json:"consensus_key_from,omitempty"`
	PastConsensusKeys []KeyEpoch `json:"past_consensus_keys,omitempty"`
}

// Circuit is a pinned circuit.
//
// The registry holds versions: each registration of a name is a new
// version of that circuit (a changed shape, or new keys for the same
// shape), keyed by its circuit id and verifying key. Versions stay usable
// until retired, so bundles made under an older one keep verifying.
type Circuit struct {
	ID       []byte         `json:"id"`
	Name     string         `json:"name"`
	VKSHA256 []byte         `json:"vk_sha256"`
	Setup    zkv1.SetupKind `json:"setup"`
	Height   uint64         `json:"height"`
	// Version is 1 for a name's first registration, then 2, 3, ...
	Version uint32 `json:"version,omitempty"`
	// VK is the verifying key when the registration carried it.
	VK []byte `json:"vk,omitempty"`
	// For ceremony keys: the ceremony, its last receipt's hash, and its
	// contributors in order, as this ledger recorded them.
	CeremonyID     []byte   `json:"ceremony_id,omitempty"`
	TranscriptHash []byte   `json:"transcript_hash,omitempty"`
	Contributors   []string `json:"contributors,omitempty"`
	// RetiredAt is the height of the block that retired this version.
	RetiredAt uint64 `json:"retired_at,omitempty"`
}

// CircuitKey is a circuit version's key in State.Circuits.
func CircuitKey(id, vkSHA256 []byte) string {
	return hex.EncodeToString(id) + hex.EncodeToString(vkSHA256)
}

// CircuitVersion returns the registry entry of one version of a circuit.
func (s *State) CircuitVersion(id, vkSHA256 []byte) (Circuit, bool) {
	c, ok := s.Circuits[CircuitKey(id, vkSHA256)]
	return c, ok
}

// LatestCircuit returns the newest registered version with circuit id id
// that is not retired.
func (s *State) LatestCircuit(id []byte) (Circuit, bool) {
	var best Circuit
	found := false
	for _, c := range s.Circuits {
		if bytes.Equal(c.ID, id) && c.RetiredAt == 0 && (!found || c.Version > best.Version) {
			best, found = c, true
		}
	}
	return best, found
}

// CircuitList lists the registry by name, then version.
func (s *State) CircuitList() []Circuit {
	out := slices.Collect(maps.Values(s.Circuits))
	slices.SortFunc(out, func(a, b Circuit) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version), bytes.Compare(a.VKSHA256, b.VKSHA256))
	})
	return out
}

// MaxVKBytes bounds a verifying key carried by a registration.
const MaxVKBytes = 12 << 10

// Collection is a registered collection and its anchors' state.
type Collection struct {
	ID         []byte   `json:"id"`
	Name       string   `json:"name"`
	Holder     string   `json:"holder"`
	SchemaHash []byte   `json:"schema_hash"`
	TreeDepth  uint32   `json:"tree_depth"`
	CircuitIDs [][]byte `json:"circuit_ids"`
	Confirmers []string `json:"confirmers,omitempty"`
	Required   uint32   `json:"required,omitempty"`
	// Last is the newest anchor, confirmed or not; Latest the newest that counts.
	Last    *AnchorState            `json:"last,omitempty"`
	Latest  *AnchorState            `json:"latest,omitempty"`
	Pending map[uint64]*AnchorState `json:"pending,omitempty"`
	// DeviceFed: the ledger builds the tree from device attestations.
	DeviceFed bool `json:"device_fed,omitempty"`
	// TreeChain is a device-fed collection's chain of batch digests: it
	// names the tree exactly (the root alone does not fix where leaves
	// sit), for the tree cache (devtree.go).
	TreeChain []byte `json:"tree_chain,omitempty"`
}

// Counts says whether the collection's anchor seq counts: it is not
// awaiting (or left without) its M-of-N confirmations, and it is no newer
// than the latest anchor that counts. Only such an anchor backs a bundle.
func (c *Collection) Counts(seq uint64) bool {
	_, pending := c.Pending[seq]
	return !pending && c.Latest != nil && seq <= c.Latest.Sequence
}

// AnchorState is one anchor of a collection.
type AnchorState struct {
	Sequence        uint64   `json:"sequence"`
	Root            []byte   `json:"root"`
	RecordCount     uint64   `json:"record_count"`
	Columns         []byte   `json:"columns,omitempty"` // digest of the column commitments
	Height          uint64   `json:"height"`
	TimeUnixMs      int64    `json:"time_unix_ms"`
	TxHash          []byte   `json:"tx_hash"`
	Confirmations   []string `json:"confirmations,omitempty"`
	ConfirmedHeight uint64   `json:"confirmed_height,omitempty"`
}

// Limits the state machine enforces.
const (
	// MaxClockSkew is how far a transaction's time may be from its block's.
	MaxClockSkew = 10 * 60 * 1000 // ms
	maxPending   = 16
	maxCircuits  = 8
	maxConfirm   = 16
	hashLen      = 32
)

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// NewState returns the state of a fresh ledger with its genesis participants.
func NewState(origin string, genesis []Participant) *State {
	st := &State{Origin: origin, Participants: map[string]Participant{}, Circuits: map[string]Circuit{}, Collections: map[string]Collection{}}
	for _, p := range genesis {
		st.Participants[p.ID] = p
	}
	return st
}

// Chain is the ledger this state is of; transactions for it sign it.
func (s *State) Chain() Chain {
	c := Chain{Origin: s.Origin}
	copy(c.GenesisHash[:], s.GenesisHash)
	return c
}

// Clone returns a copy that Apply can change without touching s. Entries
// are values whose slices, Pending maps and AnchorStates are never changed
// in place (Apply copies them first), so the maps are copied shallowly;
// the commitment tree is shared.
func (s *State) Clone() *State {
	c := *s
	c.Participants = maps.Clone(s.Participants)
	c.Circuits = maps.Clone(s.Circuits)
	c.Collections = maps.Clone(s.Collections)
	c.Proposals = maps.Clone(s.Proposals)
	c.Devices = maps.Clone(s.Devices)
	c.Ceremonies = maps.Clone(s.Ceremonies)
	c.nodes = cloneNodes(s.nodes)
	c.dirty = maps.Clone(s.dirty)
	c.changed = nil
	return &c
}

// BlockContext is what Apply knows about the block being built: its
// height and time. It is the only outside input, so Apply is deterministic.
type BlockContext struct {
	Height     uint64
	TimeUnixMs int64
}

// Apply validates tx against s and, only if it is valid, applies it. On
// error s is unchanged. No clock, randomness or I/O: the same Apply can run
// under a BFT consensus engine.
func Apply(s *State, tx *Tx, bc BlockContext) error {
	b := tx.Body
	if b.GetOrigin() != s.Origin {
		return fmt.Errorf("%w: origin %q is not this ledger's (%q)", ErrRejected, b.GetOrigin(), s.Origin)
	}
	sender, ok := s.Participants[b.GetSender()]
	if !ok {
		return fmt.Errorf("%w: unknown sender %q", ErrUnauthenticated, b.GetSender())
	}
	if sender.Revoked {
		return fmt.Errorf("%w: sender %q is revoked", ErrUnauthenticated, sender.ID)
	}
	if !tx.verify(sender.Key, s.Chain().GenesisHash) {
		return fmt.Errorf("%w: bad signature for sender %q", ErrUnauthenticated, sender.ID)
	}
	if b.GetSequence() != sender.Sequence+1 {
		return fmt.Errorf("%w: sender %q sent %d, next is %d", ErrSequence, sender.ID, b.GetSequence(), sender.Sequence+1)
	}
	if d := b.GetTimeUnixMs() - bc.TimeUnixMs; d > MaxClockSkew || d < -MaxClockSkew {
		return fmt.Errorf("%w: transaction time is %d ms from the block's", ErrRejected, d)
	}
	var commit func()
	var err error
	switch k := b.GetKind().(type) {
	case *zkv1.TxBody_RegisterParticipant:
		commit, err = s.registerParticipant(sender, k.RegisterParticipant)
	case *zkv1.TxBody_RotateKey:
		commit, err = s.rotateKey(sender, k.RotateKey, bc)
	case *zkv1.TxBody_RotateConsensusKey:
		commit, err = s.rotateConsensusKey(sender, k.RotateConsensusKey, bc)
	case *zkv1.TxBody_RevokeParticipant:
		commit, err = s.revoke(sender, k.RevokeParticipant, bc)
	case *zkv1.TxBody_RegisterCircuit:
		commit, err = s.registerCircuit(sender, k.RegisterCircuit, bc)
	case *zkv1.TxBody_RetireCircuit:
		commit, err = s.retireCircuit(sender, k.RetireCircuit, bc)
	case *zkv1.TxBody_RecordContribution:
		commit, err = s.recordContribution(k.RecordContribution.GetReceipt(), bc)
	case *zkv1.TxBody_AttestCeremonyKeys:
		commit, err = s.attestKeys(k.AttestCeremonyKeys.GetAttestation(), bc)
	case *zkv1.TxBody_RegisterCollection:
		commit, err = s.registerCollection(sender, k.RegisterCollection)
	case *zkv1.TxBody_Anchor:
		commit, err = s.anchor(sender, k.Anchor, tx, bc)
	case *zkv1.TxBody_ConfirmAnchor:
		commit, err = s.confirm(sender, k.ConfirmAnchor, bc)
	case *zkv1.TxBody_Audit:
		commit, err = s.audit(sender, k.Audit)
	case *zkv1.TxBody_Propose:
		commit, err = s.propose(sender, k.Propose, bc)
	case *zkv1.TxBody_Approve:
		commit, err = s.approve(sender, k.Approve, bc)
	case *zkv1.TxBody_RegisterDevice:
		commit, err = s.registerDevice(sender, k.RegisterDevice, bc)
	case *zkv1.TxBody_RevokeDevice:
		commit, err = s.revokeDevice(sender, k.RevokeDevice, bc)
	case *zkv1.TxBody_AttestReadings:
		commit, err = s.attest(k.AttestReadings, tx, bc)
	case *zkv1.TxBody_EndorseDevice:
		commit, err = s.endorseDevice(sender, k.EndorseDevice)
	default:
		err = fmt.Errorf("%w: unknown transaction kind", ErrMalformed)
	}
	if err != nil {
		return err
	}
	// Everything is checked: from here on nothing fails.
	sender.Sequence++
	s.putParticipant(sender)
	commit()
	return nil
}

func need(p Participant, roles ...zkv1.Role) error {
	if slices.Contains(roles, p.Role) {
		return nil
	}
	return fmt.Errorf("%w: %q is %s", ErrPermission, p.ID, p.Role)
}

func checkHash(field string, b []byte) error {
	if len(b) != hashLen {
		return fmt.Errorf("%w: %s must be %d bytes, got %d", ErrRejected, field, hashLen, len(b))
	}
	return nil
}

func checkKey(b []byte) error {
	if len(b) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public_key must be %d bytes", ErrRejected, ed25519.PublicKeySize)
	}
	return nil
}

func (s *State) registerParticipant(sender Participant, r *zkv1.RegisterParticipant) (func(), error) {
	if err := s.direct(sender); err != nil {
		return nil, err
	}
	return s.doRegisterParticipant(r)
}

func (s *State) doRegisterParticipant(r *zkv1.RegisterParticipant) (func(), error) {
	if !idRE.MatchString(r.GetId()) {
		return nil, fmt.Errorf("%w: id %q: use 1-64 of a-z 0-9 . _ -", ErrRejected, r.GetId())
	}
	if _, dup := s.Participants[r.GetId()]; dup {
		return nil, fmt.Errorf("%w: participant %q exists", ErrRejected, r.GetId())
	}
	if _, ok := zkv1.Role_name[int32(r.GetRole())]; !ok || r.GetRole() == zkv1.Role_ROLE_UNSPECIFIED {
		return nil, fmt.Errorf("%w: role %d", ErrRejected, r.GetRole())
	}
	if err := checkKey(r.GetPublicKey()); err != nil {
		return nil, err
	}
	if err := s.validatorKeyFree(r.GetRole(), r.GetPublicKey()); err != nil {
		return nil, err
	}
	if err := s.checkConsensusKey(r.GetRole(), r.GetConsensusPublicKey()); err != nil {
		return nil, err
	}
	return func() {
		s.putParticipant(Participant{ID: r.GetId(), Role: r.GetRole(), Key: slices.Clone(r.GetPublicKey()), ConsensusKey: slices.Clone(r.GetConsensusPublicKey())})
	}, nil
}

func (s *State) rotateKey(sender Participant, r *zkv1.RotateKey, bc BlockContext) (func(), error) {
	if r.GetId() != sender.ID {
		return nil, fmt.Errorf("%w: only %q rotates its own key; anyone else needs M-of-N approval: propose it", ErrPermission, r.GetId())
	}
	return s.doRotateKey(r, bc)
}

func (s *State) doRotateKey(r *zkv1.RotateKey, bc BlockContext) (func(), error) {
	p, ok := s.Participants[r.GetId()]
	if !ok || p.Revoked {
		return nil, fmt.Errorf("%w: no active participant %q", ErrRejected, r.GetId())
	}
	if err := checkKey(r.GetPublicKey()); err != nil {
		return nil, err
	}
	if bytes.Equal(p.Key, r.GetPublicKey()) {
		return nil, fmt.Errorf("%w: the new key is the current key", ErrRejected)
	}
	if err := s.validatorKeyFree(p.Role, r.GetPublicKey()); err != nil {
		return nil, err
	}
	return func() {
		p := s.Participants[r.GetId()] // the sender's sequence may have changed it
		if p.Role == zkv1.Role_ROLE_VALIDATOR {
			p.PastKeys = append(slices.Clone(p.PastKeys), KeyEpoch{Key: p.Key, From: p.KeyFrom})
		}
		p.Key, p.KeyFrom = slices.Clone(r.GetPublicKey()), bc.Height
		s.putParticipant(p)
	}, nil
}

func (s *State) rotateConsensusKey(sender Participant, r *zkv1.RotateConsensusKey, bc BlockContext) (func(), error) {
	if r.GetId() != sender.ID {
		return nil, fmt.Errorf("%w: only %q rotates its own key; anyone else needs M-of-N approval: propose it", ErrPermission, r.GetId())
	}
	return s.doRotateConsensusKey(r, bc)
}

func (s *State) doRotateConsensusKey(r *zkv1.RotateConsensusKey, bc BlockContext) (func(), error) {
	p, ok := s.Participants[r.GetId()]
	if !ok || p.Revoked {
		return nil, fmt.Errorf("%w: no active participant %q", ErrRejected, r.GetId())
	}
	if p.Role != zkv1.Role_ROLE_VALIDATOR || len(p.ConsensusKey) == 0 {
		return nil, fmt.Errorf("%w: %q has no consensus key", ErrRejected, p.ID)
	}
	if err := s.checkConsensusKey(p.Role, r.GetConsensusPublicKey()); err != nil {
		return nil, err
	}
	return func() {
		p := s.Participants[r.GetId()] // the sender's sequence may have changed it
		p.PastConsensusKeys = append(slices.Clone(p.PastConsensusKeys), KeyEpoch{Key: p.ConsensusKey, From: p.ConsensusKeyFrom})
		p.ConsensusKey, p.ConsensusKeyFrom = slices.Clone(r.GetConsensusPublicKey()), bc.Height
		s.putParticipant(p)
	}, nil
}

func (s *State) revoke(sender Participant, r *zkv1.RevokeParticipant, bc BlockContext) (func(), error) {
	if err := s.direct(sender); err != nil {
		return nil, err
	}
	if r.GetId() == sender.ID {
		return nil, fmt.Errorf("%w: an admin cannot revoke itself", ErrRejected)
	}
	return s.doRevoke(r, bc)
}

func (s *State) doRevoke(r *zkv1.RevokeParticipant, bc BlockContext) (func(), error) {
	p, ok := s.Participants[r.GetId()]
	if !ok || p.Revoked {
		return nil, fmt.Errorf("%w: no active participant %q", ErrRejected, r.GetId())
	}
	if err := s.keepsGovernors(p); err != nil {
		return nil, err
	}
	return func() {
		p := s.Participants[r.GetId()]
		p.Revoked, p.RevokedAt = true, bc.Height
		s.putParticipant(p)
	}, nil
}

func (s *State) registerCircuit(sender Participant, r *zkv1.RegisterCircuit, bc BlockContext) (func(), error) {
	if err := s.direct(sender); err != nil {
		return nil, err
	}
	return s.doRegisterCircuit(r, bc)
}

func (s *State) doRegisterCircuit(r *zkv1.RegisterCircuit, bc BlockContext) (func(), error) {
	if err := checkHash("circuit_id", r.GetCircuitId()); err != nil {
		return nil, err
	}
	if err := checkHash("vk_sha256", r.GetVkSha256()); err != nil {
		return nil, err
	}
	if len(r.GetName()) > 64 {
		return nil, fmt.Errorf("%w: circuit name longer than 64 bytes", ErrRejected)
	}
	if vk := r.GetVk(); vk != nil {
		if sum := sha256.Sum256(vk); len(vk) > MaxVKBytes || !bytes.Equal(sum[:], r.GetVkSha256()) {
			return nil, fmt.Errorf("%w: the verifying key (%d bytes, at most %d) does not hash to vk_sha256", ErrRejected, len(vk), MaxVKBytes)
		}
	}
	c := Circuit{ID: slices.Clone(r.GetCircuitId()), Name: r.GetName(), VKSHA256: slices.Clone(r.GetVkSha256()), Setup: r.GetSetup(), Height: bc.Height, VK: slices.Clone(r.GetVk())}
	switch r.GetSetup() {
	case zkv1.SetupKind_SETUP_KIND_DEV:
		if !s.Development {
			return nil, fmt.Errorf("%w: single-party (development) keys: whoever made them can forge proofs, and this ledger is not marked for development; register ceremony keys", ErrPermission)
		}
		if len(r.GetCeremonyId()) != 0 || len(r.GetTranscriptHash()) != 0 {
			return nil, fmt.Errorf("%w: development keys name no ceremony", ErrRejected)
		}
	case zkv1.SetupKind_SETUP_KIND_CEREMONY:
		cer, ok := s.CeremonyOf(r.GetCeremonyId())
		if !ok {
			return nil, fmt.Errorf("%w: ceremony %x is not open on this ledger", ErrRejected, r.GetCeremonyId())
		}
		if !bytes.Equal(r.GetTranscriptHash(), cer.Last()) {
			return nil, fmt.Errorf("%w: transcript hash %x is not ceremony %.8x's last recorded contribution (%x)", ErrRejected, r.GetTranscriptHash(), cer.ID, cer.Last())
		}
		if !cer.Attests(r.GetName(), r.GetCircuitId(), r.GetVkSha256()) {
			return nil, fmt.Errorf("%w: ceremony %.8x's participants have not all attested these %s keys (%d of %d attested)", ErrRejected, cer.ID, r.GetName(), len(cer.Attesters), len(cer.Participants))
		}
		// An attestation counts while its attester still holds its key.
		for _, p := range cer.Participants {
			if err := s.stillHolds(p); err != nil {
				return nil, fmt.Errorf("%w: ceremony %.8x's attestation: %w", ErrRejected, cer.ID, err)
			}
		}
		c.CeremonyID, c.TranscriptHash, c.Contributors = slices.Clone(cer.ID), slices.Clone(cer.Last()), cer.Contributors()
	default:
		return nil, fmt.Errorf("%w: setup kind %d", ErrRejected, r.GetSetup())
	}
	for _, o := range s.Circuits {
		if bytes.Equal(o.ID, c.ID) && o.Name != c.Name {
			return nil, fmt.Errorf("%w: circuit %x is registered as %q, not %q", ErrRejected, c.ID, o.Name, c.Name)
		}
	}
	key := CircuitKey(c.ID, c.VKSHA256)
	if _, dup := s.Circuits[key]; dup {
		return nil, fmt.Errorf("%w: circuit %x with verifying key %x is registered", ErrRejected, c.ID, c.VKSHA256)
	}
	for _, o := range s.Circuits {
		if o.Name == c.Name && o.Version >= c.Version {
			c.Version = o.Version
		}
	}
	c.Version++
	return func() { s.putCircuit(key, c) }, nil
}

// RetireCircuitTx retires a circuit version.
func RetireCircuitTx(r *zkv1.RetireCircuit) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_RetireCircuit{RetireCircuit: r} }
}

func (s *State) retireCircuit(sender Participant, r *zkv1.RetireCircuit, bc BlockContext) (func(), error) {
	if err := s.direct(sender); err != nil {
		return nil, err
	}
	return s.doRetireCircuit(r, bc)
}

func (s *State) doRetireCircuit(r *zkv1.RetireCircuit, bc BlockContext) (func(), error) {
	key := CircuitKey(r.GetCircuitId(), r.GetVkSha256())
	c, ok := s.Circuits[key]
	if !ok || c.RetiredAt != 0 {
		return nil, fmt.Errorf("%w: no registered, unretired circuit %x with verifying key %x", ErrRejected, r.GetCircuitId(), r.GetVkSha256())
	}
	return func() {
		c.RetiredAt = bc.Height
		s.putCircuit(key, c)
	}, nil
}

func (s *State) registerCollection(sender Participant, r *zkv1.RegisterCollection) (func(), error) {
	if err := need(sender, zkv1.Role_ROLE_HOLDER); err != nil {
		return nil, err
	}
	if err := checkHash("collection_id", r.GetCollectionId()); err != nil {
		return nil, err
	}
	if err := checkHash("schema_hash", r.GetSchemaHash()); err != nil {
		return nil, err
	}
	if err := checkCollectionName(sender.ID, r.GetName(), r.GetCollectionId()); err != nil {
		return nil, err
	}
	if d := r.GetTreeDepth(); d < 1 || d > 64 {
		return nil, fmt.Errorf("%w: tree_depth %d outside 1..64", ErrRejected, d)
	}
	id := hex.EncodeToString(r.GetCollectionId())
	if _, dup := s.Collections[id]; dup {
		return nil, fmt.Errorf("%w: collection %s is registered", ErrRejected, id)
	}
	if n := len(r.GetCircuitIds()); n == 0 || n > maxCircuits {
		return nil, fmt.Errorf("%w: %d circuit_ids, want 1..%d", ErrRejected, n, maxCircuits)
	}
	for _, c := range r.GetCircuitIds() {
		if _, ok := s.LatestCircuit(c); !ok {
			return nil, fmt.Errorf("%w: circuit %x is not registered", ErrRejected, c)
		}
	}
	if len(r.GetConfirmers()) > maxConfirm || int(r.GetConfirmationsRequired()) > len(r.GetConfirmers()) {
		return nil, fmt.Errorf("%w: %d confirmations required of %d confirmers (at most %d)", ErrRejected, r.GetConfirmationsRequired(), len(r.GetConfirmers()), maxConfirm)
	}
	if r.GetDeviceFed() && len(r.GetConfirmers()) > 0 {
		return nil, fmt.Errorf("%w: a device-fed collection's anchors are the ledger's own: it has no confirmers", ErrRejected)
	}
	seen := map[string]bool{}
	for _, c := range r.GetConfirmers() {
		if p, ok := s.Participants[c]; !ok || p.Revoked || seen[c] {
			return nil, fmt.Errorf("%w: confirmer %q is unknown, revoked or repeated", ErrRejected, c)
		}
		seen[c] = true
	}
	return func() {
		ids := make([][]byte, len(r.GetCircuitIds()))
		for i, c := range r.GetCircuitIds() {
			ids[i] = slices.Clone(c)
		}
		s.putCollection(id, Collection{
			ID: slices.Clone(r.GetCollectionId()), Name: r.GetName(), Holder: sender.ID,
			SchemaHash: slices.Clone(r.GetSchemaHash()), TreeDepth: r.GetTreeDepth(), CircuitIDs: ids,
			Confirmers: slices.Clone(r.GetConfirmers()), Required: r.GetConfirmationsRequired(),
			DeviceFed: r.GetDeviceFed(),
		})
	}, nil
}

func (s *State) anchor(sender Participant, a *zkv1.Anchor, tx *Tx, bc BlockContext) (func(), error) {
	if err := checkHash("collection_id", a.GetCollectionId()); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(a.GetCollectionId())
	c, ok := s.Collections[id]
	if !ok {
		return nil, fmt.Errorf("%w: collection %s is not registered", ErrRejected, id)
	}
	if c.Holder != sender.ID {
		return nil, fmt.Errorf("%w: only the collection's holder %q anchors it", ErrPermission, c.Holder)
	}
	if c.DeviceFed {
		return nil, fmt.Errorf("%w: collection %s is device-fed: the ledger anchors it from attestations", ErrPermission, id)
	}
	if err := checkHash("root", a.GetRoot()); err != nil {
		return nil, err
	}
	if cols := a.GetColumns(); len(cols) != 0 && len(cols) != 32 {
		return nil, fmt.Errorf("%w: columns is %d bytes, want 32 or none", ErrRejected, len(cols))
	}
	var lastSeq uint64
	var lastRoot []byte
	if c.Last != nil {
		lastSeq, lastRoot = c.Last.Sequence, c.Last.Root
	}
	if a.GetSequence() != lastSeq+1 {
		return nil, fmt.Errorf("%w: anchor sequence %d, next is %d", ErrRejected, a.GetSequence(), lastSeq+1)
	}
	if !bytes.Equal(a.GetPreviousRoot(), lastRoot) {
		return nil, fmt.Errorf("%w: previous_root is not the collection's last anchored root", ErrRejected)
	}
	if c.Required > 0 && len(c.Pending) >= maxPending {
		return nil, fmt.Errorf("%w: %d anchors await confirmation", ErrRejected, len(c.Pending))
	}
	return func() {
		st := &AnchorState{Sequence: a.GetSequence(), Root: slices.Clone(a.GetRoot()), RecordCount: a.GetRecordCount(), Columns: slices.Clone(a.GetColumns()), Height: bc.Height, TimeUnixMs: bc.TimeUnixMs, TxHash: tx.Hash[:]}
		c.Last = st
		if c.Required == 0 {
			st.ConfirmedHeight = bc.Height
			c.Latest = st
		} else {
			c.Pending = maps.Clone(c.Pending) // shared with the state's clones
			if c.Pending == nil {
				c.Pending = map[uint64]*AnchorState{}
			}
			c.Pending[st.Sequence] = st
		}
		s.putCollection(id, c)
	}, nil
}

func (s *State) confirm(sender Participant, r *zkv1.ConfirmAnchor, bc BlockContext) (func(), error) {
	id := hex.EncodeToString(r.GetCollectionId())
	c, ok := s.Collections[id]
	if !ok {
		return nil, fmt.Errorf("%w: collection %s is not registered", ErrRejected, id)
	}
	if !slices.Contains(c.Confirmers, sender.ID) {
		return nil, fmt.Errorf("%w: %q does not confirm collection %s", ErrPermission, sender.ID, id)
	}
	a, ok := c.Pending[r.GetSequence()]
	if !ok {
		return nil, fmt.Errorf("%w: anchor %d of collection %s awaits no confirmation", ErrRejected, r.GetSequence(), id)
	}
	if !bytes.Equal(a.Root, r.GetRoot()) {
		return nil, fmt.Errorf("%w: root differs from anchor %d's", ErrRejected, r.GetSequence())
	}
	if slices.Contains(a.Confirmations, sender.ID) {
		return nil, fmt.Errorf("%w: %q already confirmed anchor %d", ErrRejected, sender.ID, r.GetSequence())
	}
	return func() {
		// AnchorStates are shared between a state and its clones: copy, never change one.
		cp := *a
		a = &cp
		a.Confirmations = append(slices.Clone(a.Confirmations), sender.ID)
		c.Pending = maps.Clone(c.Pending) // shared with the state's clones
		c.Pending[a.Sequence] = a
		if c.Last != nil && c.Last.Sequence == a.Sequence {
			c.Last = a
		}
		if uint32(len(a.Confirmations)) >= c.Required {
			a.ConfirmedHeight = bc.Height
			delete(c.Pending, a.Sequence)
			if c.Latest == nil || a.Sequence > c.Latest.Sequence {
				c.Latest = a
			}
		}
		s.putCollection(id, c)
	}, nil
}

func (s *State) audit(sender Participant, a *zkv1.Audit) (func(), error) {
	id := hex.EncodeToString(a.GetCollectionId())
	c, ok := s.Collections[id]
	if !ok {
		return nil, fmt.Errorf("%w: collection %s is not registered", ErrRejected, id)
	}
	if c.Holder != sender.ID {
		return nil, fmt.Errorf("%w: only the collection's holder %q audits it", ErrPermission, c.Holder)
	}
	// The contents are the parties' (a salted commitment): the ledger
	// checks only its shape.
	if err := checkHash("commitment", a.GetCommitment()); err != nil {
		return nil, err
	}
	return func() {}, nil
}
