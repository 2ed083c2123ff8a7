package consortium

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node/datadir"
)

// Validator set changes. A validator is a ledger participant with the
// validator role; registering, revoking or re-keying one (a governance
// action, or a validator rotating its own key) changes CometBFT's
// validator set through FinalizeBlock's validator updates, in the block
// that applies it (CometBFT uses the new set two heights later). Blocks
// keep verifying across the change: the ledger checks each block against
// the validators and keys of its own height (ledger.Verify).
//
// A validator has two keys: its ledger key (identities/node.json), which
// signs its transactions and its replica's ledger blocks, and its
// consensus key (CometBFT's priv_validator_key.json), by which CometBFT
// knows it. Each rotates on its own.
//
// A ledger key rotation prepares the new key first
// (identities/node.next.json, PrepareKeyRotation), then sends RotateKey
// signed with the old one (Node.RotateKey does both while running). Once
// the rotation is committed the node signs with the new key and stores it
// as identities/node.json. The validator set does not change.
//
// A consensus key rotation prepares the new key first
// (cometbft/config/priv_validator_key.next.json,
// PrepareConsensusKeyRotation), then sends RotateConsensusKey signed with
// the ledger key (Node.RotateConsensusKey does both while running). Once
// the rotation is committed (a validator update) the node stores it as
// priv_validator_key.json and votes with it.
//
// A node that was stopped meanwhile does the same when it catches up.

// validatorPower is each organisation's voting power.
const validatorPower = 10

// validatorUpdates is the change of the validator set from before to after.
func validatorUpdates(before, after *ledger.State) []abci.ValidatorUpdate {
	b, a := before.Validators(), after.Validators()
	ids := make([]string, 0, len(a)+len(b))
	for id := range b {
		ids = append(ids, id)
	}
	for id := range a {
		if _, ok := b[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out []abci.ValidatorUpdate
	for _, id := range ids {
		old, hadOld := b[id]
		now, hasNow := a[id]
		if hadOld && hasNow && old.Equal(now) {
			continue
		}
		if hadOld {
			out = append(out, abci.Ed25519ValidatorUpdate(old, 0))
		}
		if hasNow {
			out = append(out, abci.Ed25519ValidatorUpdate(now, validatorPower))
		}
	}
	return out
}

// proposerOf maps a CometBFT validator address to the validator
// participant that has or had that consensus key (revoked ones included: a validator
// revoked at h still proposes until the change reaches CometBFT).
func proposerOf(st *ledger.State, addr []byte) string {
	ids := make([]string, 0, len(st.Participants))
	for id := range st.Participants {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p := st.Participants[id]
		if p.Role != zkv1.Role_ROLE_VALIDATOR {
			continue
		}
		keys := [][]byte{p.ConsensusKey}
		for _, e := range p.PastConsensusKeys {
			keys = append(keys, e.Key)
		}
		for _, k := range keys {
			if len(k) == ed25519.PublicKeySize {
				if sum := sha256.Sum256(k); bytes.Equal(sum[:20], addr) {
					return id
				}
			}
		}
	}
	return ""
}

// Query answers "participant/ID" with the participant's JSON (its key,
// role, sequence), and "proposal/HEXID" with an open proposal's.
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	st := a.l.State()
	var v any
	var ok bool
	switch kind, key, _ := strings.Cut(strings.TrimPrefix(req.Path, "/"), "/"); kind {
	case "participant":
		v, ok = st.Participants[key]
	case "proposal":
		v, ok = st.Proposals[key]
	}
	if !ok {
		return &abci.ResponseQuery{Code: ledger.CodeRejected, Log: "not found: " + req.Path}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &abci.ResponseQuery{Value: b, Height: int64(st.Height)}, nil
}

// switchPV is the node's CometBFT signer; it changes key when the node's
// validator's consensus key is rotated. CometBFT reads the public key again after each
// commit.
type switchPV struct {
	mu sync.RWMutex
	pv *privval.FilePV
}

func (s *switchPV) get() *privval.FilePV {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pv
}

func (s *switchPV) set(pv *privval.FilePV) {
	s.mu.Lock()
	s.pv = pv
	s.mu.Unlock()
}

func (s *switchPV) GetPubKey() (crypto.PubKey, error) { return s.get().GetPubKey() }
func (s *switchPV) SignVote(chainID string, v *cmtproto.Vote) error {
	return s.get().SignVote(chainID, v)
}
func (s *switchPV) SignProposal(chainID string, p *cmtproto.Proposal) error {
	return s.get().SignProposal(chainID, p)
}

// nextKeyPath is where a prepared key waits until its rotation commits.
func (o Org) nextKeyPath() string { return o.identity("node.next") }

// PrepareKeyRotation draws the organisation's next ledger key for its
// validator and keeps it in identities/node.next.json. It returns the
// current identity (which signs the RotateKey) and the next one.
func PrepareKeyRotation(dir string) (cur, next *ledger.Identity, err error) {
	o := Org{Dir: dir}
	if cur, err = ledger.LoadIdentity(o.identity(datadir.Node)); err != nil {
		return nil, nil, err
	}
	if next, err = ledger.LoadIdentity(o.nextKeyPath()); err == nil {
		return cur, next, nil // prepared before: keep it
	}
	if next, err = ledger.NewIdentity(cur.ID); err != nil {
		return nil, nil, err
	}
	err = next.Save(o.nextKeyPath())
	return cur, next, err
}

// adoptKey makes the prepared ledger key the organisation's stored node
// key (identities/node.json). It is idempotent, so a crash before it is
// finished on the next start. CometBFT's key is not touched.
func adoptKey(o Org) error {
	if err := os.Rename(o.nextKeyPath(), o.identity(datadir.Node)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("consortium: store the new node key: %w", err)
	}
	return nil
}

// RotateKey re-keys this organisation's validator's ledger key: a new key,
// then its RotateKey signed with the old one; it returns once the rotation
// is committed (the node then signs with the new key). The consensus key
// is unchanged (see RotateConsensusKey).
func (n *Node) RotateKey(ctx context.Context) error {
	cur, next, err := PrepareKeyRotation(n.dir)
	if err != nil {
		return err
	}
	if err := n.Ledger.SetNextNode(next); err != nil {
		return err
	}
	seq := n.Ledger.State().Participants[cur.ID].Sequence + 1
	tx, err := ledger.NewTx(n.Ledger.Chain(), cur, seq, time.Now(), ledger.RotateKey(cur.ID, next.Public()))
	if err != nil {
		return err
	}
	_, err = n.Ledger.SubmitTx(ctx, tx)
	return err
}

// nextConsensusKeyPath is where a prepared consensus key waits until its
// rotation commits.
func nextConsensusKeyPath(cfg *cmtcfg.Config) string {
	return strings.TrimSuffix(cfg.PrivValidatorKeyFile(), ".json") + ".next.json"
}

// PrepareConsensusKeyRotation draws the organisation's next consensus key
// and keeps it in cometbft/config/priv_validator_key.next.json. It returns
// the validator's ledger identity (which signs the RotateConsensusKey) and
// the next consensus public key.
func PrepareConsensusKeyRotation(dir string) (id *ledger.Identity, next ed25519.PublicKey, err error) {
	o := Org{Dir: dir}
	if id, err = ledger.LoadIdentity(o.identity(datadir.Node)); err != nil {
		return nil, nil, err
	}
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(o.cometHome())
	if err := loadConfig(cfg); err != nil {
		return nil, nil, err
	}
	path := nextConsensusKeyPath(cfg)
	if _, err := os.Stat(path); err == nil {
		pv := privval.LoadFilePVEmptyState(path, "") // prepared before: keep it
		return id, pv.Key.PubKey.Bytes(), nil
	}
	pv := privval.GenFilePV(path, "")
	pv.Key.Save()
	return id, pv.Key.PubKey.Bytes(), nil
}

// adoptConsensusKey switches the node's CometBFT signer to the prepared
// consensus key once st gives it to validator id: it becomes
// priv_validator_key.json (the signing state is kept). It is idempotent.
//
// The engine takes the new key into its validator set two heights after
// the block that carries the rotation (ledger.ValidatorUpdateDelay): the
// node switches after committing the engine height following the one at
// which it first sees the rotation committed (seen), not at once, or it
// could not vote for the height in between (found in review: one rotation
// and one slow validator stalled the chain). height is the engine height
// just committed.
func adoptConsensusKey(cfg *cmtcfg.Config, st *ledger.State, id string, sw *switchPV, height uint64, seen *uint64) error {
	path := nextConsensusKeyPath(cfg)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil // none prepared
	} else if err != nil {
		return err
	}
	p, ok := st.Participants[id]
	if !ok || len(p.ConsensusKey) != ed25519.PublicKeySize {
		return nil
	}
	next := privval.LoadFilePVEmptyState(path, "")
	if !ed25519.PublicKey(p.ConsensusKey).Equal(ed25519.PublicKey(next.Key.PubKey.Bytes())) {
		return nil // not committed yet
	}
	if *seen == 0 {
		*seen = height
	}
	if height+1 < *seen+ledger.ValidatorUpdateDelay {
		return nil
	}
	if err := os.Rename(path, cfg.PrivValidatorKeyFile()); err != nil {
		return fmt.Errorf("consortium: store the new consensus key: %w", err)
	}
	sw.set(privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile()))
	return nil
}

// RotateConsensusKey re-keys this organisation's validator in CometBFT: a
// new consensus key, then its RotateConsensusKey signed with the ledger
// key; it returns once the rotation is committed (the node then votes with
// the new key).
func (n *Node) RotateConsensusKey(ctx context.Context) error {
	id, next, err := PrepareConsensusKeyRotation(n.dir)
	if err != nil {
		return err
	}
	cur := n.Ledger.Node()
	if cur == nil || cur.ID != id.ID {
		return fmt.Errorf("consortium: no ledger identity for %s", id.ID)
	}
	seq := n.Ledger.State().Participants[cur.ID].Sequence + 1
	tx, err := ledger.NewTx(n.Ledger.Chain(), cur, seq, time.Now(), ledger.RotateConsensusKey(cur.ID, next))
	if err != nil {
		return err
	}
	_, err = n.Ledger.SubmitTx(ctx, tx)
	return err
}
