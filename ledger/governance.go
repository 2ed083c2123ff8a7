package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"google.golang.org/protobuf/proto"
)

// Governance: no single organisation changes who takes part. The governors
// are the active admins (one per organisation in a consortium); a change of
// participants, circuits or a collection's confirmers is a proposal that
// takes effect in the transaction whose approval brings it to the
// threshold M: State.Threshold, or a majority of the governors when that is
// 0. With one governor (a single node) M is 1, and the direct admin
// transactions (RegisterParticipant, RevokeParticipant, RegisterCircuit)
// stay valid; with M > 1 they are refused. A key is rotated by its owner
// (RotateKey) or by an approved proposal, never by one admin alone.

// KeyEpoch is a key a participant held from height From on (0: genesis).
type KeyEpoch struct {
	Key  []byte `json:"key"`
	From uint64 `json:"from"`
}

// Proposal is an open governance proposal.
type Proposal struct {
	ID        []byte   `json:"id"`
	Action    []byte   `json:"action"` // deterministic encoding of a zkv1.GovernanceAction
	Kind      string   `json:"kind"`
	Proposer  string   `json:"proposer"`
	Height    uint64   `json:"height"`
	Expires   int64    `json:"expires_unix_ms"` // block time after which it cannot be approved
	Approvals []string `json:"approvals,omitempty"`
}

// Limits of governance.
const (
	// ProposalLifetime is how long (block time, ms) a proposal stays open.
	ProposalLifetime = 7 * 24 * 60 * 60 * 1000
	maxProposals     = 64
	maxProposalsEach = 8
	// maxProposalsHolder bounds a holder's open confirmer-set proposals.
	maxProposalsHolder = 2
	proposalDomain     = "zkshare/proposal/v1\n"
)

// ProposalID is the id of the proposal of action: every governor proposing
// the same action names the same proposal.
func ProposalID(action *zkv1.GovernanceAction) ([]byte, error) {
	b, err := deterministic.Marshal(action)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte(proposalDomain), b...))
	return sum[:], nil
}

// Governors are the active admins, sorted.
func (s *State) Governors() []string {
	var out []string
	for id, p := range s.Participants {
		if p.Role == zkv1.Role_ROLE_ADMIN && !p.Revoked {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// GovernanceThreshold is M: how many governors must approve a proposal.
func (s *State) GovernanceThreshold() int {
	if s.Threshold > 0 {
		return int(s.Threshold)
	}
	return len(s.Governors())/2 + 1
}

func (s *State) isGovernor(p Participant) bool {
	return p.Role == zkv1.Role_ROLE_ADMIN && !p.Revoked
}

// direct allows an admin's own governance transaction only when one
// governor is enough.
func (s *State) direct(sender Participant) error {
	if err := need(sender, zkv1.Role_ROLE_ADMIN); err != nil {
		return err
	}
	if m := s.GovernanceThreshold(); m > 1 {
		return fmt.Errorf("%w: needs M-of-N approval (%d of %d governors): propose it", ErrPermission, m, len(s.Governors()))
	}
	return nil
}

// keepsGovernors refuses revoking a governor that would leave fewer
// governors than the threshold (or none).
func (s *State) keepsGovernors(p Participant) error {
	if p.Role == zkv1.Role_ROLE_VALIDATOR && s.activeValidators() <= 1 {
		return fmt.Errorf("%w: %q is the last validator", ErrRejected, p.ID)
	}
	if !s.isGovernor(p) {
		return nil
	}
	left := len(s.Governors()) - 1
	if left < 1 || (s.Threshold > 0 && left < int(s.Threshold)) {
		return fmt.Errorf("%w: revoking %q would leave %d governors, threshold %d", ErrRejected, p.ID, left, s.GovernanceThreshold())
	}
	return nil
}

// validatorKeyFree refuses a validator key that any validator holds or
// held: a consensus engine knows validators by key.
func (s *State) validatorKeyFree(role zkv1.Role, key []byte) error {
	if role != zkv1.Role_ROLE_VALIDATOR {
		return nil
	}
	for id, p := range s.Participants {
		if p.Role == zkv1.Role_ROLE_VALIDATOR && p.HadKey(key) {
			return fmt.Errorf("%w: validator %q holds or held this key", ErrRejected, id)
		}
	}
	return nil
}

// underEngine says whether the ledger runs under a consensus engine: its
// validators have consensus keys (from genesis on).
func (s *State) underEngine() bool {
	for _, p := range s.Participants {
		if p.Role == zkv1.Role_ROLE_VALIDATOR && len(p.ConsensusKey) > 0 {
			return true
		}
	}
	return false
}

// checkConsensusKey checks a new consensus key for a participant of role:
// required for a validator under a consensus engine, refused otherwise,
// and never one that a validator holds or held (the engine knows
// validators by it).
func (s *State) checkConsensusKey(role zkv1.Role, key []byte) error {
	if role != zkv1.Role_ROLE_VALIDATOR || !s.underEngine() {
		if len(key) > 0 {
			return fmt.Errorf("%w: consensus_public_key is only for a validator under a consensus engine", ErrRejected)
		}
		return nil
	}
	if len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: a validator needs a %d-byte consensus_public_key", ErrRejected, ed25519.PublicKeySize)
	}
	for id, p := range s.Participants {
		if p.Role == zkv1.Role_ROLE_VALIDATOR && p.HadConsensusKey(key) {
			return fmt.Errorf("%w: validator %q holds or held this consensus key", ErrRejected, id)
		}
	}
	return nil
}

// HadConsensusKey says whether key is p's current or a past consensus key.
func (p Participant) HadConsensusKey(key []byte) bool {
	if len(p.ConsensusKey) > 0 && bytes.Equal(p.ConsensusKey, key) {
		return true
	}
	for _, e := range p.PastConsensusKeys {
		if bytes.Equal(e.Key, key) {
			return true
		}
	}
	return false
}

// activeValidators counts the validators not revoked, with a consensus key
// or not (a single node's validator has none).
func (s *State) activeValidators() int {
	n := 0
	for _, p := range s.Participants {
		if p.Role == zkv1.Role_ROLE_VALIDATOR && !p.Revoked {
			n++
		}
	}
	return n
}

// BlockKeyAt is the key of p that signs block h: blocks up to and
// including the one that rotates a key are signed with the previous one.
func (p Participant) BlockKeyAt(h uint64) ed25519.PublicKey {
	if p.KeyFrom < h || p.KeyFrom == 0 {
		return p.Key
	}
	for i := len(p.PastKeys) - 1; i >= 0; i-- {
		if p.PastKeys[i].From < h || p.PastKeys[i].From == 0 {
			return p.PastKeys[i].Key
		}
	}
	return nil
}

// HadKey says whether key is p's current key or one of its past keys.
func (p Participant) HadKey(key []byte) bool {
	if bytes.Equal(p.Key, key) {
		return true
	}
	for _, e := range p.PastKeys {
		if bytes.Equal(e.Key, key) {
			return true
		}
	}
	return false
}

// Validators are the active validators' current consensus keys, by id:
// the consensus engine's validator set (empty without an engine).
func (s *State) Validators() map[string]ed25519.PublicKey {
	out := map[string]ed25519.PublicKey{}
	for id, p := range s.Participants {
		if p.Role == zkv1.Role_ROLE_VALIDATOR && !p.Revoked && len(p.ConsensusKey) == ed25519.PublicKeySize {
			out[id] = p.ConsensusKey
		}
	}
	return out
}

// checkAction validates a governance action against s and returns what
// applies it, and the holder who must propose it (SetConfirmers) or "".
func (s *State) checkAction(a *zkv1.GovernanceAction, bc BlockContext) (func(), string, error) {
	switch k := a.GetAction().(type) {
	case *zkv1.GovernanceAction_RegisterParticipant:
		c, err := s.doRegisterParticipant(k.RegisterParticipant)
		return c, "", err
	case *zkv1.GovernanceAction_RevokeParticipant:
		c, err := s.doRevoke(k.RevokeParticipant, bc)
		return c, "", err
	case *zkv1.GovernanceAction_RotateKey:
		c, err := s.doRotateKey(k.RotateKey, bc)
		return c, "", err
	case *zkv1.GovernanceAction_RotateConsensusKey:
		c, err := s.doRotateConsensusKey(k.RotateConsensusKey, bc)
		return c, "", err
	case *zkv1.GovernanceAction_RegisterCircuit:
		c, err := s.doRegisterCircuit(k.RegisterCircuit, bc)
		return c, "", err
	case *zkv1.GovernanceAction_RetireCircuit:
		c, err := s.doRetireCircuit(k.RetireCircuit, bc)
		return c, "", err
	case *zkv1.GovernanceAction_OpenCeremony:
		c, err := s.openCeremony(k.OpenCeremony, bc)
		return c, "", err
	case *zkv1.GovernanceAction_SetConfirmers:
		return s.setConfirmers(k.SetConfirmers, bc)
	}
	return nil, "", fmt.Errorf("%w: no governance action", ErrMalformed)
}

func actionKind(a *zkv1.GovernanceAction) string {
	if a.GetAction() == nil {
		return ""
	}
	return string(a.ProtoReflect().WhichOneof(a.ProtoReflect().Descriptor().Oneofs().ByName("action")).Name())
}

func (s *State) propose(sender Participant, r *zkv1.Propose, bc BlockContext) (func(), error) {
	a := r.GetAction()
	commit, holder, err := s.checkAction(a, bc)
	if err != nil {
		return nil, err
	}
	governor := s.isGovernor(sender)
	id, err := ProposalID(a)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	key := hex.EncodeToString(id)
	p, open := s.Proposals[key]
	if open && bc.TimeUnixMs > p.Expires {
		open = false
	}
	switch {
	case holder != "" && sender.ID != holder && !open:
		return nil, fmt.Errorf("%w: only the collection's holder %q proposes its confirmers", ErrPermission, holder)
	case holder == "" && !governor:
		return nil, fmt.Errorf("%w: %q is not a governor (an active admin)", ErrPermission, sender.ID)
	}
	if open {
		// The same action proposed again: an approval by a governor.
		if !governor || slices.Contains(p.Approvals, sender.ID) {
			return nil, fmt.Errorf("%w: proposal %s is open and %q has approved it or may not", ErrRejected, key, sender.ID)
		}
		return s.approveProposal(p, sender, commit), nil
	}
	gov, others, each := s.openProposals(bc, sender.ID)
	n, limit := gov, maxProposalsEach
	if !governor {
		n, limit = others, maxProposalsHolder
	}
	if n >= maxProposals || each >= limit {
		return nil, fmt.Errorf("%w: %d proposals open (%d by %q); approve or let them expire", ErrRejected, n, each, sender.ID)
	}
	action, err := deterministic.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	p = Proposal{ID: id, Action: action, Kind: actionKind(a), Proposer: sender.ID, Height: bc.Height, Expires: bc.TimeUnixMs + ProposalLifetime}
	return func() {
		s.pruneProposals(bc)
		if governor {
			s.approveProposal(p, sender, commit)()
			return
		}
		s.putProposal(p)
	}, nil
}

func (s *State) approve(sender Participant, r *zkv1.Approve, bc BlockContext) (func(), error) {
	if !s.isGovernor(sender) {
		return nil, fmt.Errorf("%w: %q is not a governor (an active admin)", ErrPermission, sender.ID)
	}
	key := hex.EncodeToString(r.GetProposalId())
	p, ok := s.Proposals[key]
	if !ok {
		return nil, fmt.Errorf("%w: no open proposal %s", ErrRejected, key)
	}
	if bc.TimeUnixMs > p.Expires {
		return nil, fmt.Errorf("%w: proposal %s expired", ErrRejected, key)
	}
	if slices.Contains(p.Approvals, sender.ID) {
		return nil, fmt.Errorf("%w: %q already approved proposal %s", ErrRejected, sender.ID, key)
	}
	var a zkv1.GovernanceAction
	if err := proto.Unmarshal(p.Action, &a); err != nil {
		return nil, fmt.Errorf("%w: proposal %s: %w", ErrCorrupt, key, err)
	}
	// The action is checked again against today's state: it applies now
	// if this approval reaches the threshold.
	commit, _, err := s.checkAction(&a, bc)
	if err != nil {
		return nil, fmt.Errorf("proposal %s no longer applies: %w", key, err)
	}
	return s.approveProposal(p, sender, commit), nil
}

// approveProposal returns what adds sender's approval to p and, if that
// reaches the threshold, applies the action and closes p.
func (s *State) approveProposal(p Proposal, sender Participant, commit func()) func() {
	return func() {
		p.Approvals = append(slices.Clone(p.Approvals), sender.ID)
		count := 0
		for _, id := range p.Approvals {
			if g, ok := s.Participants[id]; ok && s.isGovernor(g) {
				count++
			}
		}
		if count >= s.GovernanceThreshold() {
			s.dropProposal(hex.EncodeToString(p.ID))
			commit()
			return
		}
		s.putProposal(p)
	}
}

func (s *State) putProposal(p Proposal) {
	if s.Proposals == nil {
		s.Proposals = map[string]Proposal{}
	}
	s.Proposals[hex.EncodeToString(p.ID)] = p
	s.touch(entryProposal, hex.EncodeToString(p.ID))
}

// openProposals counts the unexpired proposals, in all and by proposer.
// openProposals counts the open proposals of governors and of others
// (holders' confirmer sets) apart, and the proposer's own: holders cannot
// fill the governors' slots and stall governance.
func (s *State) openProposals(bc BlockContext, proposer string) (governors, others, each int) {
	for _, p := range s.Proposals {
		if bc.TimeUnixMs > p.Expires {
			continue
		}
		if s.isGovernor(s.Participants[p.Proposer]) {
			governors++
		} else {
			others++
		}
		if p.Proposer == proposer {
			each++
		}
	}
	return governors, others, each
}

func (s *State) pruneProposals(bc BlockContext) {
	for k, p := range s.Proposals {
		if bc.TimeUnixMs > p.Expires {
			s.dropProposal(k)
		}
	}
	if len(s.Proposals) == 0 {
		s.Proposals = nil
	}
}

// setConfirmers checks a change of a collection's confirmers. Anchors still
// awaiting confirmation are judged again under the new rule, counting only
// confirmations by confirmers that remain; with no confirmation required
// they are dropped (they never counted) and new anchors count at once.
func (s *State) setConfirmers(r *zkv1.SetConfirmers, bc BlockContext) (func(), string, error) {
	if err := checkHash("collection_id", r.GetCollectionId()); err != nil {
		return nil, "", err
	}
	id := hex.EncodeToString(r.GetCollectionId())
	c, ok := s.Collections[id]
	if !ok {
		return nil, "", fmt.Errorf("%w: collection %s is not registered", ErrRejected, id)
	}
	if c.DeviceFed {
		return nil, "", fmt.Errorf("%w: collection %s is device-fed: its anchors are the ledger's own and take no confirmers", ErrRejected, id)
	}
	if len(r.GetConfirmers()) > maxConfirm || int(r.GetConfirmationsRequired()) > len(r.GetConfirmers()) {
		return nil, "", fmt.Errorf("%w: %d confirmations required of %d confirmers (at most %d)", ErrRejected, r.GetConfirmationsRequired(), len(r.GetConfirmers()), maxConfirm)
	}
	if slices.Equal(c.Confirmers, r.GetConfirmers()) && c.Required == r.GetConfirmationsRequired() {
		return nil, "", fmt.Errorf("%w: that is the collection's confirmer set already", ErrRejected)
	}
	seen := map[string]bool{}
	for _, who := range r.GetConfirmers() {
		if p, ok := s.Participants[who]; !ok || p.Revoked || seen[who] {
			return nil, "", fmt.Errorf("%w: confirmer %q is unknown, revoked or repeated", ErrRejected, who)
		}
		seen[who] = true
	}
	return func() {
		c := s.Collections[id]
		c.Confirmers, c.Required = slices.Clone(r.GetConfirmers()), r.GetConfirmationsRequired()
		pending := c.Pending
		c.Pending = nil
		for _, seq := range slices.Sorted(maps.Keys(pending)) {
			a := *pending[seq]
			a.Confirmations = slices.DeleteFunc(slices.Clone(a.Confirmations), func(who string) bool { return !seen[who] })
			// Under a rule that needs no confirmation, an anchor that
			// awaited its confirmations still never counted: it stays
			// pending (found in review: dropped, it looked confirmed).
			if c.Required > 0 && uint32(len(a.Confirmations)) >= c.Required {
				a.ConfirmedHeight = bc.Height
				if c.Latest == nil || a.Sequence > c.Latest.Sequence {
					c.Latest = &a
				}
			} else {
				if c.Pending == nil {
					c.Pending = map[uint64]*AnchorState{}
				}
				c.Pending[seq] = &a
			}
			if c.Last != nil && c.Last.Sequence == seq {
				c.Last = &a
			}
		}
		s.putCollection(id, c)
	}, c.Holder, nil
}

// ProposeAction is a Propose transaction kind for NewTx.
func ProposeAction(a *zkv1.GovernanceAction) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_Propose{Propose: &zkv1.Propose{Action: a}} }
}

// ApproveProposal is an Approve transaction kind for NewTx.
func ApproveProposal(id []byte) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_Approve{Approve: &zkv1.Approve{ProposalId: id}} }
}

// Governance actions for ProposeAction.

// ActRegisterParticipant registers a participant.
func ActRegisterParticipant(id string, role zkv1.Role, pub ed25519.PublicKey) *zkv1.GovernanceAction {
	return &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_RegisterParticipant{RegisterParticipant: &zkv1.RegisterParticipant{Id: id, Role: role, PublicKey: pub}}}
}

// ActRegisterValidator registers a validator with its ledger key pub and
// its consensus-engine key consensus.
func ActRegisterValidator(id string, pub, consensus ed25519.PublicKey) *zkv1.GovernanceAction {
	return &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_RegisterParticipant{RegisterParticipant: &zkv1.RegisterParticipant{Id: id, Role: zkv1.Role_ROLE_VALIDATOR, PublicKey: pub, ConsensusPublicKey: consensus}}}
}

// ActRevokeParticipant revokes a participant.
func ActRevokeParticipant(id string) *zkv1.GovernanceAction {
	return &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_RevokeParticipant{RevokeParticipant: &zkv1.RevokeParticipant{Id: id}}}
}

// ActRotateKey replaces a participant's key.
func ActRotateKey(id string, pub ed25519.PublicKey) *zkv1.GovernanceAction {
	return &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_RotateKey{RotateKey: &zkv1.RotateKey{Id: id, PublicKey: pub}}}
}

// ActRotateConsensusKey replaces a validator's consensus key.
func ActRotateConsensusKey(id string, pub ed25519.PublicKey) *zkv1.GovernanceAction {
	return &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_RotateConsensusKey{RotateConsensusKey: &zkv1.RotateConsensusKey{Id: id, ConsensusPublicKey: pub}}}
}

// ActRegisterCircuit pins a circuit.
func ActRegisterCircuit(c *zkv1.RegisterCircuit) *zkv1.GovernanceAction {
	return &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_RegisterCircuit{RegisterCircuit: c}}
}

// ActSetConfirmers changes a collection's confirmers.
func ActSetConfirmers(c *zkv1.SetConfirmers) *zkv1.GovernanceAction {
	return &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_SetConfirmers{SetConfirmers: c}}
}

// ActRetireCircuit retires a circuit version.
func ActRetireCircuit(r *zkv1.RetireCircuit) *zkv1.GovernanceAction {
	return &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_RetireCircuit{RetireCircuit: r}}
}
