// Package service puts the holder, prover, verifier and ledger behind the
// Connect API: one process, one port, Connect, gRPC and gRPC-Web.
//
// A data directory holds everything a node keeps: holder/ (the private
// record store), ledger/ (the public ledger), identities/ (Ed25519 keys of
// the admin, the node and the local holder, and their API tokens) and
// tokens.json (hashes of every participant's token).
package service

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/zkshare/zkshare/consortium"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/prover"
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

// Server is a running node's services.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *holder.Store
	prover   *prover.Prover
	verifier *verifier.Verifier
	ledger   *ledger.Ledger
	holderID *ledger.Identity
	admin    *ledger.Identity
	tokens   *tokens
	policies *policies
	queue    chan struct{} // prove slots: in flight plus waiting
	// aggVerify bounds the public VerifyAggregate (up to 129 Groth16
	// verifications a request).
	aggVerify *publicLimit
	manifest  *keys.Manifest
	// watch bounds the public WatchBlocks streams.
	watch *streamLimit

	// commitMu orders commits (and their anchors) against proofs, so a
	// proof is always of an anchored root.
	commitMu sync.RWMutex
	// sendMu serialises each local identity's transactions (sequence numbers).
	sendMu sync.Mutex
	// stopLedger closes the ledger (and its consensus node, if any).
	stopLedger func() error
}

// Identity and token file locations in a data directory.
func identityPath(data, id string) string { return filepath.Join(data, "identities", id+".json") }

// TokenPath is where a local identity's API token is kept.
func TokenPath(data, id string) string { return filepath.Join(data, "identities", id+".token") }

// Local identities every node has.
const (
	AdminID  = "admin"
	NodeID   = "node"
	HolderID = "holder"
)

// New opens (or, on first start, creates) a node in cfg.Data.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Origin == "" {
		cfg.Origin = "zkshare.local/ledger"
	}
	if cfg.ProveConcurrency <= 0 {
		cfg.ProveConcurrency = runtime.GOMAXPROCS(0)
	}
	if cfg.ProveQueue <= 0 {
		cfg.ProveQueue = 2 * cfg.ProveConcurrency
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
	m, err := keys.ReadManifest(cfg.Keys)
	if err != nil {
		return nil, fmt.Errorf("circuit keys: %w", err)
	}
	if cfg.Consortium {
		if !consortium.IsOrg(cfg.Data) {
			return nil, fmt.Errorf("%s is not a consortium organisation's directory (make one with `zkshare consortium init`)", cfg.Data)
		}
		if err := ensureTokens(cfg.Data); err != nil {
			return nil, err
		}
	} else if err := bootstrap(cfg); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Log, manifest: m, queue: make(chan struct{}, cfg.ProveConcurrency+cfg.ProveQueue),
		aggVerify: newPublicLimit(cfg.VerifyAggregateConcurrency, cfg.VerifyAggregatePerMinute),
		watch:     newStreamLimit(cfg.WatchStreamsPerClient, cfg.WatchStreamsTotal)}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	node, err := ledger.LoadIdentity(identityPath(cfg.Data, NodeID))
	if err != nil {
		return nil, err
	}
	// Under a consortium only one organisation holds the admin key.
	if _, err := os.Stat(identityPath(cfg.Data, AdminID)); err == nil || !cfg.Consortium {
		if s.admin, err = ledger.LoadIdentity(identityPath(cfg.Data, AdminID)); err != nil {
			return nil, err
		}
	}
	if s.holderID, err = ledger.LoadIdentity(identityPath(cfg.Data, HolderID)); err != nil {
		return nil, err
	}
	if s.tokens, err = loadTokens(cfg.Data); err != nil {
		return nil, err
	}
	if s.policies, err = loadPolicies(cfg.Data); err != nil {
		return nil, err
	}
	if cfg.Consortium {
		cn, err := consortium.Start(cfg.Data, cfg.Log)
		if err != nil {
			return nil, err
		}
		s.ledger, s.stopLedger = cn.Ledger, cn.Stop
	} else {
		if s.ledger, err = ledger.Open(filepath.Join(cfg.Data, "ledger"), node, ledger.Options{Log: cfg.Log}); err != nil {
			return nil, err
		}
		s.stopLedger = s.ledger.Close
	}
	if s.store, err = holder.Open(filepath.Join(cfg.Data, "holder"), cfg.Log); err != nil {
		return nil, err
	}
	if s.prover, err = prover.New(s.store, cfg.Keys, prover.WithConcurrency(cfg.ProveConcurrency), prover.WithLogger(cfg.Log)); err != nil {
		return nil, err
	}
	if s.verifier, err = verifier.FromDir(cfg.Keys); err != nil {
		return nil, err
	}
	if err := s.registerCircuits(ctx); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// bootstrap creates the identities, tokens and ledger of a new node.
func bootstrap(cfg Config) error {
	if _, err := os.Stat(identityPath(cfg.Data, NodeID)); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(cfg.Data, "identities"), 0o700); err != nil {
		return err
	}
	ids := map[string]*ledger.Identity{}
	for _, id := range []string{AdminID, NodeID, HolderID} {
		ident, err := ledger.NewIdentity(id)
		if err != nil {
			return err
		}
		ids[id] = ident
	}
	g := &ledger.Genesis{Origin: cfg.Origin, TimeUnixMs: time.Now().UnixMilli(), Participants: []ledger.Participant{
		{ID: AdminID, Role: zkv1.Role_ROLE_ADMIN, Key: ids[AdminID].Public()},
		{ID: NodeID, Role: zkv1.Role_ROLE_VALIDATOR, Key: ids[NodeID].Public()},
		{ID: HolderID, Role: zkv1.Role_ROLE_HOLDER, Key: ids[HolderID].Public()},
	}}
	if err := ledger.Init(filepath.Join(cfg.Data, "ledger"), g); err != nil {
		return err
	}
	if err := writeTokens(cfg.Data, map[string]string{AdminID: AdminID, HolderID: HolderID}); err != nil {
		return err
	}
	// Identities last: their presence marks a finished bootstrap.
	for _, id := range []string{AdminID, HolderID, NodeID} {
		if err := ids[id].Save(identityPath(cfg.Data, id)); err != nil {
			return err
		}
	}
	cfg.Log.Info("new node", "data", cfg.Data, "origin", cfg.Origin)
	return nil
}

// writeTokens issues a token for each local identity (file name to
// participant id) and keeps it in identities/NAME.token.
func writeTokens(data string, ids map[string]string) error {
	t := &tokens{path: filepath.Join(data, "tokens.json"), byID: map[string][]byte{}}
	for file, id := range ids {
		tok, err := t.issue(id)
		if err != nil {
			return err
		}
		if err := os.WriteFile(TokenPath(data, file), []byte(tok+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// ensureTokens gives a consortium organisation's local identities tokens
// on first start.
func ensureTokens(data string) error {
	if _, err := os.Stat(filepath.Join(data, "tokens.json")); err == nil {
		return nil
	}
	ids := map[string]string{}
	for _, file := range []string{AdminID, HolderID} {
		if id, err := ledger.LoadIdentity(identityPath(data, file)); err == nil {
			ids[file] = id.ID
		}
	}
	return writeTokens(data, ids)
}

// registerCircuits pins this node's circuit keys on the ledger, when this
// node holds the admin key (under M-of-N governance: proposes them).
func (s *Server) registerCircuits(ctx context.Context) error {
	if s.admin == nil {
		return nil
	}
	for _, name := range keys.Names() {
		e, ok := s.manifest.Circuits[name]
		if !ok {
			continue
		}
		id, err := hex.DecodeString(e.CircuitID)
		if err != nil {
			return fmt.Errorf("manifest: circuit %s id: %w", name, err)
		}
		if _, ok := s.ledger.State().Circuits[e.CircuitID]; ok {
			continue
		}
		vk, err := hex.DecodeString(e.VKSHA256)
		if err != nil {
			return fmt.Errorf("manifest: circuit %s vk hash: %w", name, err)
		}
		setup := zkv1.SetupKind_SETUP_KIND_DEV
		if e.Setup == keys.SetupCeremony {
			setup = zkv1.SetupKind_SETUP_KIND_CEREMONY
		}
		// Under a consortium every organisation's node proposes its keys:
		// the first proposal is approved by the others' identical ones.
		rc := &zkv1.RegisterCircuit{CircuitId: id, Name: name, VkSha256: vk, Setup: setup}
		_, _, pending, err := s.govern(ctx, ledger.RegisterCircuit(rc), ledger.ActRegisterCircuit(rc), func(st *ledger.State) bool { _, ok := st.Circuits[e.CircuitID]; return ok })
		if err != nil {
			return fmt.Errorf("register circuit %s: %w", name, err)
		}
		if pending {
			s.log.InfoContext(ctx, "circuit proposed; it is pinned once enough organisations approve", "circuit", name, "setup", e.Setup)
			continue
		}
		s.log.InfoContext(ctx, "circuit pinned on the ledger", "circuit", name, "setup", e.Setup)
	}
	return nil
}

// send signs and submits a transaction of a local identity.
func (s *Server) send(ctx context.Context, id *ledger.Identity, kind func(*zkv1.TxBody)) (*ledger.Receipt, error) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	seq := s.ledger.State().Participants[id.ID].Sequence + 1
	tx, err := ledger.NewTx(s.ledger.Chain(), id, seq, time.Now(), kind)
	if err != nil {
		return nil, err
	}
	return s.ledger.SubmitTx(ctx, tx)
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

func (s *Server) ready() error {
	if s.ledger == nil || s.store == nil {
		return errors.New("not started")
	}
	return nil
}

// Ledger is the node's ledger, for tools and tests.
func (s *Server) Ledger() *ledger.Ledger { return s.ledger }

// Close stops the ledger's writer and closes the stores.
func (s *Server) Close() error {
	var errs []error
	if s.stopLedger != nil {
		errs = append(errs, s.stopLedger())
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	return errors.Join(errs...)
}
