package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
	"google.golang.org/protobuf/proto"
)

// govern carries out a governance change as this node's admin. With one
// governor enough (a single node) it sends the direct transaction, as
// always; otherwise it proposes the action, which approves it when another
// governor proposed it first (the proposal id is the action's hash). done
// says whether a state already has the change: a proposal applied by the
// others' approvals meanwhile is no error. pending is true while the
// change awaits approvals; rec is nil when this node sent nothing.
func (n *Node) govern(ctx context.Context, direct func(*zkv1.TxBody), action *zkv1.GovernanceAction, done func(*ledger.State) bool) (rec *ledger.Receipt, id []byte, pending bool, err error) {
	if n.admin == nil {
		return nil, nil, false, errorf(ErrFailedPrecondition, "this node holds no admin key: ask a governor's node")
	}
	if n.ledger.State().GovernanceThreshold() <= 1 {
		rec, err := n.send(ctx, n.admin, direct)
		return rec, nil, false, err
	}
	if id, err = ledger.ProposalID(action); err != nil {
		return nil, nil, false, err
	}
	if done(n.ledger.State()) {
		return nil, id, false, nil
	}
	if p, ok := n.ledger.State().Proposals[hex.EncodeToString(id)]; ok && slices.Contains(p.Approvals, n.admin.ID) {
		return nil, id, true, nil // approved before (a restart)
	}
	rec, err = n.send(ctx, n.admin, ledger.ProposeAction(action))
	if err != nil {
		// Refused because the change is done, or about to be: under
		// consensus the mempool may hold the approvals that apply it
		// before they are committed here.
		for range 40 {
			if done(n.ledger.State()) {
				return nil, id, false, nil
			}
			if !errors.Is(err, ledger.ErrRejected) {
				break
			}
			select {
			case <-ctx.Done():
				return nil, id, false, err
			case <-time.After(250 * time.Millisecond):
			}
		}
		return nil, id, false, err
	}
	return rec, id, !done(n.ledger.State()), nil
}

// actsAsAdmin: only the admin whose key this node holds may have it sign
// as an admin (another admin acts through its own node).
func (n *Node) actsAsAdmin(c Caller) (*ledger.Identity, error) {
	if n.admin == nil {
		return nil, errorf(ErrFailedPrecondition, "this node holds no admin key: ask a governor's node")
	}
	if c.ID != n.admin.ID {
		return nil, errorf(ErrPermissionDenied, "this node acts for admin %q; admin %q's node must do this", n.admin.ID, c.ID)
	}
	return n.admin, nil
}

// proposeAs sends id's Propose of a (or nothing, when id has approved the
// open proposal already) and says where the proposal stands.
func (n *Node) proposeAs(ctx context.Context, id *ledger.Identity, a *zkv1.GovernanceAction) (*zkv1.ProposalStatus, error) {
	pid, err := ledger.ProposalID(a)
	if err != nil {
		return nil, err
	}
	key := hex.EncodeToString(pid)
	before, open := n.ledger.State().Proposals[key]
	if open && time.Now().UnixMilli() <= before.Expires && (slices.Contains(before.Approvals, id.ID) || before.Proposer == id.ID) {
		// Asked again (a retry): the proposal as it stands.
		return n.status(pid, before.Approvals, 0, nil), nil
	}
	if !open {
		before = ledger.Proposal{}
	}
	m := n.ledger.State().GovernanceThreshold()
	rec, err := n.send(ctx, id, ledger.ProposeAction(a))
	if err != nil {
		return nil, err
	}
	approvals := before.Approvals
	if n.ledger.State().Participants[id.ID].Role == zkv1.Role_ROLE_ADMIN {
		approvals = append(slices.Clone(approvals), id.ID)
	}
	return n.status(pid, approvals, m, rec), nil
}

// status is proposal pid as the ledger has it now; approvals and m are
// what the caller's transaction left and the threshold it met, for a
// proposal it closed (the action may change the governors).
func (n *Node) status(pid []byte, approvals []string, m int, rec *ledger.Receipt) *zkv1.ProposalStatus {
	st := n.ledger.State()
	out := &zkv1.ProposalStatus{ProposalId: pid, Needed: uint32(m), Applied: true, Approvals: approvals}
	switch p, open := st.Proposals[hex.EncodeToString(pid)]; {
	case open:
		out.Applied, out.Approvals, out.Needed = false, p.Approvals, uint32(st.GovernanceThreshold())
	case m == 0:
		out.Needed = uint32(st.GovernanceThreshold())
	}
	if rec != nil {
		out.TxHash, out.Height = rec.Hash[:], rec.Height
	}
	return out
}

// Registered is a participant's registration: its token on this node, and
// the transaction (single governor) or the proposal awaiting approvals.
type Registered struct {
	Token      string
	Pending    bool
	ProposalID []byte
	Tx         *ledger.Receipt // nil when this node sent nothing
}

// RegisterParticipant registers a participant as this node's admin (under
// M-of-N governance: proposes it) and issues its token on this node.
func (n *Node) RegisterParticipant(ctx context.Context, c Caller, id string, role zkv1.Role, publicKey []byte) (*Registered, error) {
	if _, err := n.actsAsAdmin(c); err != nil {
		return nil, err
	}
	// A token is issued with a participant's registration, never after it:
	// otherwise one admin could mint a working token for anyone already
	// registered (the node's own holder included) and act as them.
	if err := n.mayIssueToken(id); err != nil {
		return nil, err
	}
	rec, pid, pending, err := n.govern(ctx, ledger.RegisterParticipant(id, role, publicKey),
		ledger.ActRegisterParticipant(id, role, publicKey),
		func(st *ledger.State) bool {
			p, ok := st.Participants[id]
			return ok && p.Role == role && bytes.Equal(p.Key, publicKey)
		})
	if err != nil {
		return nil, err
	}
	tok, err := n.tokens.issue(id)
	if err != nil {
		return nil, err
	}
	return &Registered{Token: tok, Pending: pending, ProposalID: pid, Tx: rec}, nil
}

// Propose proposes a governance action as the node's admin. For a
// participant's registration it returns the participant's token on this
// node: it works once the registration applies.
func (n *Node) Propose(ctx context.Context, c Caller, a *zkv1.GovernanceAction) (st *zkv1.ProposalStatus, token string, err error) {
	if err := checkAction(a); err != nil {
		return nil, "", err
	}
	admin, err := n.actsAsAdmin(c)
	if err != nil {
		return nil, "", err
	}
	r := a.GetRegisterParticipant()
	if r != nil {
		if err := n.mayIssueToken(r.GetId()); err != nil {
			return nil, "", err
		}
	}
	if st, err = n.proposeAs(ctx, admin, a); err != nil {
		return nil, "", err
	}
	if r != nil {
		if token, err = n.tokens.issue(r.GetId()); err != nil {
			return nil, "", err
		}
	}
	n.log.InfoContext(ctx, "governance: proposed", "action", kindOf(a), "proposal", hex.EncodeToString(st.GetProposalId()), "applied", st.GetApplied())
	return st, token, nil
}

// Approve approves an open proposal as the node's admin.
func (n *Node) Approve(ctx context.Context, c Caller, proposalID []byte) (*zkv1.ProposalStatus, error) {
	if len(proposalID) != 32 {
		return nil, invalid("proposal_id", "want 32 bytes, got %d", len(proposalID))
	}
	admin, err := n.actsAsAdmin(c)
	if err != nil {
		return nil, err
	}
	key := hex.EncodeToString(proposalID)
	p, open := n.ledger.State().Proposals[key]
	if !open {
		return nil, errorf(ErrNotFound, "proposal_id: no open proposal %s (applied, expired or never proposed)", key)
	}
	if slices.Contains(p.Approvals, admin.ID) {
		return n.status(proposalID, p.Approvals, 0, nil), nil
	}
	m := n.ledger.State().GovernanceThreshold()
	rec, err := n.send(ctx, admin, ledger.ApproveProposal(proposalID))
	if err != nil {
		return nil, err
	}
	st := n.status(proposalID, append(slices.Clone(p.Approvals), admin.ID), m, rec)
	n.log.InfoContext(ctx, "governance: approved", "action", p.Kind, "proposal", key, "applied", st.GetApplied())
	return st, nil
}

// Proposals are the open proposals, oldest first, with the governors and
// how many approvals a proposal needs.
type Proposals struct {
	Governors []string
	Needed    uint32
	Open      []*zkv1.GovernanceProposal
}

// ListProposals lists the open proposals, oldest first.
func (n *Node) ListProposals(context.Context) (*Proposals, error) {
	st := n.ledger.State()
	now := time.Now().UnixMilli()
	needed := uint32(st.GovernanceThreshold())
	out := &Proposals{Governors: st.Governors(), Needed: needed}
	for _, p := range st.Proposals {
		if now > p.Expires {
			continue
		}
		var action zkv1.GovernanceAction
		if err := proto.Unmarshal(p.Action, &action); err != nil {
			return nil, fmt.Errorf("%w: proposal %x: %v", ledger.ErrCorrupt, p.ID, err) //nolint:errorlint // corrupt, not the decoder's kind of error: the cause is detail only
		}
		out.Open = append(out.Open, &zkv1.GovernanceProposal{Id: p.ID, Action: &action, Kind: p.Kind, Proposer: p.Proposer,
			Height: p.Height, ExpiresUnixMs: p.Expires, Approvals: p.Approvals, Needed: needed})
	}
	sort.Slice(out.Open, func(i, j int) bool {
		pi, pj := out.Open[i], out.Open[j]
		if pi.GetHeight() != pj.GetHeight() {
			return pi.GetHeight() < pj.GetHeight()
		}
		return string(pi.GetId()) < string(pj.GetId())
	})
	return out, nil
}

// SetConfirmers proposes, as the node's holder, a new confirmer set for
// one of its collections; the governors approve it (Approve).
func (n *Node) SetConfirmers(ctx context.Context, c Caller, collection string, confirmers []string, required uint32) (*zkv1.ProposalStatus, error) {
	if collection == "" {
		return nil, invalid("collection", "want the collection's name")
	}
	if err := checkConfirmers("", confirmers, required); err != nil {
		return nil, err
	}
	name := n.Qualify(collection)
	if err := n.ownsCollection(c, name); err != nil {
		return nil, err
	}
	a := ledger.ActSetConfirmers(&zkv1.SetConfirmers{CollectionId: elemBytes(records.CollectionID(name)), Confirmers: confirmers, ConfirmationsRequired: required})
	st, err := n.proposeAs(ctx, n.holderID, a)
	if err != nil {
		return nil, err
	}
	n.log.InfoContext(ctx, "governance: confirmers proposed", "collection", name, "confirmers", len(confirmers), "required", required, "proposal", hex.EncodeToString(st.GetProposalId()))
	return st, nil
}

// ConfirmAnchor co-signs, as this node's holder (who must be the caller),
// an anchor of a collection that names that holder among its confirmers.
func (n *Node) ConfirmAnchor(ctx context.Context, c Caller, collectionID []byte, sequence uint64, root []byte) (*ledger.Receipt, error) {
	if len(collectionID) != 32 {
		return nil, invalid("collection_id", "want 32 bytes, got %d", len(collectionID))
	}
	if len(root) != 32 {
		return nil, invalid("root", "want 32 bytes, got %d", len(root))
	}
	// The confirmation is signed as this node's holder: only it may ask.
	if err := n.ActsAsHolder(c); err != nil {
		return nil, err
	}
	return n.send(ctx, n.holderID, ledger.Confirm(&zkv1.ConfirmAnchor{CollectionId: collectionID, Sequence: sequence, Root: root}))
}

// mayIssueToken: a token goes with a participant's registration only, for
// a participant not registered yet and not one of this node's own
// identities (their tokens are the node's, made at its first start).
func (n *Node) mayIssueToken(id string) error {
	for _, own := range []*ledger.Identity{n.admin, n.holderID} {
		if own != nil && own.ID == id {
			return errorf(ErrAlreadyExists, "id: %q is this node's own identity", id)
		}
	}
	if id == NodeID {
		return errorf(ErrAlreadyExists, "id: %q is this node's own identity", id)
	}
	if _, ok := n.ledger.State().Participants[id]; ok {
		return errorf(ErrAlreadyExists, "id: %q is registered already; a token is issued only with a registration", id)
	}
	return nil
}

// participantID is the ledger's rule for participant ids.
var participantID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// maxConfirmers is the ledger's bound on a collection's confirmers.
const maxConfirmers = 16

// checkAction refuses a malformed action with InvalidArgument naming the
// field; whether it may apply is the ledger's to say.
func checkAction(a *zkv1.GovernanceAction) error {
	switch k := a.GetAction().(type) {
	case *zkv1.GovernanceAction_RegisterParticipant:
		r := k.RegisterParticipant
		if !participantID.MatchString(r.GetId()) {
			return invalid("action.register_participant.id", "%q: use 1-64 of a-z 0-9 . _ - (starting with a letter or digit)", r.GetId())
		}
		if _, ok := zkv1.Role_name[int32(r.GetRole())]; !ok || r.GetRole() == zkv1.Role_ROLE_UNSPECIFIED {
			return invalid("action.register_participant.role", "want admin, holder, consumer, device or validator")
		}
		if len(r.GetPublicKey()) != ed25519.PublicKeySize {
			return invalid("action.register_participant.public_key", "want a %d-byte Ed25519 public key, got %d bytes", ed25519.PublicKeySize, len(r.GetPublicKey()))
		}
	case *zkv1.GovernanceAction_RevokeParticipant:
		if !participantID.MatchString(k.RevokeParticipant.GetId()) {
			return invalid("action.revoke_participant.id", "%q is not a participant id", k.RevokeParticipant.GetId())
		}
	case *zkv1.GovernanceAction_RotateKey:
		r := k.RotateKey
		if !participantID.MatchString(r.GetId()) {
			return invalid("action.rotate_key.id", "%q is not a participant id", r.GetId())
		}
		if len(r.GetPublicKey()) != ed25519.PublicKeySize {
			return invalid("action.rotate_key.public_key", "want a %d-byte Ed25519 public key, got %d bytes", ed25519.PublicKeySize, len(r.GetPublicKey()))
		}
	case *zkv1.GovernanceAction_RotateConsensusKey:
		r := k.RotateConsensusKey
		if !participantID.MatchString(r.GetId()) {
			return invalid("action.rotate_consensus_key.id", "%q is not a participant id", r.GetId())
		}
		if len(r.GetConsensusPublicKey()) != ed25519.PublicKeySize {
			return invalid("action.rotate_consensus_key.consensus_public_key", "want a %d-byte Ed25519 public key, got %d bytes", ed25519.PublicKeySize, len(r.GetConsensusPublicKey()))
		}
	case *zkv1.GovernanceAction_RegisterCircuit:
		r := k.RegisterCircuit
		if len(r.GetCircuitId()) != 32 {
			return invalid("action.register_circuit.circuit_id", "want 32 bytes, got %d", len(r.GetCircuitId()))
		}
		if len(r.GetVkSha256()) != 32 {
			return invalid("action.register_circuit.vk_sha256", "want 32 bytes, got %d", len(r.GetVkSha256()))
		}
		if r.GetSetup() != zkv1.SetupKind_SETUP_KIND_DEV && r.GetSetup() != zkv1.SetupKind_SETUP_KIND_CEREMONY {
			return invalid("action.register_circuit.setup", "want SETUP_KIND_DEV or SETUP_KIND_CEREMONY")
		}
		if len(r.GetName()) > 64 {
			return invalid("action.register_circuit.name", "longer than 64 bytes")
		}
		if len(r.GetVk()) > ledger.MaxVKBytes {
			return invalid("action.register_circuit.vk", "%d bytes, at most %d", len(r.GetVk()), ledger.MaxVKBytes)
		}
		// The ledger checks only the key's hash; a node proposes or
		// approves only a key that parses.
		if vk := r.GetVk(); vk != nil {
			if _, sum, err := keys.ParseVerifying(vk); err != nil || sum != hex.EncodeToString(r.GetVkSha256()) {
				return invalid("action.register_circuit.vk", "not a verifying key with SHA-256 vk_sha256 (%v)", err)
			}
		}
	case *zkv1.GovernanceAction_RetireCircuit:
		r := k.RetireCircuit
		if len(r.GetCircuitId()) != 32 || len(r.GetVkSha256()) != 32 {
			return invalid("action.retire_circuit", "want a 32-byte circuit_id and vk_sha256")
		}
	case *zkv1.GovernanceAction_OpenCeremony:
		if n := len(k.OpenCeremony.GetPlan()); n == 0 || n > ledger.MaxPlanBytes {
			return invalid("action.open_ceremony.plan", "%d bytes, want 1 to %d (a ceremony.json)", n, ledger.MaxPlanBytes)
		}
	case *zkv1.GovernanceAction_SetConfirmers:
		r := k.SetConfirmers
		if len(r.GetCollectionId()) != 32 {
			return invalid("action.set_confirmers.collection_id", "want 32 bytes, got %d", len(r.GetCollectionId()))
		}
		return checkConfirmers("action.set_confirmers.", r.GetConfirmers(), r.GetConfirmationsRequired())
	default:
		return invalid("action", "want one of register_participant, revoke_participant, rotate_key, rotate_consensus_key, register_circuit, retire_circuit, open_ceremony, set_confirmers")
	}
	return nil
}

func checkConfirmers(prefix string, confirmers []string, required uint32) error {
	if len(confirmers) > maxConfirmers {
		return invalid(prefix+"confirmers", "%d confirmers, at most %d", len(confirmers), maxConfirmers)
	}
	for i, c := range confirmers {
		if !participantID.MatchString(c) {
			return invalid(prefix+"confirmers", "%q is not a participant id", c)
		}
		if slices.Contains(confirmers[:i], c) {
			return invalid(prefix+"confirmers", "%q is named twice", c)
		}
	}
	if int(required) > len(confirmers) {
		return invalid(prefix+"confirmations_required", "%d of %d confirmers", required, len(confirmers))
	}
	return nil
}

func kindOf(a *zkv1.GovernanceAction) string {
	if a.GetAction() == nil {
		return ""
	}
	return string(a.ProtoReflect().WhichOneof(a.ProtoReflect().Descriptor().Oneofs().ByName("action")).Name())
}
