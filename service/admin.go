package service

import (
	"context"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// adminService: the node's admin registers participants and proposes,
// approves and lists governance actions, each signed with the node's own
// admin key.
type adminService struct{ s *Server }

func (a *adminService) RegisterParticipant(ctx context.Context, req *zkv1.RegisterParticipantRequest) (*zkv1.RegisterParticipantResponse, error) {
	r, err := a.s.node.RegisterParticipant(ctx, callerOf(ctx), req.GetId(), req.GetRole(), req.GetPublicKey())
	if err != nil {
		return nil, toConnect(err)
	}
	resp := &zkv1.RegisterParticipantResponse{Token: r.Token, Pending: r.Pending, ProposalId: r.ProposalID}
	if r.Tx != nil {
		resp.TxHash = r.Tx.Hash[:]
	}
	return resp, nil
}

func (a *adminService) Propose(ctx context.Context, req *zkv1.ProposeRequest) (*zkv1.ProposeResponse, error) {
	st, tok, err := a.s.node.Propose(ctx, callerOf(ctx), req.GetAction())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.ProposeResponse{Status: st, Token: tok}, nil
}

func (a *adminService) Approve(ctx context.Context, req *zkv1.ApproveRequest) (*zkv1.ApproveResponse, error) {
	st, err := a.s.node.Approve(ctx, callerOf(ctx), req.GetProposalId())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.ApproveResponse{Status: st}, nil
}

func (a *adminService) ListProposals(ctx context.Context, _ *zkv1.ListProposalsRequest) (*zkv1.ListProposalsResponse, error) {
	p, err := a.s.node.ListProposals(ctx)
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.ListProposalsResponse{Governors: p.Governors, Needed: p.Needed, Proposals: p.Open}, nil
}
