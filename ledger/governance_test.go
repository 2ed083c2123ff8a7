package ledger_test

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// gov is a state with three governors (majority: 2), a holder and a
// validator, driven through Apply one block per transaction.
type gov struct {
	t   *testing.T
	st  *ledger.State
	ids map[string]*ledger.Identity
	now time.Time
	h   uint64
}

func newGov(t *testing.T, threshold uint32, admins ...string) *gov {
	g := &gov{t: t, ids: map[string]*ledger.Identity{}, now: time.UnixMilli(1_700_000_000_000)}
	gen := &ledger.Genesis{Development: true, Origin: origin, Threshold: threshold}
	add := func(id string, role zkv1.Role) {
		ident, _ := ledger.NewIdentity(id)
		g.ids[id] = ident
		gen.Participants = append(gen.Participants, ledger.Participant{ID: id, Role: role, Key: ident.Public()})
	}
	for _, a := range admins {
		add(a, zkv1.Role_ROLE_ADMIN)
	}
	add("holder", zkv1.Role_ROLE_HOLDER)
	add("other", zkv1.Role_ROLE_HOLDER)
	add("node", zkv1.Role_ROLE_VALIDATOR)
	st, err := gen.State()
	if err != nil {
		t.Fatal(err)
	}
	g.st = st
	return g
}

// send applies sender's next transaction in a new block.
func (g *gov) send(sender string, kind func(*zkv1.TxBody)) error {
	g.t.Helper()
	g.h++
	tx, err := ledger.NewTx(g.st.Chain(), g.ids[sender], g.st.Participants[sender].Sequence+1, g.now, kind)
	if err != nil {
		g.t.Fatal(err)
	}
	return ledger.Apply(g.st, tx, ledger.BlockContext{Height: g.h, TimeUnixMs: g.now.UnixMilli()})
}

func (g *gov) must(sender string, kind func(*zkv1.TxBody)) {
	g.t.Helper()
	if err := g.send(sender, kind); err != nil {
		g.t.Fatalf("%s: %v", sender, err)
	}
}

func (g *gov) fails(sender string, kind func(*zkv1.TxBody), want error, msg string) {
	g.t.Helper()
	before, _ := g.st.Hash()
	err := g.send(sender, kind)
	if !errors.Is(err, want) || !strings.Contains(err.Error(), msg) {
		g.t.Fatalf("%s: got %v, want %v containing %q", sender, err, want, msg)
	}
	if after, _ := g.st.Hash(); after != before {
		g.t.Fatal("a rejected transaction changed the state")
	}
}

func pid(t *testing.T, a *zkv1.GovernanceAction) []byte {
	id, err := ledger.ProposalID(a)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestGovernanceThreshold(t *testing.T) {
	g := newGov(t, 0, "a1", "a2", "a3")
	if m := g.st.GovernanceThreshold(); m != 2 {
		t.Fatalf("threshold %d, want a majority of 3", m)
	}
	bank, _ := ledger.NewIdentity("bank")
	// One admin alone: none of the direct admin acts.
	g.fails("a1", ledger.RegisterParticipant("bank", zkv1.Role_ROLE_CONSUMER, bank.Public()), ledger.ErrPermission, "needs M-of-N approval")
	g.fails("a1", ledger.RevokeParticipant("a2"), ledger.ErrPermission, "needs M-of-N approval")
	g.fails("a1", ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("c"), VkSha256: h32("v"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}), ledger.ErrPermission, "needs M-of-N approval")

	act := ledger.ActRegisterParticipant("bank", zkv1.Role_ROLE_CONSUMER, bank.Public())
	id := pid(t, act)
	g.must("a1", ledger.ProposeAction(act))
	if _, ok := g.st.Participants["bank"]; ok {
		t.Fatal("one approval of two registered a participant")
	}
	// A governor approves once: again, or by proposing it again, is refused.
	g.fails("a1", ledger.ApproveProposal(id), ledger.ErrRejected, "already approved")
	g.fails("a1", ledger.ProposeAction(act), ledger.ErrRejected, "has approved")
	// The second approval applies it in the same transaction.
	g.must("a2", ledger.ApproveProposal(id))
	if p, ok := g.st.Participants["bank"]; !ok || p.Role != zkv1.Role_ROLE_CONSUMER {
		t.Fatal("the approved registration did not apply")
	}
	if len(g.st.Proposals) != 0 {
		t.Fatalf("applied proposal still open: %v", g.st.Proposals)
	}
	g.fails("a3", ledger.ApproveProposal(id), ledger.ErrRejected, "no open proposal")

	// Two governors proposing the same action name one proposal: the
	// second proposal is the second approval.
	c := &zkv1.RegisterCircuit{CircuitId: h32("c"), Name: "subject", VkSha256: h32("v"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}
	g.must("a2", ledger.ProposeAction(ledger.ActRegisterCircuit(c)))
	g.must("a3", ledger.ProposeAction(ledger.ActRegisterCircuit(c)))
	if len(g.st.Circuits) != 1 {
		t.Fatal("the circuit proposed by two governors was not registered")
	}

	// Revoking a governor takes two; afterwards two governors remain, and
	// a majority of two is two.
	g.must("a1", ledger.ProposeAction(ledger.ActRevokeParticipant("a3")))
	g.must("a2", ledger.ApproveProposal(pid(t, ledger.ActRevokeParticipant("a3"))))
	if !g.st.Participants["a3"].Revoked || g.st.GovernanceThreshold() != 2 {
		t.Fatalf("revocation: %+v, threshold %d", g.st.Participants["a3"], g.st.GovernanceThreshold())
	}
	g.fails("a3", ledger.ApproveProposal(id), ledger.ErrUnauthenticated, "revoked")
}

func TestGovernanceRefusals(t *testing.T) {
	g := newGov(t, 0, "a1", "a2", "a3")
	mallory, _ := ledger.NewIdentity("mallory")
	act := ledger.ActRegisterParticipant("mallory", zkv1.Role_ROLE_ADMIN, mallory.Public())
	// Not a governor: neither proposes nor approves.
	g.fails("holder", ledger.ProposeAction(act), ledger.ErrPermission, "not a governor")
	g.fails("node", ledger.ProposeAction(act), ledger.ErrPermission, "not a governor")
	g.must("a1", ledger.ProposeAction(act))
	g.fails("holder", ledger.ApproveProposal(pid(t, act)), ledger.ErrPermission, "not a governor")
	// Wrong actions: none, an invalid one, an unknown proposal.
	g.fails("a1", ledger.ProposeAction(&zkv1.GovernanceAction{}), ledger.ErrMalformed, "no governance action")
	g.fails("a1", ledger.ProposeAction(ledger.ActRegisterParticipant("holder", zkv1.Role_ROLE_HOLDER, mallory.Public())), ledger.ErrRejected, "exists")
	g.fails("a1", ledger.ProposeAction(ledger.ActRotateKey("holder", []byte{1, 2})), ledger.ErrRejected, "public_key")
	g.fails("a1", ledger.ProposeAction(ledger.ActRevokeParticipant("nobody")), ledger.ErrRejected, "no active participant")
	g.fails("a1", ledger.ApproveProposal(h32("nothing")), ledger.ErrRejected, "no open proposal")
	// Two proposals for one id: the first applied, the second no longer
	// applies when it reaches the threshold.
	other, _ := ledger.NewIdentity("mallory")
	act2 := ledger.ActRegisterParticipant("mallory", zkv1.Role_ROLE_CONSUMER, other.Public())
	g.must("a2", ledger.ProposeAction(act2))
	g.must("a2", ledger.ApproveProposal(pid(t, act)))
	g.fails("a3", ledger.ApproveProposal(pid(t, act2)), ledger.ErrRejected, "no longer applies")

	// The last governors: with an explicit threshold of 2, revoking one
	// of the two left is refused.
	g2 := newGov(t, 2, "a1", "a2")
	g2.fails("a1", ledger.ProposeAction(ledger.ActRevokeParticipant("a2")), ledger.ErrRejected, "would leave 1 governors")
	// And no governor revokes itself directly, even alone.
	g1 := newGov(t, 0, "a1")
	g1.fails("a1", ledger.RevokeParticipant("a1"), ledger.ErrRejected, "cannot revoke itself")
	g1.fails("a1", ledger.ProposeAction(ledger.ActRevokeParticipant("a1")), ledger.ErrRejected, "would leave 0 governors")
}

func TestGovernanceExpiry(t *testing.T) {
	g := newGov(t, 0, "a1", "a2", "a3")
	bank, _ := ledger.NewIdentity("bank")
	act := ledger.ActRegisterParticipant("bank", zkv1.Role_ROLE_CONSUMER, bank.Public())
	g.must("a1", ledger.ProposeAction(act))
	g.now = g.now.Add(ledger.ProposalLifetime*time.Millisecond + time.Second)
	g.fails("a2", ledger.ApproveProposal(pid(t, act)), ledger.ErrRejected, "expired")
	// Proposed again after expiry: a fresh proposal, the old approval gone.
	g.must("a2", ledger.ProposeAction(act))
	if p := g.st.Proposals[hex.EncodeToString(pid(t, act))]; len(p.Approvals) != 1 || p.Approvals[0] != "a2" {
		t.Fatalf("proposal after expiry: %+v", p)
	}
	g.must("a3", ledger.ApproveProposal(pid(t, act)))
	if _, ok := g.st.Participants["bank"]; !ok {
		t.Fatal("not registered")
	}
}

func TestRotationSelfOnly(t *testing.T) {
	// Even a lone admin (threshold 1) cannot re-key someone else directly.
	g := newGov(t, 0, "admin")
	fresh, _ := ledger.NewIdentity("holder")
	g.fails("admin", ledger.RotateKey("holder", fresh.Public()), ledger.ErrPermission, "rotates its own key")
	g.fails("other", ledger.RotateKey("holder", fresh.Public()), ledger.ErrPermission, "rotates its own key")
	g.must("holder", ledger.RotateKey("holder", fresh.Public()))
	g.ids["holder"] = fresh
	// With one governor a proposal applies at once: the recovery path for
	// a lost key.
	again, _ := ledger.NewIdentity("holder")
	g.must("admin", ledger.ProposeAction(ledger.ActRotateKey("holder", again.Public())))
	if !g.st.Participants["holder"].HadKey(again.Public()) || string(g.st.Participants["holder"].Key) != string(again.Public()) {
		t.Fatal("the governance rotation did not apply")
	}
	// With three governors it takes two.
	g3 := newGov(t, 0, "a1", "a2", "a3")
	g3.fails("a1", ledger.RotateKey("a2", fresh.Public()), ledger.ErrPermission, "rotates its own key")
	g3.must("a1", ledger.ProposeAction(ledger.ActRotateKey("a2", fresh.Public())))
	if string(g3.st.Participants["a2"].Key) == string(fresh.Public()) {
		t.Fatal("one governor re-keyed another")
	}
	g3.must("a3", ledger.ApproveProposal(pid(t, ledger.ActRotateKey("a2", fresh.Public()))))
	if string(g3.st.Participants["a2"].Key) != string(fresh.Public()) {
		t.Fatal("the approved rotation did not apply")
	}
}

func TestSetConfirmers(t *testing.T) {
	g := newGov(t, 0, "a1", "a2", "a3")
	c := &zkv1.RegisterCircuit{CircuitId: h32("c"), Name: "subject", VkSha256: h32("v"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}
	g.must("a1", ledger.ProposeAction(ledger.ActRegisterCircuit(c)))
	g.must("a2", ledger.ProposeAction(ledger.ActRegisterCircuit(c)))
	coll := ledger.CollectionID("holder/coll")
	g.must("holder", ledger.RegisterCollection(&zkv1.RegisterCollection{CollectionId: coll, Name: "holder/coll", SchemaHash: h32("s"), TreeDepth: 8, CircuitIds: [][]byte{h32("c")}, Confirmers: []string{"other", "node"}, ConfirmationsRequired: 2}))
	g.must("holder", ledger.AnchorRoot(&zkv1.Anchor{CollectionId: coll, Root: h32("r1"), Sequence: 1}))
	g.must("other", ledger.Confirm(&zkv1.ConfirmAnchor{CollectionId: coll, Sequence: 1, Root: h32("r1")}))
	// "node" is gone for good: the holder asks to need "other" alone.
	set := ledger.ActSetConfirmers(&zkv1.SetConfirmers{CollectionId: coll, Confirmers: []string{"other"}, ConfirmationsRequired: 1})
	g.fails("other", ledger.ProposeAction(set), ledger.ErrPermission, "only the collection's holder")
	g.fails("a1", ledger.ProposeAction(set), ledger.ErrPermission, "only the collection's holder")
	g.fails("holder", ledger.ProposeAction(ledger.ActSetConfirmers(&zkv1.SetConfirmers{CollectionId: coll, Confirmers: []string{"other"}, ConfirmationsRequired: 2})), ledger.ErrRejected, "confirmations required")
	g.must("holder", ledger.ProposeAction(set))
	g.fails("holder", ledger.ApproveProposal(pid(t, set)), ledger.ErrPermission, "not a governor")
	g.must("a1", ledger.ApproveProposal(pid(t, set)))
	if col := g.st.Collections[hex.EncodeToString(coll)]; col.Required != 2 || col.Latest != nil {
		t.Fatal("one governor changed the confirmers")
	}
	g.must("a3", ledger.ApproveProposal(pid(t, set)))
	col := g.st.Collections[hex.EncodeToString(coll)]
	if col.Required != 1 || len(col.Confirmers) != 1 || col.Latest == nil || col.Latest.Sequence != 1 || len(col.Pending) != 0 {
		t.Fatalf("after the change: %+v", col)
	}
}

// TestConfirmersDroppedKeepsUncounted (found in review): when a collection's
// rule changes to need no confirmation, an anchor that awaited its
// confirmations never counted and stays pending; new anchors count at once.
func TestConfirmersDroppedKeepsUncounted(t *testing.T) {
	g := newGov(t, 0, "a1", "a2", "a3")
	c := &zkv1.RegisterCircuit{CircuitId: h32("c"), Name: "subject", VkSha256: h32("v"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}
	g.must("a1", ledger.ProposeAction(ledger.ActRegisterCircuit(c)))
	g.must("a2", ledger.ProposeAction(ledger.ActRegisterCircuit(c)))
	coll := ledger.CollectionID("holder/coll")
	g.must("holder", ledger.RegisterCollection(&zkv1.RegisterCollection{CollectionId: coll, Name: "holder/coll", SchemaHash: h32("s"), TreeDepth: 8, CircuitIds: [][]byte{h32("c")}, Confirmers: []string{"other"}, ConfirmationsRequired: 1}))
	g.must("holder", ledger.AnchorRoot(&zkv1.Anchor{CollectionId: coll, Root: h32("r1"), Sequence: 1}))
	none := ledger.ActSetConfirmers(&zkv1.SetConfirmers{CollectionId: coll})
	g.must("holder", ledger.ProposeAction(none))
	g.must("a1", ledger.ApproveProposal(pid(t, none)))
	g.must("a2", ledger.ApproveProposal(pid(t, none)))
	col := g.st.Collections[hex.EncodeToString(coll)]
	if _, pending := col.Pending[1]; col.Required != 0 || !pending || col.Latest != nil {
		t.Fatalf("the unconfirmed anchor counts after the change: %+v", col)
	}
	g.must("holder", ledger.AnchorRoot(&zkv1.Anchor{CollectionId: coll, Root: h32("r2"), Sequence: 2, PreviousRoot: h32("r1")}))
	col = g.st.Collections[hex.EncodeToString(coll)]
	if _, pending := col.Pending[1]; col.Latest == nil || col.Latest.Sequence != 2 || !pending {
		t.Fatalf("after a new anchor: %+v", col)
	}
}

// TestHolderProposalsCannotStall (found in review): a holder's confirmer-set
// proposals do not take the governors' slots, a holder keeps at most two
// open, and a proposal that changes nothing is refused.
func TestHolderProposalsCannotStall(t *testing.T) {
	g := newGov(t, 0, "a1", "a2", "a3")
	c := &zkv1.RegisterCircuit{CircuitId: h32("c"), Name: "subject", VkSha256: h32("v"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}
	g.must("a1", ledger.ProposeAction(ledger.ActRegisterCircuit(c)))
	g.must("a2", ledger.ProposeAction(ledger.ActRegisterCircuit(c)))
	coll := ledger.CollectionID("holder/coll")
	g.must("holder", ledger.RegisterCollection(&zkv1.RegisterCollection{CollectionId: coll, Name: "holder/coll", SchemaHash: h32("s"), TreeDepth: 8, CircuitIds: [][]byte{h32("c")}, Confirmers: []string{"other", "node"}, ConfirmationsRequired: 2}))
	g.fails("holder", ledger.ProposeAction(ledger.ActSetConfirmers(&zkv1.SetConfirmers{CollectionId: coll, Confirmers: []string{"other", "node"}, ConfirmationsRequired: 2})), ledger.ErrRejected, "already")
	g.must("holder", ledger.ProposeAction(ledger.ActSetConfirmers(&zkv1.SetConfirmers{CollectionId: coll, Confirmers: []string{"other"}, ConfirmationsRequired: 1})))
	g.must("holder", ledger.ProposeAction(ledger.ActSetConfirmers(&zkv1.SetConfirmers{CollectionId: coll, Confirmers: []string{"node"}, ConfirmationsRequired: 1})))
	g.fails("holder", ledger.ProposeAction(ledger.ActSetConfirmers(&zkv1.SetConfirmers{CollectionId: coll, Confirmers: []string{"other"}, ConfirmationsRequired: 0})), ledger.ErrRejected, "proposals open")
	// The governors' slots are untouched: a governor still proposes.
	rid, _ := ledger.NewIdentity("bank")
	g.must("a1", ledger.ProposeAction(ledger.ActRegisterParticipant("bank", zkv1.Role_ROLE_CONSUMER, rid.Public())))
}

// A validator's node rotates its own key: blocks up to the rotation are
// signed with the old key, later ones with the new; the chain verifies
// across it, and the node reopens with its new key only.
func TestNodeKeyRotationVerifies(t *testing.T) {
	dir := t.TempDir()
	n := newNet(t, dir)
	n.join("bank", zkv1.Role_ROLE_CONSUMER)
	fresh, _ := ledger.NewIdentity("node")
	var adopted *ledger.Identity
	n.l.Close()
	l, err := ledger.Open(dir, n.node, ledger.Options{OnNodeKey: func(id *ledger.Identity) { adopted = id }})
	if err != nil {
		t.Fatal(err)
	}
	n.l = l
	if err := l.SetNextNode(fresh); err != nil {
		t.Fatal(err)
	}
	n.must("node", ledger.RotateKey("node", fresh.Public()))
	n.ids["node"] = fresh
	rotated := l.Head().Height
	n.join("shop", zkv1.Role_ROLE_CONSUMER)
	if adopted != fresh || !l.NodeKey().Equal(fresh.Public()) {
		t.Fatal("the ledger did not adopt the new node key")
	}
	blk, _, err := l.Block(rotated)
	if err != nil || !ledger.BlockSignedBy(n.node.Public(), blk) {
		t.Fatal("the rotating block is not signed with the old key")
	}
	blk, _, err = l.Block(rotated + 1)
	if err != nil || !ledger.BlockSignedBy(fresh.Public(), blk) {
		t.Fatal("the block after the rotation is not signed with the new key")
	}
	p := l.State().Participants["node"]
	if !p.BlockKeyAt(rotated).Equal(n.node.Public()) || !p.BlockKeyAt(rotated+1).Equal(fresh.Public()) || !p.BlockKeyAt(1).Equal(n.node.Public()) {
		t.Fatal("key history")
	}
	if err := l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := ledger.Open(dir, n.node, ledger.Options{}); err == nil {
		t.Fatal("opened with the replaced key")
	}
	// A node stopped before it stored its new key still opens, with NextNode.
	l, err = ledger.Open(dir, n.node, ledger.Options{NextNode: fresh})
	if err != nil {
		t.Fatal(err)
	}
	n.l = l
	n.join("shop2", zkv1.Role_ROLE_CONSUMER)
	if err := l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	l.Close()
	ro, err := ledger.Open(dir, nil, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// A validator's consensus key is apart from its ledger key: required for a
// validator under a consensus engine, refused for other roles and without
// an engine, never one a validator holds or held; Validators are the
// consensus keys, and only RotateConsensusKey changes them.
func TestConsensusKeys(t *testing.T) {
	key := func(id string) *ledger.Identity { k, _ := ledger.NewIdentity(id); return k }
	c1, c2, c3 := key("c1"), key("c2"), key("c3")
	g := &gov{t: t, ids: map[string]*ledger.Identity{}, now: time.UnixMilli(1_700_000_000_000)}
	gen := &ledger.Genesis{Development: true, Origin: origin}
	for id, role := range map[string]zkv1.Role{"a1": zkv1.Role_ROLE_ADMIN, "holder": zkv1.Role_ROLE_HOLDER, "v1": zkv1.Role_ROLE_VALIDATOR} {
		g.ids[id] = key(id)
		p := ledger.Participant{ID: id, Role: role, Key: g.ids[id].Public()}
		if role == zkv1.Role_ROLE_VALIDATOR {
			p.ConsensusKey = c1.Public()
		}
		gen.Participants = append(gen.Participants, p)
	}
	st, err := gen.State()
	if err != nil {
		t.Fatal(err)
	}
	g.st = st
	v2 := key("v2")
	g.ids["v2"] = v2
	g.fails("a1", ledger.RegisterParticipant("v2", zkv1.Role_ROLE_VALIDATOR, v2.Public()), ledger.ErrRejected, "needs a 32-byte consensus_public_key")
	g.fails("a1", ledger.RegisterValidator("v2", v2.Public(), []byte{1, 2}), ledger.ErrRejected, "consensus_public_key")
	g.fails("a1", ledger.RegisterValidator("v2", v2.Public(), c1.Public()), ledger.ErrRejected, "holds or held this consensus key")
	bad := &zkv1.RegisterParticipant{Id: "bank", Role: zkv1.Role_ROLE_CONSUMER, PublicKey: key("bank").Public(), ConsensusPublicKey: c2.Public()}
	g.fails("a1", func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_RegisterParticipant{RegisterParticipant: bad} }, ledger.ErrRejected, "only for a validator")
	g.must("a1", ledger.RegisterValidator("v2", v2.Public(), c2.Public()))
	vals := g.st.Validators()
	if len(vals) != 2 || !vals["v1"].Equal(c1.Public()) || !vals["v2"].Equal(c2.Public()) {
		t.Fatalf("validators %x", vals)
	}

	// A ledger key rotation leaves the consensus key alone.
	fresh := key("v1")
	g.must("v1", ledger.RotateKey("v1", fresh.Public()))
	g.ids["v1"] = fresh
	if !g.st.Validators()["v1"].Equal(c1.Public()) {
		t.Fatal("a ledger key rotation changed the consensus key")
	}
	// A consensus key rotation: the validator's own act, or M-of-N.
	g.fails("a1", ledger.RotateConsensusKey("v1", c3.Public()), ledger.ErrPermission, "rotates its own key")
	g.fails("holder", ledger.RotateConsensusKey("holder", c3.Public()), ledger.ErrRejected, "has no consensus key")
	g.fails("v1", ledger.RotateConsensusKey("v1", c2.Public()), ledger.ErrRejected, "holds or held")
	g.fails("v1", ledger.RotateConsensusKey("v1", c1.Public()), ledger.ErrRejected, "holds or held")
	g.must("v1", ledger.RotateConsensusKey("v1", c3.Public()))
	p := g.st.Participants["v1"]
	if !g.st.Validators()["v1"].Equal(c3.Public()) || !p.HadConsensusKey(c1.Public()) || p.ConsensusKeyFrom != g.h || !p.BlockKeyAt(g.h+1).Equal(fresh.Public()) {
		t.Fatalf("after the consensus key rotation: %+v", p)
	}
	g.fails("a1", ledger.RegisterValidator("v3", key("v3").Public(), c1.Public()), ledger.ErrRejected, "holds or held this consensus key")
	c4 := key("c4")
	g.must("a1", ledger.ProposeAction(ledger.ActRotateConsensusKey("v2", c4.Public())))
	if !g.st.Validators()["v2"].Equal(c4.Public()) {
		t.Fatal("the approved consensus key rotation did not apply")
	}
	g.must("a1", ledger.RevokeParticipant("v2"))
	g.fails("a1", ledger.RevokeParticipant("v1"), ledger.ErrRejected, "last validator")

	// Without a consensus engine: no consensus keys, and the single node's
	// validator is still the last one.
	s := newGov(t, 1, "a1")
	s.fails("a1", ledger.RegisterValidator("n2", key("n2").Public(), c2.Public()), ledger.ErrRejected, "only for a validator under a consensus engine")
	s.fails("a1", ledger.RevokeParticipant("node"), ledger.ErrRejected, "last validator")
	if len(s.st.Validators()) != 0 {
		t.Fatal("consensus validators without an engine")
	}
}
