// Package consortium runs the ledger as an application of CometBFT, one
// validator per organisation, so that no single organisation can rewrite
// or stall the shared history. The ledger's own Apply validates every
// transaction (CheckTx for the mempool, FinalizeBlock for decided blocks):
// one state machine, two ways to order transactions.
package consortium

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/rpc/client/local"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/spf13/viper"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node/datadir"
)

// App is the ABCI application over one organisation's ledger replica.
type App struct {
	abci.BaseApplication
	l   *ledger.Ledger
	log *slog.Logger
	// onCommit runs after each commit, with the committed state.
	onCommit func(*ledger.State)
}

// NewApp returns the ABCI application over l.
func NewApp(l *ledger.Ledger, log *slog.Logger) *App {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &App{l: l, log: log}
}

// Info reports the last committed consensus height and app hash, so
// CometBFT replays only what the ledger has not stored.
func (a *App) Info(context.Context, *abci.RequestInfo) (*abci.ResponseInfo, error) {
	h, hash := a.l.ConsensusHead()
	if h == 0 {
		return &abci.ResponseInfo{Data: "zkshare ledger"}, nil
	}
	return &abci.ResponseInfo{Data: "zkshare ledger", LastBlockHeight: int64(h), LastBlockAppHash: hash}, nil
}

// InitChain starts the chain's app hash at the ledger's genesis.
func (a *App) InitChain(context.Context, *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	_, hash := a.l.ConsensusHead()
	return &abci.ResponseInitChain{AppHash: hash}, nil
}

// CheckTx admits a transaction to the mempool if Apply would accept it now.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	if err := a.l.CheckTx(req.Tx, time.Now().UnixMilli()); err != nil {
		return &abci.ResponseCheckTx{Code: ledger.Code(err), Log: err.Error()}, nil
	}
	return &abci.ResponseCheckTx{Code: ledger.CodeOK}, nil
}

// PrepareProposal keeps the transactions Apply accepts, in mempool order,
// within the block's byte limit.
func (a *App) PrepareProposal(_ context.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	results, err := a.l.Validate(req.Time.UnixMilli(), req.Txs)
	if err != nil {
		return nil, err
	}
	var txs [][]byte
	size := int64(0)
	for i, tx := range req.Txs {
		if results[i] != nil {
			continue
		}
		if size += int64(len(tx)); size > req.MaxTxBytes {
			break
		}
		txs = append(txs, tx)
	}
	// Validate ran on the full list; if one was dropped, later ones may
	// now see another sequence number. Keep the prefix that stays valid.
	again, err := a.l.Validate(req.Time.UnixMilli(), txs)
	if err != nil {
		return nil, err
	}
	for i, r := range again {
		if r != nil {
			txs = txs[:i]
			break
		}
	}
	return &abci.ResponsePrepareProposal{Txs: txs}, nil
}

// ProcessProposal refuses a block with a transaction Apply rejects, so a
// validator proposing an invalid transaction cannot get it committed.
func (a *App) ProcessProposal(_ context.Context, req *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	results, err := a.l.Validate(req.Time.UnixMilli(), req.Txs)
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		if r != nil {
			a.log.Warn("consortium: proposal with an invalid transaction refused", "height", req.Height, "err", r)
			return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}, nil
		}
	}
	return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}, nil
}

// FinalizeBlock runs a decided block through Apply.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	proposer := a.proposer(req.ProposerAddress)
	before := a.l.State()
	results, appHash, err := a.l.Finalize(uint64(req.Height), req.Time.UnixMilli(), proposer, req.Txs)
	if err != nil {
		return nil, err
	}
	out := &abci.ResponseFinalizeBlock{AppHash: appHash}
	if after := a.l.Finalized(); after != nil {
		out.ValidatorUpdates = validatorUpdates(before, after)
	}
	for _, r := range results {
		res := &abci.ExecTxResult{Code: ledger.Code(r)}
		if r != nil {
			res.Log = r.Error()
		}
		out.TxResults = append(out.TxResults, res)
	}
	return out, nil
}

// Commit stores the finalised block.
func (a *App) Commit(context.Context, *abci.RequestCommit) (*abci.ResponseCommit, error) {
	if err := a.l.Commit(); err != nil {
		return nil, err
	}
	if a.onCommit != nil {
		a.onCommit(a.l.State())
	}
	return &abci.ResponseCommit{}, nil
}

// proposer maps a CometBFT validator address to its ledger participant.
func (a *App) proposer(addr []byte) string { return proposerOf(a.l.State(), addr) }

// Org is one organisation's directory: CometBFT's home, the ledger, and
// the organisation's identities.
type Org struct {
	Dir string
}

func (o Org) cometHome() string { return filepath.Join(o.Dir, "cometbft") }
func (o Org) ledgerDir() string { return datadir.Ledger(o.Dir) }

// IsOrg says whether dir is an organisation's directory made by Init.
func IsOrg(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "cometbft", "config", "genesis.json"))
	return err == nil
}
func (o Org) identity(name string) string { return datadir.Identity(o.Dir, name) }

// Manifest describes a consortium, written beside the organisations.
type Manifest struct {
	Origin string `json:"origin"`
	// GenesisHash is the ledger genesis's hash, which transactions sign.
	GenesisHash []byte   `json:"genesis_hash"`
	Orgs        []string `json:"orgs"`
	// RPC are the organisations' CometBFT RPC addresses (loopback).
	RPC []string `json:"rpc"`
}

// Chain is what transactions for the consortium's ledger sign.
func (m *Manifest) Chain() ledger.Chain {
	c := ledger.Chain{Origin: m.Origin}
	copy(c.GenesisHash[:], m.GenesisHash)
	return c
}

// Options for Init.
type Options struct {
	Origin string
	// BasePort: organisation k listens for peers on BasePort+2k and for
	// CometBFT RPC on BasePort+2k+1 (default: free ports).
	BasePort int
	// TimeoutCommit is CometBFT's pause after a commit (default 100 ms).
	TimeoutCommit time.Duration
	// Participants are added to the ledger's genesis (tests, migrations).
	Participants []ledger.Participant
	// Development marks the shared ledger for development: it accepts
	// single-party circuit keys, whose maker can forge proofs.
	Development bool
}

// Init writes a consortium of n organisations under out: one validator
// each, a shared CometBFT genesis and a shared ledger genesis. Each
// organisation has an admin (adminK, identities/admin.json): the admins are
// the ledger's governors, and a governance change (participants, circuits,
// confirmer sets, another's key) takes a majority of them. Addresses are
// loopback.
func Init(n int, out string, opts Options) (*Manifest, error) {
	if n < 1 || n > 32 {
		return nil, fmt.Errorf("consortium: %d validators, want 1 to 32", n)
	}
	if opts.Origin == "" {
		opts.Origin = "zkshare.consortium/ledger"
	}
	if opts.TimeoutCommit == 0 {
		opts.TimeoutCommit = 100 * time.Millisecond
	}
	ports, err := freePorts(2*n, opts.BasePort)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Origin: opts.Origin}
	type org struct {
		Org
		cfg    *cmtcfg.Config
		pv     *privval.FilePV
		node   *p2p.NodeKey
		id     *ledger.Identity
		holder *ledger.Identity
		admin  *ledger.Identity
	}
	orgs := make([]org, n)
	genesis := &ledger.Genesis{Origin: opts.Origin, TimeUnixMs: time.Now().UnixMilli(), Development: opts.Development}
	comet := &cmttypes.GenesisDoc{ChainID: "zkshare-consortium", GenesisTime: time.Now().UTC(), ConsensusParams: cmttypes.DefaultConsensusParams()}
	for k := range orgs {
		name := fmt.Sprintf("org%d", k+1)
		o := &orgs[k]
		o.Dir = filepath.Join(out, name)
		m.Orgs = append(m.Orgs, name)
		m.RPC = append(m.RPC, fmt.Sprintf("http://127.0.0.1:%d", ports[2*k+1]))
		for _, d := range []string{filepath.Join(o.cometHome(), "config"), filepath.Join(o.cometHome(), "data"), filepath.Join(o.Dir, "identities")} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
		}
		o.cfg = cmtcfg.DefaultConfig()
		o.cfg.SetRoot(o.cometHome())
		o.cfg.Moniker = name
		o.cfg.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports[2*k])
		o.cfg.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports[2*k+1])
		o.cfg.P2P.AllowDuplicateIP = true
		o.cfg.P2P.AddrBookStrict = false
		o.cfg.Consensus.TimeoutCommit = opts.TimeoutCommit
		o.cfg.Consensus.TimeoutPropose = 500 * time.Millisecond
		o.cfg.Consensus.CreateEmptyBlocksInterval = time.Second
		o.cfg.RPC.TimeoutBroadcastTxCommit = 10 * time.Second
		// Every submission through a node waits on a commit subscription.
		o.cfg.RPC.MaxSubscriptionClients = 1024
		// The ledger indexes its own transactions; CometBFT's indexer would
		// only hold a database open across restarts.
		o.cfg.TxIndex.Indexer = "null"
		o.pv = privval.GenFilePV(o.cfg.PrivValidatorKeyFile(), o.cfg.PrivValidatorStateFile())
		o.pv.Save()
		if o.node, err = p2p.LoadOrGenNodeKey(o.cfg.NodeKeyFile()); err != nil {
			return nil, err
		}
		// The validator's ledger identity (its transactions and ledger
		// blocks) is apart from its CometBFT consensus key.
		if o.id, err = ledger.NewIdentity(name); err != nil {
			return nil, err
		}
		genesis.Participants = append(genesis.Participants, ledger.Participant{ID: name, Role: zkv1.Role_ROLE_VALIDATOR, Key: o.id.Public(), ConsensusKey: o.pv.Key.PubKey.Bytes()})
		// Each organisation also holds data: its holder signs its anchors.
		if o.holder, err = ledger.NewIdentity(fmt.Sprintf("holder%d", k+1)); err != nil {
			return nil, err
		}
		genesis.Participants = append(genesis.Participants, ledger.Participant{ID: o.holder.ID, Role: zkv1.Role_ROLE_HOLDER, Key: o.holder.Public()})
		// And governs: one admin per organisation.
		if o.admin, err = ledger.NewIdentity(fmt.Sprintf("admin%d", k+1)); err != nil {
			return nil, err
		}
		genesis.Participants = append(genesis.Participants, ledger.Participant{ID: o.admin.ID, Role: zkv1.Role_ROLE_ADMIN, Key: o.admin.Public()})
		comet.Validators = append(comet.Validators, cmttypes.GenesisValidator{Address: o.pv.Key.PubKey.Address(), PubKey: o.pv.Key.PubKey, Power: 10, Name: name})
	}
	genesis.Participants = append(genesis.Participants, opts.Participants...)
	gh, err := genesis.Hash()
	if err != nil {
		return nil, err
	}
	m.GenesisHash = gh[:]
	for k := range orgs {
		o := &orgs[k]
		var peers []string
		for j := range orgs {
			if j != k {
				peers = append(peers, fmt.Sprintf("%s@127.0.0.1:%d", orgs[j].node.ID(), ports[2*j]))
			}
		}
		o.cfg.P2P.PersistentPeers = join(peers)
		cmtcfg.WriteConfigFile(filepath.Join(o.cometHome(), "config", "config.toml"), o.cfg)
		if err := comet.SaveAs(o.cfg.GenesisFile()); err != nil {
			return nil, err
		}
		if err := ledger.Init(o.ledgerDir(), genesis); err != nil {
			return nil, err
		}
		if err := o.id.Save(o.identity(datadir.Node)); err != nil {
			return nil, err
		}
		if err := o.holder.Save(o.identity(datadir.Holder)); err != nil {
			return nil, err
		}
		if err := o.admin.Save(o.identity(datadir.Admin)); err != nil {
			return nil, err
		}
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	// The manifest is public (origin, genesis hash, names, RPC addresses):
	// clients read it to reach the consortium.
	return m, os.WriteFile(filepath.Join(out, "consortium.json"), b, 0o644) //nolint:gosec // G306: see above
}

func join(s []string) string {
	out := ""
	for i, p := range s {
		if i > 0 {
			out += ","
		}
		out += p
	}
	return out
}

// freePorts returns n loopback ports: base, base+1, ... or free ones.
func freePorts(n, base int) (_ []int, err error) {
	ports := make([]int, n)
	// Each port stays reserved until all are chosen, so none is picked twice.
	var lc net.ListenConfig
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			err = errors.Join(err, ln.Close())
		}
	}()
	for i := range ports {
		if base > 0 {
			ports[i] = base + i
			continue
		}
		ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		addr, ok := ln.Addr().(*net.TCPAddr)
		if !ok {
			return nil, fmt.Errorf("listener address %v is not TCP", ln.Addr())
		}
		ports[i] = addr.Port
	}
	return ports, nil
}

// Node is one organisation's running replica: CometBFT in process, with
// the ledger as its application.
type Node struct {
	Ledger *ledger.Ledger
	Admin  *ledger.Identity // the organisation's governor
	comet  *node.Node
	client *local.Local
	dir    string
	pv     *switchPV
}

// Start runs an organisation's node from its directory.
func Start(dir string, log *slog.Logger) (*Node, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := Org{Dir: dir}
	id, err := ledger.LoadIdentity(o.identity(datadir.Node))
	if err != nil {
		return nil, err
	}
	n := &Node{dir: dir, pv: &switchPV{}}
	if _, err := os.Stat(o.identity(datadir.Admin)); err == nil {
		if n.Admin, err = ledger.LoadIdentity(o.identity(datadir.Admin)); err != nil {
			return nil, err
		}
	}
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(o.cometHome())
	if err := loadConfig(cfg); err != nil {
		return nil, err
	}
	// A key prepared for a rotation (see validators.go).
	next, _ := ledger.LoadIdentity(o.nextKeyPath())
	onKey := func(*ledger.Identity) {
		if err := adoptKey(o); err != nil {
			log.Error("consortium: new ledger key not stored", "err", err)
		}
	}
	l, err := ledger.Open(o.ledgerDir(), id, ledger.Options{Log: log, Broadcast: n.broadcast, NextNode: next, OnNodeKey: onKey})
	if err != nil {
		return nil, err
	}
	n.Ledger = l
	if next != nil && l.Node() == next {
		// The rotation was committed before the node last stopped.
		if err := adoptKey(o); err != nil {
			return nil, errors.Join(err, l.Close())
		}
	}
	// A consensus key rotation committed before the node last stopped.
	var seen uint64
	ch, _ := l.ConsensusHead()
	if err := adoptConsensusKey(cfg, l.State(), id.ID, n.pv, ch, &seen); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	if n.pv.get() == nil {
		n.pv.set(privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile()))
	}
	nodeKey, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, errors.Join(err, l.Close())
	}
	app := NewApp(l, log)
	app.onCommit = func(st *ledger.State) {
		ch, _ := l.ConsensusHead()
		if err := adoptConsensusKey(cfg, st, id.ID, n.pv, ch, &seen); err != nil {
			log.Error("consortium: new consensus key not adopted", "err", err)
		}
	}
	cn, err := node.NewNode(cfg, n.pv, nodeKey, proxy.NewLocalClientCreator(app), node.DefaultGenesisDocProviderFunc(cfg),
		cmtcfg.DefaultDBProvider, node.DefaultMetricsProvider(cfg.Instrumentation), cmtlog.NewNopLogger())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("consortium: %w", err), l.Close())
	}
	if err := cn.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("consortium: %w", err), l.Close())
	}
	n.comet, n.client = cn, local.New(cn)
	return n, nil
}

// loadConfig reads config.toml over the defaults, as CometBFT's own
// command does (viper), and checks it.
func loadConfig(cfg *cmtcfg.Config) error {
	v := viper.New()
	v.SetConfigFile(filepath.Join(cfg.RootDir, "config", "config.toml"))
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("consortium config: %w", err)
	}
	if err := v.Unmarshal(cfg); err != nil {
		return fmt.Errorf("consortium config: %w", err)
	}
	cfg.SetRoot(cfg.RootDir)
	return cfg.ValidateBasic()
}

// broadcast submits a transaction through CometBFT and waits for its commit.
func (n *Node) broadcast(ctx context.Context, raw []byte) error {
	if n.client == nil {
		return errors.New("consortium: node not started")
	}
	res, err := n.client.BroadcastTxCommit(ctx, raw)
	if err != nil {
		return fmt.Errorf("consortium: broadcast: %w", err)
	}
	if res.CheckTx.Code != ledger.CodeOK {
		return ledger.CodeError(res.CheckTx.Code, res.CheckTx.Log)
	}
	if res.TxResult.Code != ledger.CodeOK {
		return ledger.CodeError(res.TxResult.Code, res.TxResult.Log)
	}
	return nil
}

// Height is CometBFT's last committed height on this node.
func (n *Node) Height() int64 { return n.comet.BlockStore().Height() }

// AppHash is this replica's app hash (its ledger tip), hex.
func (n *Node) AppHash() string { _, h := n.Ledger.ConsensusHead(); return hex.EncodeToString(h) }

// Stop stops CometBFT, then the ledger.
func (n *Node) Stop() error {
	var errs []error
	if n.comet != nil && n.comet.IsRunning() {
		errs = append(errs, n.comet.Stop())
		n.comet.Wait()
	}
	errs = append(errs, n.Ledger.Close())
	return errors.Join(errs...)
}
