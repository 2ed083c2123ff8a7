package consortium

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// Validator set changes. A validator is a ledger participant with the
// validator role; registering, revoking or re-keying one (a governance
// action, or a validator rotating its own key) changes CometBFT's
// validator set through FinalizeBlock's validator updates, in the block
// that applies it (CometBFT uses the new set two heights later). Blocks
// keep verifying across the change: the ledger checks each block against
// the validators and keys of its own height (ledger.Verify).
//
// A validator rotating its key prepares the new key first
// (identities/node.next.json, PrepareKeyRotation), then sends RotateKey
// signed with the old one (Node.RotateKey does both while running). Once
// the rotation is committed the node signs ledger blocks and consensus
// votes with the new key and stores it as its key (identities/node.json and
// CometBFT's priv_validator_key.json). A node that was stopped meanwhile
// does the same when it catches up.

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
// participant that has or had that key (revoked ones included: a validator
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
		keys := [][]byte{p.Key}
		for _, e := range p.PastKeys {
			keys = append(keys, e.Key)
		}
		for _, k := range keys {
			if len(k) == ed25519.PublicKeySize {
				if sum := sha256.Sum256(k); string(sum[:20]) == string(addr) {
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
// validator is re-keyed. CometBFT reads the public key again after each
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

// PrepareKeyRotation draws the organisation's next validator key and keeps
// it in identities/node.next.json. It returns the current identity (which
// signs the RotateKey) and the next one.
func PrepareKeyRotation(dir string) (cur, next *ledger.Identity, err error) {
	o := Org{Dir: dir}
	if cur, err = ledger.LoadIdentity(o.identity("node")); err != nil {
		return nil, nil, err
	}
	if next, err = ledger.LoadIdentity(o.nextKeyPath()); err == nil {
		return cur, next, nil // prepared before: keep it
	}
	if next, err = ledger.NewIdentity(cur.ID); err != nil {
		return nil, nil, err
	}
	return cur, next, next.Save(o.nextKeyPath())
}

// adoptKey makes id the organisation's stored node key: CometBFT's key
// files first, then identities/node.json. It is idempotent, so a crash
// between the steps is finished on the next start.
func adoptKey(o Org, cfg *cmtcfg.Config, id *ledger.Identity) (*privval.FilePV, error) {
	pv := privval.NewFilePV(cmted25519.PrivKey(id.Key), cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	pv.Save()
	if err := os.Rename(o.nextKeyPath(), o.identity("node")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("consortium: store the new node key: %w", err)
	}
	return pv, nil
}

// RotateKey re-keys this organisation's validator: a new key, then its
// RotateKey signed with the old one; it returns once the rotation is
// committed (the node then signs with the new key).
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
