// Package service puts a node engine (package node) and the verifier
// behind the Connect API: one process, one port, Connect, gRPC and
// gRPC-Web. Its handlers are adapters: proto in, engine call, proto out,
// with errors mapped to Connect codes in one place (errors.go).
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/verifier"
)

// Config configures a node.
type Config struct {
	// Data is the node's data directory; created on first start.
	Data string
	// Keys is the circuit key directory (`zkshare keys setup`).
	Keys string
	// Origin names a new ledger (default zkshare.local/ledger).
	Origin string
	// ProveConcurrency bounds proofs in flight (default: cores);
	// ProveQueue how many more may wait (default 2x concurrency).
	ProveConcurrency, ProveQueue int
	// Freshness is how long a superseded root still verifies (default 1h);
	// MaxFreshness the longest window a verifier may ask for (default 24h,
	// at least Freshness).
	Freshness, MaxFreshness time.Duration
	// VerifyAggregateConcurrency bounds aggregate verifications in flight
	// (default: cores); more are refused with ResourceExhausted.
	// VerifyAggregatePerMinute is each client's rate (default 30).
	VerifyAggregateConcurrency, VerifyAggregatePerMinute int
	Log                                                  *slog.Logger
	// Consortium: Data is an organisation's directory made by
	// `zkshare consortium init`; the ledger runs under CometBFT.
	Consortium bool

	// WatchStreamsPerClient bounds the WatchBlocks streams one client (its
	// participant id, else its IP address, an IPv6 /64 as one) holds open
	// (default 4); WatchStreamsTotal all clients' (default 256). More are
	// refused with ResourceExhausted.
	WatchStreamsPerClient, WatchStreamsTotal int
}

// Server is a running node's Connect services over its engine.
type Server struct {
	cfg  Config
	log  *slog.Logger
	node *node.Node
	// ledger and verifier serve Verify and VerifyAggregate.
	ledger   *ledger.Ledger
	verifier *verifier.Verifier
	// aggVerify bounds the public VerifyAggregate (up to 129 Groth16
	// verifications a request).
	aggVerify *publicLimit
	// watch bounds the public WatchBlocks streams.
	watch *streamLimit
}

// Local identities and token files, as the engine names them.
const (
	AdminID  = node.AdminID
	NodeID   = node.NodeID
	HolderID = node.HolderID
)

// TokenPath is where a local identity's API token is kept.
func TokenPath(data, id string) string { return node.TokenPath(data, id) }

// New opens (or, on first start, creates) a node in cfg.Data and puts its
// services in front of it.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Freshness <= 0 {
		cfg.Freshness = time.Hour
	}
	if cfg.MaxFreshness <= 0 {
		cfg.MaxFreshness = 24 * time.Hour
	}
	cfg.MaxFreshness = max(cfg.MaxFreshness, cfg.Freshness)
	if cfg.VerifyAggregateConcurrency <= 0 {
		cfg.VerifyAggregateConcurrency = runtime.GOMAXPROCS(0)
	}
	if cfg.VerifyAggregatePerMinute <= 0 {
		cfg.VerifyAggregatePerMinute = 30
	}
	if cfg.WatchStreamsPerClient <= 0 {
		cfg.WatchStreamsPerClient = 4
	}
	if cfg.WatchStreamsTotal <= 0 {
		cfg.WatchStreamsTotal = 256
	}
	n, err := node.Open(ctx, node.Config{Data: cfg.Data, Keys: cfg.Keys, Origin: cfg.Origin, ProveConcurrency: cfg.ProveConcurrency,
		ProveQueue: cfg.ProveQueue, Consortium: cfg.Consortium, Log: cfg.Log})
	if err != nil {
		return nil, err
	}
	v, err := verifier.FromDir(cfg.Keys)
	if err != nil {
		return nil, errors.Join(err, n.Close())
	}
	return &Server{cfg: cfg, log: cfg.Log, node: n, ledger: n.Ledger(), verifier: v,
		aggVerify: newPublicLimit(cfg.VerifyAggregateConcurrency, cfg.VerifyAggregatePerMinute),
		watch:     newStreamLimit(cfg.WatchStreamsPerClient, cfg.WatchStreamsTotal)}, nil
}

// maxMessageBytes bounds one request message (a CommitRecords batch included).
const maxMessageBytes = 16 << 20

// Handler serves every service, health checks, reflection, /healthz and
// /readyz on one mux, behind token authentication.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	m := newMetrics(s)
	// Telemetry first, then authorisation; panics become Internal errors.
	opts := []connect.HandlerOption{
		connect.WithInterceptors(m.interceptor(), recoverInterceptor(s.log), s.authorize()),
		connect.WithReadMaxBytes(maxMessageBytes),
	}
	mux.Handle(zksharev1connect.NewHolderServiceHandler(&holderService{s}, opts...))
	mux.Handle(zksharev1connect.NewVerifierServiceHandler(&verifierService{s}, opts...))
	mux.Handle(zksharev1connect.NewLedgerServiceHandler(&ledgerService{s}, opts...))
	mux.Handle(zksharev1connect.NewAdminServiceHandler(&adminService{s}, opts...))
	names := []string{zksharev1connect.HolderServiceName, zksharev1connect.VerifierServiceName, zksharev1connect.LedgerServiceName, zksharev1connect.AdminServiceName}
	checker := grpchealth.NewStaticChecker(names...)
	mux.Handle(grpchealth.NewHandler(checker))
	reflector := grpcreflect.NewStaticReflector(names...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.Handle("GET /metrics", m.handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return s.authenticate(mux)
}

func (s *Server) ready() error { return s.node.Ready() }

// Ledger is the node's ledger, for tools and tests.
func (s *Server) Ledger() *ledger.Ledger { return s.ledger }

// Node is the engine this server fronts.
func (s *Server) Node() *node.Node { return s.node }

// Close closes the engine.
func (s *Server) Close() error { return s.node.Close() }

func elemBytes(e fr.Element) []byte {
	b := e.Bytes()
	return b[:]
}
