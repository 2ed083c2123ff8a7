package consortium_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cometbft/cometbft/privval"
	cmthttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/zkshare/zkshare/consortium"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// bare is a consortium of bare organisations (CometBFT and the ledger, no
// service), each in its own process, driven through CometBFT's RPC.
type bare struct {
	t    *testing.T
	dir  string
	m    *consortium.Manifest
	cmds []*exec.Cmd
	done []chan struct{}
	rpc  []*cmthttp.HTTP
}

func newBare(t *testing.T, n int) *bare {
	dir := t.TempDir()
	m, err := consortium.Init(n, dir, consortium.Options{Development: true, Origin: "test.consortium/ledger"})
	if err != nil {
		t.Fatal(err)
	}
	b := &bare{t: t, dir: dir, m: m, cmds: make([]*exec.Cmd, n), done: make([]chan struct{}, n)}
	for k := range m.Orgs {
		c, err := cmthttp.New(m.RPC[k], "/websocket")
		if err != nil {
			t.Fatal(err)
		}
		b.rpc = append(b.rpc, c)
	}
	t.Cleanup(func() {
		for k := range b.cmds {
			b.stop(k)
		}
	})
	return b
}

func (b *bare) org(k int) string { return filepath.Join(b.dir, b.m.Orgs[k]) }

func (b *bare) start(k int) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ZKSHARE_TEST_ORG="+b.org(k), "ZKSHARE_TEST_BARE=1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.cmds[k], b.done[k] = cmd, done
}

func (b *bare) stop(k int) {
	if b.cmds[k] == nil {
		return
	}
	b.cmds[k].Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done[k]:
	case <-time.After(15 * time.Second):
		b.cmds[k].Process.Kill()
		<-b.done[k]
	}
	b.cmds[k] = nil
}

// waitFor polls cond until it holds (60 s at most).
func (b *bare) waitFor(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *bare) ready(k int) {
	b.waitFor(b.m.Orgs[k]+" to start", func() bool {
		st, err := b.rpc[k].Status(context.Background())
		return err == nil && st.SyncInfo.LatestBlockHeight >= 1 && !st.SyncInfo.CatchingUp
	})
}

// participant reads a participant through organisation k's ABCI query.
func (b *bare) participant(k int, id string) (ledger.Participant, bool) {
	var p ledger.Participant
	res, err := b.rpc[k].ABCIQuery(context.Background(), "participant/"+id, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	if res.Response.Code != 0 {
		return p, false
	}
	if err := json.Unmarshal(res.Response.Value, &p); err != nil {
		b.t.Fatal(err)
	}
	return p, true
}

// send submits id's next transaction through organisation k and waits
// for its commit.
func (b *bare) send(k int, id *ledger.Identity, kind func(*zkv1.TxBody)) error {
	b.t.Helper()
	p, _ := b.participant(k, id.ID)
	tx, err := ledger.NewTx(b.m.Chain(), id, p.Sequence+1, time.Now(), kind)
	if err != nil {
		b.t.Fatal(err)
	}
	res, err := b.rpc[k].BroadcastTxCommit(context.Background(), tx.Raw)
	if err != nil {
		b.t.Fatal(err)
	}
	if res.CheckTx.Code != ledger.CodeOK {
		return ledger.CodeError(res.CheckTx.Code, res.CheckTx.Log)
	}
	if res.TxResult.Code != ledger.CodeOK {
		return ledger.CodeError(res.TxResult.Code, res.TxResult.Log)
	}
	return nil
}

func (b *bare) must(k int, id *ledger.Identity, kind func(*zkv1.TxBody)) {
	b.t.Helper()
	if err := b.send(k, id, kind); err != nil {
		b.t.Fatalf("%s: %v", id.ID, err)
	}
}

func (b *bare) refused(k int, id *ledger.Identity, kind func(*zkv1.TxBody), want error, msg string) {
	b.t.Helper()
	if err := b.send(k, id, kind); !errors.Is(err, want) || !strings.Contains(err.Error(), msg) {
		b.t.Fatalf("%s: got %v, want %v (%s)", id.ID, err, want, msg)
	}
}

func (b *bare) identity(k int, name string) *ledger.Identity {
	id, err := ledger.LoadIdentity(filepath.Join(b.org(k), "identities", name+".json"))
	if err != nil {
		b.t.Fatal(err)
	}
	return id
}

// validatorSet is organisation k's view of CometBFT's validator set at the
// latest height: address (hex) to power.
func (b *bare) validatorSet(k int) map[string]int64 {
	res, err := b.rpc[k].Validators(context.Background(), nil, nil, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, v := range res.Validators {
		out[v.Address.String()] = v.VotingPower
	}
	return out
}

// One organisation's admin cannot take over: it cannot re-key another
// participant, revoke or re-key another admin, or register a participant
// or circuit alone; a majority of the four admins can. A validator's key
// rotation and another validator's revocation reach CometBFT's validator
// set, the chain keeps going with the new set, and every replica's ledger
// verifies across both.
func TestGovernanceAcrossOrganisations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four CometBFT nodes")
	}
	b := newBare(t, 4)
	for k := range 4 {
		b.start(k)
	}
	for k := range 4 {
		b.ready(k)
	}
	admin := make([]*ledger.Identity, 4)
	for k := range 4 {
		admin[k] = b.identity(k, "admin")
	}
	evil, _ := ledger.NewIdentity("evil")
	mallory, _ := ledger.NewIdentity("mallory")

	// admin1 alone, each takeover.
	b.refused(0, admin[0], ledger.RotateKey("holder2", evil.Public()), ledger.ErrPermission, "rotates its own key")
	b.refused(0, admin[0], ledger.RotateKey("admin2", evil.Public()), ledger.ErrPermission, "rotates its own key")
	b.refused(0, admin[0], ledger.RotateKey("org2", evil.Public()), ledger.ErrPermission, "rotates its own key")
	b.refused(0, admin[0], ledger.RevokeParticipant("admin2"), ledger.ErrPermission, "needs M-of-N approval")
	b.refused(0, admin[0], ledger.RegisterParticipant("mallory", zkv1.Role_ROLE_ADMIN, mallory.Public()), ledger.ErrPermission, "needs M-of-N approval")
	b.refused(0, admin[0], ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: bytes.Repeat([]byte{1}, 32), VkSha256: bytes.Repeat([]byte{2}, 32), Setup: zkv1.SetupKind_SETUP_KIND_DEV}), ledger.ErrPermission, "needs M-of-N approval")
	// A proposal of admin1's alone applies nothing, and it cannot approve twice.
	grab := ledger.ActRotateKey("holder2", evil.Public())
	b.must(0, admin[0], ledger.ProposeAction(grab))
	grabID, _ := ledger.ProposalID(grab)
	b.refused(0, admin[0], ledger.ApproveProposal(grabID), ledger.ErrRejected, "already approved")
	b.refused(1, b.identity(1, "holder"), ledger.ApproveProposal(grabID), ledger.ErrPermission, "not a governor")
	// One more approval is still short of a majority of four (3).
	b.must(1, admin[1], ledger.ApproveProposal(grabID))
	if p, _ := b.participant(2, "holder2"); bytes.Equal(p.Key, evil.Public()) {
		t.Fatal("two of four admins re-keyed a holder")
	}
	// M of N: three organisations' admins register a participant.
	bank, _ := ledger.NewIdentity("bank")
	reg := ledger.ActRegisterParticipant("bank", zkv1.Role_ROLE_CONSUMER, bank.Public())
	regID, _ := ledger.ProposalID(reg)
	b.must(0, admin[0], ledger.ProposeAction(reg))
	b.must(1, admin[1], ledger.ApproveProposal(regID))
	if _, ok := b.participant(3, "bank"); ok {
		t.Fatal("registered with two approvals")
	}
	b.must(2, admin[2], ledger.ProposeAction(reg)) // the same action again: an approval
	if _, ok := b.participant(2, "bank"); !ok {
		t.Fatal("not registered with three approvals")
	}
	b.waitFor("org4 to commit the registration", func() bool { _, ok := b.participant(3, "bank"); return ok })

	// org2 rotates its validator's ledger key, then its consensus key,
	// while its node is down: the ledger key leaves CometBFT's validator
	// set alone, the consensus key replaces org2's in it. Back up, the node
	// catches up, adopts both keys and votes with the new consensus key.
	before := b.validatorSet(0)
	oldCons := b.consensusKey(1)
	b.stop(1)
	cur, next, err := consortium.PrepareKeyRotation(b.org(1))
	if err != nil {
		t.Fatal(err)
	}
	b.must(0, cur, ledger.RotateKey("org2", next.Public()))
	if after := b.validatorSet(0); len(after) != len(before) || after[strings.ToUpper(addrHex(oldCons))] != 10 {
		t.Fatalf("a ledger key rotation changed the validator set: %v -> %v", before, after)
	}
	b.refused(0, cur, ledger.RotateConsensusKey("org2", evil.Public()), ledger.ErrUnauthenticated, "bad signature")
	id, nextCons, err := consortium.PrepareConsensusKeyRotation(b.org(1))
	if err != nil {
		t.Fatal(err)
	}
	if !id.Public().Equal(cur.Public()) {
		t.Fatal("the ledger key is stored before the node adopted it")
	}
	b.must(0, next, ledger.RotateConsensusKey("org2", nextCons))
	newAddr := strings.ToUpper(addrHex(nextCons))
	oldAddr := strings.ToUpper(addrHex(oldCons))
	b.waitFor("the new consensus key in the validator set", func() bool {
		set := b.validatorSet(0)
		_, hasOld := set[oldAddr]
		return set[newAddr] == 10 && !hasOld
	})
	b.start(1)
	b.ready(1)
	b.waitFor("org2 to store its new keys", func() bool {
		id, err := ledger.LoadIdentity(filepath.Join(b.org(1), "identities", "node.json"))
		return err == nil && id.Public().Equal(next.Public()) && b.consensusKey(1).Equal(nextCons)
	})
	b.waitFor("org2 to sign commits with its new consensus key", func() bool { return b.signedLatest(0, newAddr) })
	t.Logf("validator set %v -> %v", before, b.validatorSet(0))

	// org4's validator is revoked by three admins: CometBFT drops it, and
	// the other three keep committing.
	rev := ledger.ActRevokeParticipant("org4")
	revID, _ := ledger.ProposalID(rev)
	b.must(0, admin[0], ledger.ProposeAction(rev))
	b.must(1, admin[1], ledger.ApproveProposal(revID))
	b.must(2, admin[2], ledger.ApproveProposal(revID))
	org4 := strings.ToUpper(addrHex(b.consensusKey(3)))
	b.waitFor("org4 out of the validator set", func() bool {
		set := b.validatorSet(0)
		_, ok := set[org4]
		return !ok && len(set) == 3
	})
	shop, _ := ledger.NewIdentity("shop")
	regShop := ledger.ActRegisterParticipant("shop", zkv1.Role_ROLE_CONSUMER, shop.Public())
	for k := range 3 {
		b.must(k, admin[k], ledger.ProposeAction(regShop))
	}
	b.refused(3, admin[3], ledger.ProposeAction(regShop), ledger.ErrRejected, "exists")
	b.must(1, b.identity(1, "holder"), ledger.RotateKey("holder2", evil.Public())) // its own act
	b.waitFor("every replica at the same tip", func() bool {
		for k := range 4 {
			if p, ok := b.participant(k, "holder2"); !ok || !bytes.Equal(p.Key, evil.Public()) {
				return false
			}
		}
		return true
	})
	// Every replica's ledger verifies across the rotation and revocation.
	var tips [][]byte
	for k := range 4 {
		b.stop(k)
	}
	for k := range 4 {
		l, err := ledger.Open(filepath.Join(b.org(k), "ledger"), nil, ledger.Options{})
		if err != nil {
			t.Fatalf("%s: %v", b.m.Orgs[k], err)
		}
		if err := l.Verify(t.Context(), nil); err != nil {
			t.Errorf("%s: %v", b.m.Orgs[k], err)
		}
		tips = append(tips, l.Head().Hash)
		l.Close()
	}
	for k := range tips {
		if !bytes.Equal(tips[k], tips[0]) {
			t.Fatalf("replicas differ: %x", tips)
		}
	}
	// org2 restarts with its new key.
	b.start(1)
	b.start(0)
	b.start(2)
	b.ready(1)
}

// consensusKey is organisation k's stored CometBFT public key.
func (b *bare) consensusKey(k int) ed25519.PublicKey {
	pv := privval.LoadFilePVEmptyState(filepath.Join(b.org(k), "cometbft", "config", "priv_validator_key.json"), "")
	return pv.Key.PubKey.Bytes()
}

func addrHex(pub []byte) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:20])
}

// signedLatest says whether addr signed the last commit organisation k knows.
func (b *bare) signedLatest(k int, addr string) bool {
	c, err := b.rpc[k].Commit(context.Background(), nil)
	if err != nil {
		return false
	}
	for _, s := range c.Commit.Signatures {
		if s.ValidatorAddress.String() == addr && len(s.Signature) > 0 {
			return true
		}
	}
	return false
}

// Init gives each validator a ledger key (identities/node.json) apart from
// its CometBFT key, which the ledger's genesis records as its consensus key.
func TestInitSeparatesKeys(t *testing.T) {
	dir := t.TempDir()
	m, err := consortium.Init(2, dir, consortium.Options{Development: true, Origin: "test.consortium/ledger"})
	if err != nil {
		t.Fatal(err)
	}
	b := &bare{t: t, dir: dir, m: m}
	l, err := ledger.Open(filepath.Join(dir, "org1", "ledger"), nil, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st := l.State()
	for k, org := range m.Orgs {
		node, cons := b.identity(k, "node"), b.consensusKey(k)
		if node.Public().Equal(cons) {
			t.Fatalf("%s: node.json is the CometBFT key", org)
		}
		p := st.Participants[org]
		if !bytes.Equal(p.Key, node.Public()) || !bytes.Equal(p.ConsensusKey, cons) {
			t.Fatalf("%s: genesis keys %x %x", org, p.Key, p.ConsensusKey)
		}
		if !st.Validators()[org].Equal(cons) {
			t.Fatalf("%s: not a validator by its consensus key", org)
		}
	}
}
