// Package service puts a node engine (package node), verifier included,
// behind the Connect API: one process, one port, Connect, gRPC and
// gRPC-Web. Its handlers are adapters: proto in, engine call, proto out,
// with errors mapped to Connect codes in one place (errors.go).
package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/zkshare/zkshare/console"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/internal/clientlimit"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
)

// Config configures the node engine a server opens (package node's).
type Config = node.Config

// Server is a running node's Connect services over its engine.
type Server struct {
	log  *slog.Logger
	node *node.Node
	// aggVerify bounds the public VerifyAggregate (up to 129 Groth16
	// verifications a request).
	aggVerify *clientlimit.Limit
	// watch bounds the public WatchBlocks streams.
	watch *streamLimit
	// console is the web console, under /console/.
	console *console.Console
}

// An Option sets a server limit.
type Option func(*Server)

// WithVerifyAggregateLimit bounds aggregate verifications in flight
// (0: cores; more are refused with ResourceExhausted) and each client's
// calls a minute (0: 30).
func WithVerifyAggregateLimit(concurrency, perMinute int) Option {
	return func(s *Server) {
		s.aggVerify = clientlimit.New(cmp.Or(max(concurrency, 0), runtime.GOMAXPROCS(0)), cmp.Or(max(perMinute, 0), 30))
	}
}

// WithWatchStreamLimit bounds the WatchBlocks streams one client (its
// participant id, else its IP address, an IPv6 /64 as one) holds open
// (0: 4), and all clients' (0: 256). More are refused with
// ResourceExhausted.
func WithWatchStreamLimit(perClient, total int) Option {
	return func(s *Server) { s.watch = newStreamLimit(cmp.Or(max(perClient, 0), 4), cmp.Or(max(total, 0), 256)) }
}

// New opens (or, on first start, creates) a node in cfg.Data and puts its
// services in front of it.
func New(ctx context.Context, cfg Config, opts ...Option) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	n, err := node.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{log: cfg.Log, node: n}
	for _, o := range append([]Option{WithVerifyAggregateLimit(0, 0), WithWatchStreamLimit(0, 0)}, opts...) {
		o(s)
	}
	// The console checks aggregate bundles under the API's own limit.
	if s.console, err = console.New(n, console.Options{Log: cfg.Log, AggregateLimit: s.aggVerify}); err != nil {
		return nil, errors.Join(err, n.Close())
	}
	return s, nil
}

// maxMessageBytes bounds one request message (a CommitRecords batch included).
const maxMessageBytes = 16 << 20

// Handler serves every service, health checks, reflection, /healthz,
// /readyz and the web console (/console/) on one mux, behind token
// authentication (the console has its own sign-in).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	m := newMetrics(s)
	opts := s.handlerOptions(m)
	mux.Handle(zksharev1connect.NewHolderServiceHandler(&holderService{s}, opts...))
	mux.Handle(zksharev1connect.NewVerifierServiceHandler(&verifierService{s}, opts...))
	mux.Handle(zksharev1connect.NewLedgerServiceHandler(&ledgerService{s}, opts...))
	mux.Handle(zksharev1connect.NewAdminServiceHandler(&adminService{s}, opts...))
	mux.Handle(zksharev1connect.NewDeviceServiceHandler(&deviceService{s}, opts...))
	names := []string{zksharev1connect.HolderServiceName, zksharev1connect.VerifierServiceName, zksharev1connect.LedgerServiceName, zksharev1connect.AdminServiceName, zksharev1connect.DeviceServiceName}
	checker := grpchealth.NewStaticChecker(names...)
	mux.Handle(grpchealth.NewHandler(checker))
	reflector := grpcreflect.NewStaticReflector(names...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.Handle("GET /metrics", m.handler())
	mux.Handle(console.Prefix, s.console.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix, http.StatusFound))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = fmt.Fprintln(w, "ok") }) // a failed write to a probe has no one to tell
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.node.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ready") // a failed write to a probe has no one to tell
	})
	return s.authenticate(mux)
}

// handlerOptions: authorisation before decoding, then telemetry (metrics,
// and logs of internal errors); innermost, panics become Internal errors.
func (s *Server) handlerOptions(m *metrics) []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithRequestGate(authorize),
		connect.WithInterceptors(m.interceptor()),
		recovered(s.log),
		connect.WithReadMaxBytes(maxMessageBytes),
	}
}

// Ledger is the node's ledger, for tools and tests.
func (s *Server) Ledger() *ledger.Ledger { return s.node.Ledger() }

// Close closes the engine.
func (s *Server) Close() error { return s.node.Close() }
