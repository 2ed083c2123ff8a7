package service

import (
	"context"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/prover"
)

// ProveForBench runs the bare prover on a subject statement, for the
// service benchmark's baseline: no HTTP, no anchor, no audit.
func (s *Server) ProveForBench(ctx context.Context, collection, subject, q string) error {
	n, err := prover.NewNonce()
	if err != nil {
		return err
	}
	_, err = s.prover.Prove(ctx, prover.Request{Collection: s.qualify(collection), Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: subject, Query: q, Nonce: n})
	return err
}

// SetMaxConnectionsForTest lowers Serve's connection cap until the
// returned function restores it.
func SetMaxConnectionsForTest(n int) (restore func()) {
	old := maxConnections
	maxConnections = n
	return func() { maxConnections = old }
}
