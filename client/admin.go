package client

import (
	"context"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// RegisterParticipant registers a participant (consumer, holder, device,
// ...) with its public key; the answer carries its API token, or a
// pending proposal when governors must approve.
func (c *Client) RegisterParticipant(ctx context.Context, req *zkv1.RegisterParticipantRequest) (*zkv1.RegisterParticipantResponse, error) {
	resp, err := c.admin.RegisterParticipant(ctx, req)
	return resp, wrap("register participant "+req.GetId(), err)
}

// Propose proposes a governance action; the answer's status says whether
// it applied at once or awaits approvals.
func (c *Client) Propose(ctx context.Context, req *zkv1.ProposeRequest) (*zkv1.ProposeResponse, error) {
	resp, err := c.admin.Propose(ctx, req)
	return resp, wrap("propose", err)
}

// Approve approves an open proposal by its 32-byte id.
func (c *Client) Approve(ctx context.Context, proposalID []byte) (*zkv1.ApproveResponse, error) {
	resp, err := c.admin.Approve(ctx, &zkv1.ApproveRequest{ProposalId: proposalID})
	return resp, wrap("approve", err)
}

// ListProposals lists the open proposals and the governors.
func (c *Client) ListProposals(ctx context.Context) (*zkv1.ListProposalsResponse, error) {
	resp, err := c.admin.ListProposals(ctx, &zkv1.ListProposalsRequest{})
	return resp, wrap("list proposals", err)
}
