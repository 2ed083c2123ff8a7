// Package node is the node engine, no wire: a data directory and its
// bootstrap, identities and tokens, access policies, commit -> anchor,
// prove -> attach anchor -> audit, aggregates, receipts and governance. The
// service package puts it behind Connect; the CLI uses it locally.
//
// Methods take the caller explicitly (a Caller) and return errors of the
// kinds in errors.go, which a transport maps to its status codes.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkshare/zkshare/consortium"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/verifier"
)

// DefaultOrigin names a new single-node ledger.
const DefaultOrigin = "zkshare.local/ledger"

// Config configures a node engine.
type Config struct {
	// Data is the node's data directory; created on first start.
	Data string
	// Keys is the circuit key directory (`zkshare keys setup`).
	Keys string
	// Origin names a new ledger (default DefaultOrigin).
	Origin string
	// ProveConcurrency bounds proofs in flight (default: cores);
	// ProveQueue how many more may wait (default 2x concurrency).
	ProveConcurrency, ProveQueue int
	// Freshness is how long a superseded root still verifies (default 1h);
	// MaxFreshness the longest window a verifier may ask for (default 24h,
	// at least Freshness).
	Freshness, MaxFreshness time.Duration
	// Consortium: Data is an organisation's directory made by
	// `zkshare consortium init`; the ledger runs under CometBFT.
	Consortium bool
	// Development marks a ledger made on a first start for development
	// (it accepts single-party keys). A first start with single-party keys
	// in Keys makes a development ledger too, and says so.
	Development bool
	// OnCommitStep, when set, is called at each step of a commit (crash
	// tests stop the node there).
	OnCommitStep func(step CommitStep, done, total int)
	// CommitChunk is how many records a commit writes per store
	// transaction (0: the store's default).
	CommitChunk int
	// EncryptionKey, when set, encrypts the holder's private store at rest
	// (16, 24 or 32 bytes, AES). The public ledger stays plain.
	EncryptionKey []byte
	Log           *slog.Logger
}

// Node is a running node engine.
type Node struct {
	cfg      Config
	log      *slog.Logger
	store    *holder.Store
	prover   *prover.Prover
	ledger   *ledger.Ledger
	holderID *ledger.Identity
	admin    *ledger.Identity // nil: another organisation holds the admin key
	tokens   *tokens
	policies *policies
	manifest *keys.Manifest
	verifier *verifier.Verifier
	queue    chan struct{} // prove slots: in flight plus waiting

	// commitMu serialises commits with their anchors and rollbacks (and
	// recovery); proofs never take it: they read an anchored version.
	commitMu sync.RWMutex
	// committing names the collection a commit is writing (nil: none).
	committing atomic.Pointer[string]
	// syncMu serialises device-fed collections' mirroring of the ledger.
	syncMu sync.Mutex
	// recovery is what the last start's recovery did, by collection.
	recoveryMu sync.Mutex
	recovery   map[string]string
	// Background rollbacks of recovery: stopped and awaited by Close.
	stopRecovery func()
	recovering   sync.WaitGroup
	// sendMu serialises each local identity's transactions (sequence numbers).
	sendMu sync.Mutex
	// attestMu serialises relayed attestations: each batch's anchor is
	// planned on the state its predecessor made.
	attestMu sync.Mutex
	// stopLedger closes the ledger (and its consensus node, if any).
	stopLedger func() error
}

// Open opens the node in cfg.Data, bootstrapping it (Init) on a first
// start, and pins its circuit keys on the ledger.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Origin == "" {
		cfg.Origin = DefaultOrigin
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
	// A wrong store key is found before anything is opened or made.
	if err := holder.CheckKey(holderDir(cfg.Data), cfg.EncryptionKey); err != nil {
		return nil, fmt.Errorf("holder store: %w", err)
	}
	m, err := keys.ReadManifest(cfg.Keys)
	if err != nil {
		return nil, fmt.Errorf("circuit keys: %w", err)
	}
	switch {
	case cfg.Consortium:
		if !consortium.IsOrg(cfg.Data) {
			return nil, fmt.Errorf("%s is not a consortium organisation's directory (make one with `zkshare consortium init`)", cfg.Data)
		}
		if err := ensureTokens(cfg.Data); err != nil {
			return nil, err
		}
	case !Initialized(cfg.Data):
		if err := Init(cfg.Data, cfg.Origin, cfg.Development || hasDevKeys(m), cfg.Log); err != nil {
			return nil, err
		}
	}
	n := &Node{cfg: cfg, log: cfg.Log, manifest: m, queue: make(chan struct{}, cfg.ProveConcurrency+cfg.ProveQueue), recovery: map[string]string{}}
	ok := false
	defer func() {
		if !ok {
			// The open failed: its error is what the caller needs; a
			// close error would only hide it.
			_ = n.Close()
		}
	}()
	nodeID, err := ledger.LoadIdentity(IdentityPath(cfg.Data, NodeID))
	if err != nil {
		return nil, err
	}
	// Under a consortium only one organisation holds the admin key.
	if _, err := os.Stat(IdentityPath(cfg.Data, AdminID)); err == nil || !cfg.Consortium {
		if n.admin, err = ledger.LoadIdentity(IdentityPath(cfg.Data, AdminID)); err != nil {
			return nil, err
		}
	}
	if n.holderID, err = ledger.LoadIdentity(IdentityPath(cfg.Data, HolderID)); err != nil {
		return nil, err
	}
	if n.tokens, err = loadTokens(cfg.Data); err != nil {
		return nil, err
	}
	if n.policies, err = loadPolicies(policiesDir(cfg.Data)); err != nil {
		return nil, err
	}
	if cfg.Consortium {
		cn, err := consortium.Start(cfg.Data, cfg.Log)
		if err != nil {
			return nil, err
		}
		n.ledger, n.stopLedger = cn.Ledger, cn.Stop
	} else {
		if n.ledger, err = ledger.Open(LedgerDir(cfg.Data), nodeID, ledger.Options{Log: cfg.Log}); err != nil {
			return nil, err
		}
		n.stopLedger = n.ledger.Close
	}
	storeOpts := []holder.Option{holder.WithCommitChunk(cfg.CommitChunk)}
	if len(cfg.EncryptionKey) > 0 {
		storeOpts = append(storeOpts, holder.WithEncryptionKey(cfg.EncryptionKey))
	}
	if n.store, err = holder.Open(holderDir(cfg.Data), cfg.Log, storeOpts...); err != nil {
		return nil, err
	}
	if n.verifier, err = verifier.FromDir(cfg.Keys); err != nil {
		return nil, err
	}
	if n.prover, err = prover.New(n.store, cfg.Keys, prover.WithConcurrency(cfg.ProveConcurrency), prover.WithLogger(cfg.Log)); err != nil {
		return nil, err
	}
	if err := n.registerCircuits(ctx); err != nil {
		return nil, err
	}
	if err := n.recover(ctx); err != nil {
		return nil, fmt.Errorf("recover the holder store: %w", err)
	}
	ok = true
	return n, nil
}

// Close stops the ledger's writer and closes the stores.
func (n *Node) Close() error {
	var errs []error
	if n.stopRecovery != nil {
		n.stopRecovery()
	}
	n.recovering.Wait()
	if n.stopLedger != nil {
		errs = append(errs, n.stopLedger())
		n.stopLedger = nil
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
		n.store = nil
	}
	return errors.Join(errs...)
}

// Ready says whether the node serves: its stores are open.
func (n *Node) Ready() error {
	if n.ledger == nil || n.store == nil {
		return errors.New("not started")
	}
	return nil
}

// Ledger is the node's ledger (read it; the node writes it).
func (n *Node) Ledger() *ledger.Ledger { return n.ledger }

// HolderID is the id of the holder this node acts for.
func (n *Node) HolderID() string { return n.holderID.ID }

// AdminID is the id of the admin whose key this node holds, "" if none.
func (n *Node) AdminID() string {
	if n.admin == nil {
		return ""
	}
	return n.admin.ID
}

// ProveSlotsUsed is how many proofs are in flight or waiting.
func (n *Node) ProveSlotsUsed() int { return len(n.queue) }

// hasDevKeys says whether a key directory holds single-party keys.
func hasDevKeys(m *keys.Manifest) bool {
	for _, e := range m.Circuits {
		if e.Setup != keys.SetupCeremony {
			return true
		}
	}
	return false
}

// registerCircuits pins this node's circuit keys on the ledger, when this
// node holds the admin key (under M-of-N governance: proposes them). Keys
// the ledger has are left alone; keys for a circuit it has another version
// of become that circuit's next version.
func (n *Node) registerCircuits(ctx context.Context) error {
	if n.admin == nil {
		return nil
	}
	present, err := keys.Present(n.cfg.Keys)
	if err != nil {
		return err
	}
	for _, name := range present {
		e := n.manifest.Circuits[name]
		if e.Setup != keys.SetupCeremony && !n.ledger.State().Development {
			// The node still serves (the ledger, a ceremony's receipts); it
			// proves nothing with these keys.
			n.log.ErrorContext(ctx, "NOT REGISTERING development keys: this ledger is not marked for development, so it takes ceremony keys only (`zkshare ceremony`)", "circuit", name, "keys", n.cfg.Keys)
			continue
		}
		id, vk, err := e.Digests(name)
		if err != nil {
			return err
		}
		if _, ok := n.ledger.State().CircuitVersion(id, vk); ok {
			continue // the usual restart: nothing to read or parse again
		}
		rc, err := keys.Registration(n.cfg.Keys, name)
		if err != nil {
			return err
		}
		// Under a consortium every organisation's node proposes its keys:
		// the first proposal is approved by the others' identical ones.
		registered := func(st *ledger.State) bool {
			_, ok := st.CircuitVersion(rc.GetCircuitId(), rc.GetVkSha256())
			return ok
		}
		_, _, pending, err := n.govern(ctx, ledger.RegisterCircuit(rc), ledger.ActRegisterCircuit(rc), registered)
		if errors.Is(err, ledger.ErrRejected) || errors.Is(err, ledger.ErrPermission) {
			// Say why and serve: ceremony keys whose participants have
			// not all attested them yet register on a later start.
			n.log.ErrorContext(ctx, "circuit keys NOT registered; this node proves nothing with them", "circuit", name, "setup", e.Setup, "reason", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("register circuit %s: %w", name, err)
		}
		if pending {
			n.log.InfoContext(ctx, "circuit proposed; it is pinned once enough organisations approve", "circuit", name, "setup", e.Setup)
			continue
		}
		n.log.InfoContext(ctx, "circuit pinned on the ledger", "circuit", name, "setup", e.Setup)
	}
	return nil
}

// keysRegistered checks that the ledger's registry has this node's keys
// for the named circuits, unretired: a proof made with other keys could
// never verify.
func (n *Node) keysRegistered(names ...string) error {
	st := n.ledger.State()
	for _, name := range names {
		e, ok := n.manifest.Circuits[name]
		if !ok {
			return errorf(ErrFailedPrecondition, "this node has no keys for circuit %s", name)
		}
		id, vk, err := e.Digests(name)
		if err != nil {
			return err
		}
		c, ok := st.CircuitVersion(id, vk)
		switch {
		case !ok && e.Setup != keys.SetupCeremony && !st.Development:
			return errorf(ErrFailedPrecondition, "this node's %s keys come from a development setup, which this ledger does not accept: it needs ceremony keys", name)
		case !ok:
			return errorf(ErrFailedPrecondition, "this node's %s keys (verifying key %.16x…) are not registered on the ledger yet", name, vk)
		case c.RetiredAt != 0:
			return errorf(ErrFailedPrecondition, "this node's %s keys (version %d) were retired at height %d: run it with the current keys", name, c.Version, c.RetiredAt)
		}
	}
	return nil
}

// send signs and submits a transaction of a local identity.
func (n *Node) send(ctx context.Context, id *ledger.Identity, kind func(*zkv1.TxBody)) (*ledger.Receipt, error) {
	n.sendMu.Lock()
	defer n.sendMu.Unlock()
	seq := n.ledger.State().Participants[id.ID].Sequence + 1
	tx, err := ledger.NewTx(n.ledger.Chain(), id, seq, time.Now(), kind)
	if err != nil {
		return nil, err
	}
	return n.ledger.SubmitTx(ctx, tx)
}

// acquireProveSlot takes a place in the bounded prove queue or refuses at
// once: a full queue is answered, not waited on.
func (n *Node) acquireProveSlot() (release func(), err error) {
	select {
	case n.queue <- struct{}{}:
		return func() { <-n.queue }, nil
	default:
		return nil, errorf(ErrResourceExhausted, "the prover is busy: retry shortly")
	}
}
