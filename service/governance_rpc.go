package service

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"time"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"google.golang.org/protobuf/proto"
)

// Governance through the API: the node's admin proposes, approves and
// lists proposals (AdminService); the node's holder proposes its
// collections' confirmer sets (HolderService.SetConfirmers). Each call is
// signed with the node's own identity of that role, so only that
// identity's token may make it (see actsFor).

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
	case *zkv1.GovernanceAction_SetConfirmers:
		r := k.SetConfirmers
		if len(r.GetCollectionId()) != 32 {
			return invalid("action.set_confirmers.collection_id", "want 32 bytes, got %d", len(r.GetCollectionId()))
		}
		return checkConfirmers("action.set_confirmers.", r.GetConfirmers(), r.GetConfirmationsRequired())
	default:
		return invalid("action", "want one of register_participant, revoke_participant, rotate_key, rotate_consensus_key, register_circuit, set_confirmers")
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

// nodeAdmin is the identity admin calls sign with.
func (s *Server) nodeAdmin() (*ledger.Identity, error) {
	if s.admin == nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("this node holds no admin key: ask a governor's node"))
	}
	return s.admin, nil
}

// proposeAs sends id's Propose of a (or nothing, when id has approved the
// open proposal already) and says where the proposal stands.
func (s *Server) proposeAs(ctx context.Context, id *ledger.Identity, a *zkv1.GovernanceAction) (*zkv1.ProposalStatus, error) {
	pid, err := ledger.ProposalID(a)
	if err != nil {
		return nil, toConnect(err)
	}
	key := hex.EncodeToString(pid)
	before, open := s.ledger.State().Proposals[key]
	if open && time.Now().UnixMilli() <= before.Expires && (slices.Contains(before.Approvals, id.ID) || before.Proposer == id.ID) {
		// Asked again (a retry): the proposal as it stands.
		return s.status(pid, before.Approvals, 0, nil), nil
	}
	if !open {
		before = ledger.Proposal{}
	}
	m := s.ledger.State().GovernanceThreshold()
	rec, err := s.send(ctx, id, ledger.ProposeAction(a))
	if err != nil {
		return nil, toConnect(err)
	}
	approvals := before.Approvals
	if s.ledger.State().Participants[id.ID].Role == zkv1.Role_ROLE_ADMIN {
		approvals = append(slices.Clone(approvals), id.ID)
	}
	return s.status(pid, approvals, m, rec), nil
}

// status is proposal pid as the ledger has it now; approvals and m are
// what the caller's transaction left and the threshold it met, for a
// proposal it closed (the action may change the governors).
func (s *Server) status(pid []byte, approvals []string, m int, rec *ledger.Receipt) *zkv1.ProposalStatus {
	st := s.ledger.State()
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

// Propose proposes a governance action as the node's admin.
func (a *adminService) Propose(ctx context.Context, req *zkv1.ProposeRequest) (*zkv1.ProposeResponse, error) {
	s := a.s
	if err := checkAction(req.GetAction()); err != nil {
		return nil, err
	}
	admin, err := s.nodeAdmin()
	if err != nil {
		return nil, err
	}
	if r := req.GetAction().GetRegisterParticipant(); r != nil {
		if err := s.mayIssueToken(r.GetId()); err != nil {
			return nil, err
		}
	}
	st, err := s.proposeAs(ctx, admin, req.GetAction())
	if err != nil {
		return nil, err
	}
	resp := &zkv1.ProposeResponse{Status: st}
	// The registered participant's token on this node: it works once the
	// registration applies.
	if r := req.GetAction().GetRegisterParticipant(); r != nil {
		if resp.Token, err = s.tokens.issue(r.GetId()); err != nil {
			return nil, toConnect(err)
		}
	}
	s.log.InfoContext(ctx, "governance: proposed", "action", kindOf(req.GetAction()), "proposal", hex.EncodeToString(st.GetProposalId()), "applied", st.GetApplied())
	return resp, nil
}

// Approve approves an open proposal as the node's admin.
func (a *adminService) Approve(ctx context.Context, req *zkv1.ApproveRequest) (*zkv1.ApproveResponse, error) {
	s := a.s
	if len(req.GetProposalId()) != 32 {
		return nil, invalid("proposal_id", "want 32 bytes, got %d", len(req.GetProposalId()))
	}
	admin, err := s.nodeAdmin()
	if err != nil {
		return nil, err
	}
	key := hex.EncodeToString(req.GetProposalId())
	p, open := s.ledger.State().Proposals[key]
	if !open {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("proposal_id: no open proposal %s (applied, expired or never proposed)", key))
	}
	if slices.Contains(p.Approvals, admin.ID) {
		return &zkv1.ApproveResponse{Status: s.status(req.GetProposalId(), p.Approvals, 0, nil)}, nil
	}
	m := s.ledger.State().GovernanceThreshold()
	rec, err := s.send(ctx, admin, ledger.ApproveProposal(req.GetProposalId()))
	if err != nil {
		return nil, toConnect(err)
	}
	st := s.status(req.GetProposalId(), append(slices.Clone(p.Approvals), admin.ID), m, rec)
	s.log.InfoContext(ctx, "governance: approved", "action", p.Kind, "proposal", key, "applied", st.GetApplied())
	return &zkv1.ApproveResponse{Status: st}, nil
}

// ListProposals lists the open proposals, oldest first.
func (a *adminService) ListProposals(ctx context.Context, _ *zkv1.ListProposalsRequest) (*zkv1.ListProposalsResponse, error) {
	st := a.s.ledger.State()
	now := time.Now().UnixMilli()
	needed := uint32(st.GovernanceThreshold())
	out := &zkv1.ListProposalsResponse{Governors: st.Governors(), Needed: needed}
	for _, p := range st.Proposals {
		if now > p.Expires {
			continue
		}
		var action zkv1.GovernanceAction
		if err := proto.Unmarshal(p.Action, &action); err != nil {
			return nil, toConnect(fmt.Errorf("%w: proposal %x: %v", ledger.ErrCorrupt, p.ID, err))
		}
		out.Proposals = append(out.Proposals, &zkv1.GovernanceProposal{Id: p.ID, Action: &action, Kind: p.Kind, Proposer: p.Proposer,
			Height: p.Height, ExpiresUnixMs: p.Expires, Approvals: p.Approvals, Needed: needed})
	}
	sort.Slice(out.Proposals, func(i, j int) bool {
		pi, pj := out.Proposals[i], out.Proposals[j]
		if pi.GetHeight() != pj.GetHeight() {
			return pi.GetHeight() < pj.GetHeight()
		}
		return string(pi.GetId()) < string(pj.GetId())
	})
	return out, nil
}

// SetConfirmers proposes, as the node's holder, a new confirmer set for
// one of its collections; the governors approve it (AdminService.Approve).
func (h *holderService) SetConfirmers(ctx context.Context, req *zkv1.SetConfirmersRequest) (*zkv1.SetConfirmersResponse, error) {
	s := h.s
	if req.GetCollection() == "" {
		return nil, invalid("collection", "want the collection's name")
	}
	if err := checkConfirmers("", req.GetConfirmers(), req.GetConfirmationsRequired()); err != nil {
		return nil, err
	}
	name := s.qualify(req.GetCollection())
	if err := s.ownsCollection(ctx, name); err != nil {
		return nil, err
	}
	id, err := hex.DecodeString(collectionKey(name))
	if err != nil {
		return nil, toConnect(err)
	}
	a := ledger.ActSetConfirmers(&zkv1.SetConfirmers{CollectionId: id, Confirmers: req.GetConfirmers(), ConfirmationsRequired: req.GetConfirmationsRequired()})
	st, err := s.proposeAs(ctx, s.holderID, a)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "governance: confirmers proposed", "collection", name, "confirmers", len(req.GetConfirmers()), "required", req.GetConfirmationsRequired(), "proposal", hex.EncodeToString(st.GetProposalId()))
	return &zkv1.SetConfirmersResponse{Status: st}, nil
}

func kindOf(a *zkv1.GovernanceAction) string {
	if a.GetAction() == nil {
		return ""
	}
	return string(a.ProtoReflect().WhichOneof(a.ProtoReflect().Descriptor().Oneofs().ByName("action")).Name())
}

// mayIssueToken: a token goes with a participant's registration only, for
// a participant not registered yet and not one of this node's own
// identities (their tokens are the node's, made at its first start).
func (s *Server) mayIssueToken(id string) error {
	for _, own := range []*ledger.Identity{s.admin, s.holderID} {
		if own != nil && own.ID == id {
			return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("id: %q is this node's own identity", id))
		}
	}
	if id == NodeID {
		return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("id: %q is this node's own identity", id))
	}
	if _, ok := s.ledger.State().Participants[id]; ok {
		return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("id: %q is registered already; a token is issued only with a registration", id))
	}
	return nil
}
