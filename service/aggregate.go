package service

import (
	"context"

	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
)

// VerifyAggregate checks an aggregate bundle with the verifier against this
// node's ledger (Verify takes aggregates too); at most a few at a time.
func (v *verifierService) VerifyAggregate(ctx context.Context, req *zkv1.VerifyAggregateRequest) (*zkv1.VerifyAggregateResponse, error) {
	release, err := v.s.aggVerify.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	resp, err := v.verify(ctx, req.GetBundle(), req.GetExpect(), nil, "", req.GetFreshnessSeconds())
	if err != nil {
		return nil, err
	}
	return &zkv1.VerifyAggregateResponse{Verdict: resp}, nil
}

// ProveAggregate forwards to client's ProveAggregate over c, for tests
// not yet moved to the client package.
func ProveAggregate(ctx context.Context, c zksharev1connect.HolderServiceClient, req *zkv1.ProveAggregateRequest, progress func(done, total int)) (*zkv1.ProveAggregateResponse, error) {
	return client.Wrap(c, nil, nil).ProveAggregate(ctx, req, client.WithProgress(progress))
}
