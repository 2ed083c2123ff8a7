package service

import (
	"context"

	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
)

type verifierService struct{ s *Server }

// Verify checks a bundle of any kind with the engine's verifier against
// this node's ledger. A bundle that fails a check is a valid answer
// (valid=false, the check and the reason), not an error. An aggregate
// bundle (up to 129 proof verifications) takes VerifyAggregate's bound.
func (v *verifierService) Verify(ctx context.Context, req *zkv1.VerifyRequest) (*zkv1.VerifyResponse, error) {
	if bundle.IsAggregate(req.GetBundle()) {
		release, err := acquireLimit(ctx, v.s.aggVerify)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	return v.verify(ctx, req)
}

func (v *verifierService) verify(ctx context.Context, req *zkv1.VerifyRequest) (*zkv1.VerifyResponse, error) {
	verdict, err := v.s.node.Verify(ctx, node.VerifyRequest{Bundle: req.GetBundle(), Expect: req.GetExpect(), Nonce: req.GetNonce(),
		Subject: req.GetSubject(), FreshnessSeconds: req.GetFreshnessSeconds()})
	if err != nil {
		return nil, toConnect(err)
	}
	return verdict.Proto(), nil
}

// VerifyAggregate checks an aggregate bundle as Verify does (which takes
// aggregates too); at most a few at a time.
func (v *verifierService) VerifyAggregate(ctx context.Context, req *zkv1.VerifyAggregateRequest) (*zkv1.VerifyAggregateResponse, error) {
	release, err := acquireLimit(ctx, v.s.aggVerify)
	if err != nil {
		return nil, err
	}
	defer release()
	resp, err := v.verify(ctx, &zkv1.VerifyRequest{Bundle: req.GetBundle(), Expect: req.GetExpect(), FreshnessSeconds: req.GetFreshnessSeconds()})
	if err != nil {
		return nil, err
	}
	return &zkv1.VerifyAggregateResponse{Verdict: resp}, nil
}
