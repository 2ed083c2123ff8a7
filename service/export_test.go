package service

import (
	"context"

	"connectrpc.com/connect"
)

// ProveForBench runs the bare prover on a subject statement, for the
// service benchmark's baseline: no HTTP, no anchor, no audit.
func (s *Server) ProveForBench(ctx context.Context, collection, subject, q string) error {
	return s.node.ProveBare(ctx, collection, subject, q)
}

// SetMaxConnectionsForTest lowers Serve's connection cap until the
// returned function restores it.
func SetMaxConnectionsForTest(n int) (restore func()) {
	old := maxConnections
	maxConnections = n
	return func() { maxConnections = old }
}

// HandlerOptionsForTest are the options Handler serves every service with
// (telemetry, authorisation, panic recovery), for tests that mount a
// service of their own.
func (s *Server) HandlerOptionsForTest() []connect.HandlerOption {
	return s.handlerOptions(newMetrics(s))
}
