package ledger_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

const origin = "test.zkshare.dev/ledger"

// net is a test ledger with its genesis identities and a sender helper
// that tracks sequence numbers.
type net struct {
	t     testing.TB
	l     *ledger.Ledger
	dir   string
	admin *ledger.Identity
	node  *ledger.Identity
	ids   map[string]*ledger.Identity
	mu    sync.Mutex
}

func genesis(t testing.TB, admin, node *ledger.Identity) *ledger.Genesis {
	return &ledger.Genesis{Development: true, Origin: origin, TimeUnixMs: time.Now().UnixMilli(), Participants: []ledger.Participant{
		{ID: admin.ID, Role: zkv1.Role_ROLE_ADMIN, Key: admin.Public()},
		{ID: node.ID, Role: zkv1.Role_ROLE_VALIDATOR, Key: node.Public()},
	}}
}

func newNet(t testing.TB, dir string) *net {
	t.Helper()
	admin, _ := ledger.NewIdentity("admin")
	node, _ := ledger.NewIdentity("node")
	if err := ledger.Init(dir, genesis(t, admin, node)); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(dir, node, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := &net{t: t, l: l, dir: dir, admin: admin, node: node, ids: map[string]*ledger.Identity{"admin": admin, "node": node}}
	t.Cleanup(func() { n.l.Close() })
	return n
}

// tx signs the next transaction of sender.
func (n *net) tx(sender string, kind func(*zkv1.TxBody)) *ledger.Tx {
	n.t.Helper()
	n.mu.Lock()
	id := n.ids[sender]
	n.mu.Unlock()
	// Each sender submits one transaction at a time, so the committed
	// state knows its next sequence number.
	seq := n.l.State().Participants[sender].Sequence + 1
	tx, err := ledger.NewTx(n.l.Chain(), id, seq, time.Now(), kind)
	if err != nil {
		n.t.Fatal(err)
	}
	return tx
}

func (n *net) submit(sender string, kind func(*zkv1.TxBody)) (*ledger.Receipt, error) {
	n.t.Helper()
	return n.l.SubmitTx(context.Background(), n.tx(sender, kind))
}

func (n *net) must(sender string, kind func(*zkv1.TxBody)) *ledger.Receipt {
	n.t.Helper()
	r, err := n.submit(sender, kind)
	if err != nil {
		n.t.Fatal(err)
	}
	return r
}

// join registers a participant with a fresh key.
func (n *net) join(id string, role zkv1.Role) *ledger.Identity {
	n.t.Helper()
	ident, _ := ledger.NewIdentity(id)
	n.must("admin", ledger.RegisterParticipant(id, role, ident.Public()))
	n.mu.Lock()
	n.ids[id] = ident
	n.mu.Unlock()
	return ident
}

func h32(s string) []byte { b := sha256.Sum256([]byte(s)); return b[:] }

// benefitsID is the id of "agency/benefits", the collection setup registers.
var benefitsID = ledger.CollectionID("agency/benefits")

// setup registers a holder, a consumer, a circuit and a collection.
func (n *net) setup(confirmers []string, required uint32) {
	n.t.Helper()
	n.join("agency", zkv1.Role_ROLE_HOLDER)
	n.join("bank", zkv1.Role_ROLE_CONSUMER)
	n.must("admin", ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("subject"), Name: "subject", VkSha256: h32("vk"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}))
	for _, c := range confirmers {
		n.join(c, zkv1.Role_ROLE_HOLDER)
	}
	n.must("agency", ledger.RegisterCollection(&zkv1.RegisterCollection{
		CollectionId: benefitsID, Name: "agency/benefits", SchemaHash: h32("schema"), TreeDepth: 32,
		CircuitIds: [][]byte{h32("subject")}, Confirmers: confirmers, ConfirmationsRequired: required,
	}))
}

func anchor(seq uint64, root, prev []byte) func(*zkv1.TxBody) {
	return ledger.AnchorRoot(&zkv1.Anchor{CollectionId: benefitsID, Root: root, RecordCount: seq * 10, Sequence: seq, PreviousRoot: prev})
}

func TestFlowProofsAndQueries(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.setup(nil, 0)
	cp1, head1, err := n.l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	r1 := n.must("agency", anchor(1, h32("root1"), nil))
	r2 := n.must("agency", anchor(2, h32("root2"), h32("root1")))
	audit := n.must("agency", ledger.AuditEntry(&zkv1.Audit{CollectionId: benefitsID, Commitment: h32("opening")}))

	latest, err := n.l.LatestAnchor(benefitsID)
	if err != nil || latest.Sequence != 2 || !bytes.Equal(latest.Root, h32("root2")) {
		t.Fatalf("latest anchor %+v, %v", latest, err)
	}
	at, err := n.l.AnchorAt(benefitsID, r1.Height)
	if err != nil || at.Tx.Body.GetAnchor().GetSequence() != 1 {
		t.Fatalf("anchor at height %d: %+v, %v", r1.Height, at, err)
	}
	if _, err := n.l.AnchorAt(benefitsID, r1.Height-1); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("anchor before the first: %v", err)
	}

	// Inclusion of the second anchor under the current checkpoint, offline.
	cp2, head2, err := n.l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	e, err := n.l.Transaction(r2.Hash[:])
	if err != nil || e.LogIndex != r2.LogIndex {
		t.Fatalf("transaction by hash: %+v, %v", e, err)
	}
	p, err := n.l.InclusionProof(e.LogIndex, head2.LogSize)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ledger.NoteVerifier(origin, n.node.Public())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.VerifyInclusion(cp2, origin, v, e.Tx.Raw, e.LogIndex, p); err != nil {
		t.Fatalf("inclusion: %v", err)
	}
	// Negative: another transaction, another index, a tampered checkpoint, another key.
	other, _ := n.l.Transaction(r1.Hash[:])
	if _, err := ledger.VerifyInclusion(cp2, origin, v, other.Tx.Raw, e.LogIndex, p); err == nil {
		t.Fatal("inclusion verified for another transaction")
	}
	if _, err := ledger.VerifyInclusion(cp2, origin, v, e.Tx.Raw, e.LogIndex-1, p); err == nil {
		t.Fatal("inclusion verified at another index")
	}
	if _, err := ledger.VerifyInclusion(bytes.Replace(cp2, []byte("\n"+fmt.Sprint(head2.LogSize)+"\n"), []byte("\n"+fmt.Sprint(head2.LogSize+1)+"\n"), 1), origin, v, e.Tx.Raw, e.LogIndex, p); err == nil {
		t.Fatal("inclusion verified under a tampered checkpoint")
	}
	stranger, _ := ledger.NewIdentity("node")
	sv, _ := ledger.NoteVerifier(origin, stranger.Public())
	if _, err := ledger.VerifyInclusion(cp2, origin, sv, e.Tx.Raw, e.LogIndex, p); err == nil {
		t.Fatal("checkpoint accepted under another key")
	}

	// Consistency between the two checkpoints.
	cproof, err := n.l.ConsistencyProof(head1.LogSize, head2.LogSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyConsistency(cp1, cp2, origin, v, cproof); err != nil {
		t.Fatalf("consistency: %v", err)
	}
	if len(cproof) > 0 {
		cproof[0][0] ^= 1
		if err := ledger.VerifyConsistency(cp1, cp2, origin, v, cproof); err == nil {
			t.Fatal("tampered consistency proof verified")
		}
	}

	// Audit entries by collection (the ledger cannot tell who asked); none for others.
	for _, q := range []struct {
		coll []byte
		want int
	}{{benefitsID, 1}, {h32("other"), 0}} {
		got, err := n.l.AuditEntries(q.coll, 0, 10)
		if err != nil || len(got) != q.want {
			t.Fatalf("audit entries %x: %d, %v", q.coll, len(got), err)
		}
		if q.want == 1 && got[0].Tx.Hash != audit.Hash {
			t.Fatal("audit entry is not the audit transaction")
		}
	}
	if got := n.l.Participants(); len(got) != 4 {
		t.Fatalf("%d participants", len(got))
	}
	if len(n.l.Collections()) != 1 || len(n.l.Circuits()) != 1 {
		t.Fatal("collections or circuits missing")
	}
	hdrs, err := n.l.Blocks(1, n.l.Head().Height, 100)
	if err != nil || uint64(len(hdrs)) != n.l.Head().Height {
		t.Fatalf("blocks: %d, %v", len(hdrs), err)
	}
	if err := n.l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestConfirmations(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.setup([]string{"ministry", "auditor", "court"}, 2)
	n.must("agency", anchor(1, h32("r1"), nil))
	if _, err := n.l.LatestAnchor(benefitsID); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("unconfirmed anchor counts: %v", err)
	}
	confirm := func(root string) func(*zkv1.TxBody) {
		return ledger.Confirm(&zkv1.ConfirmAnchor{CollectionId: benefitsID, Sequence: 1, Root: h32(root)})
	}
	if _, err := n.submit("bank", confirm("r1")); !errors.Is(err, ledger.ErrPermission) {
		t.Fatalf("confirmation by a non-confirmer: %v", err)
	}
	if _, err := n.submit("ministry", confirm("other")); !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("confirmation of another root: %v", err)
	}
	n.must("ministry", confirm("r1"))
	if _, err := n.submit("ministry", confirm("r1")); !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("second confirmation by one confirmer: %v", err)
	}
	if _, err := n.l.LatestAnchor(benefitsID); err == nil {
		t.Fatal("one of two confirmations made the anchor count")
	}
	n.must("court", confirm("r1"))
	a, err := n.l.LatestAnchor(benefitsID)
	if err != nil || a.Sequence != 1 || len(a.Confirmations) != 2 {
		t.Fatalf("confirmed anchor: %+v, %v", a, err)
	}
	if err := n.l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestRejections(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.setup(nil, 0)
	n.must("agency", anchor(1, h32("r1"), nil))
	mallory, _ := ledger.NewIdentity("mallory")
	stolen, _ := ledger.NewIdentity("agency") // right id, wrong key

	signed := func(id *ledger.Identity, seq uint64, at time.Time, org string, kind func(*zkv1.TxBody)) *ledger.Tx {
		chain := n.l.Chain()
		chain.Origin = org
		tx, err := ledger.NewTx(chain, id, seq, at, kind)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	next := func(id string) uint64 { return n.l.State().Participants[id].Sequence + 1 }
	register := ledger.RegisterParticipant("eve", zkv1.Role_ROLE_HOLDER, mallory.Public())
	replay := n.tx("admin", ledger.RegisterParticipant("x1", zkv1.Role_ROLE_CONSUMER, mallory.Public()))
	if _, err := n.l.SubmitTx(context.Background(), replay); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tx   *ledger.Tx
		want error
	}{
		{"unknown sender", signed(mallory, 1, time.Now(), origin, register), ledger.ErrUnauthenticated},
		{"bad signature", signed(stolen, next("agency"), time.Now(), origin, anchor(2, h32("r2"), h32("r1"))), ledger.ErrUnauthenticated},
		{"replay", replay, ledger.ErrSequence},
		{"sequence gap", signed(n.admin, next("admin")+1, time.Now(), origin, register), ledger.ErrSequence},
		{"other ledger", signed(n.admin, next("admin"), time.Now(), "elsewhere", register), ledger.ErrRejected},
		{"clock skew", signed(n.admin, next("admin"), time.Now().Add(time.Hour), origin, register), ledger.ErrRejected},
		{"holder registers participant", signed(n.ids["agency"], next("agency"), time.Now(), origin, register), ledger.ErrPermission},
		{"duplicate participant", signed(n.admin, next("admin"), time.Now(), origin, ledger.RegisterParticipant("bank", zkv1.Role_ROLE_CONSUMER, mallory.Public())), ledger.ErrRejected},
		{"short key", signed(n.admin, next("admin"), time.Now(), origin, ledger.RegisterParticipant("eve", zkv1.Role_ROLE_HOLDER, []byte{1, 2})), ledger.ErrRejected},
		{"bad id", signed(n.admin, next("admin"), time.Now(), origin, ledger.RegisterParticipant("Eve!", zkv1.Role_ROLE_HOLDER, mallory.Public())), ledger.ErrRejected},
		{"no role", signed(n.admin, next("admin"), time.Now(), origin, ledger.RegisterParticipant("eve", zkv1.Role_ROLE_UNSPECIFIED, mallory.Public())), ledger.ErrRejected},
		{"consumer anchors", signed(n.ids["bank"], next("bank"), time.Now(), origin, anchor(2, h32("r2"), h32("r1"))), ledger.ErrPermission},
		{"anchor sequence", signed(n.ids["agency"], next("agency"), time.Now(), origin, anchor(3, h32("r2"), h32("r1"))), ledger.ErrRejected},
		{"anchor forks", signed(n.ids["agency"], next("agency"), time.Now(), origin, anchor(2, h32("r2"), h32("rX"))), ledger.ErrRejected},
		{"short root", signed(n.ids["agency"], next("agency"), time.Now(), origin, anchor(2, []byte{1}, h32("r1"))), ledger.ErrRejected},
		{"unknown collection", signed(n.ids["agency"], next("agency"), time.Now(), origin, ledger.AnchorRoot(&zkv1.Anchor{CollectionId: h32("nope"), Root: h32("r"), Sequence: 1})), ledger.ErrRejected},
		{"collection with unknown circuit", signed(n.ids["agency"], next("agency"), time.Now(), origin, ledger.RegisterCollection(&zkv1.RegisterCollection{CollectionId: ledger.CollectionID("agency/c2"), Name: "agency/c2", SchemaHash: h32("s"), TreeDepth: 32, CircuitIds: [][]byte{h32("nope")}})), ledger.ErrRejected},
		{"collection registered twice", signed(n.ids["agency"], next("agency"), time.Now(), origin, ledger.RegisterCollection(&zkv1.RegisterCollection{CollectionId: benefitsID, Name: "agency/benefits", SchemaHash: h32("s"), TreeDepth: 32, CircuitIds: [][]byte{h32("subject")}})), ledger.ErrRejected},
		{"circuit by holder", signed(n.ids["agency"], next("agency"), time.Now(), origin, ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("c"), VkSha256: h32("v"), Setup: zkv1.SetupKind_SETUP_KIND_DEV})), ledger.ErrPermission},
		{"audit by consumer", signed(n.ids["bank"], next("bank"), time.Now(), origin, ledger.AuditEntry(&zkv1.Audit{CollectionId: benefitsID, Commitment: h32("c")})), ledger.ErrPermission},
		{"audit short commitment", signed(n.ids["agency"], next("agency"), time.Now(), origin, ledger.AuditEntry(&zkv1.Audit{CollectionId: benefitsID, Commitment: []byte{1}})), ledger.ErrRejected},
		{"audit of an unknown collection", signed(n.ids["agency"], next("agency"), time.Now(), origin, ledger.AuditEntry(&zkv1.Audit{CollectionId: h32("nope"), Commitment: h32("c")})), ledger.ErrRejected},
		{"admin revokes itself", signed(n.admin, next("admin"), time.Now(), origin, ledger.RevokeParticipant("admin")), ledger.ErrRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := n.l.State().Hash()
			height := n.l.Head().Height
			_, err := n.l.SubmitTx(context.Background(), tc.tx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			after, _ := n.l.State().Hash()
			if before != after || n.l.Head().Height != height {
				t.Fatal("a rejected transaction changed the ledger")
			}
		})
	}
	if err := n.l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestReplayAcrossLedgers: two ledgers with one origin string and the same
// genesis participants (a fixed default origin, a copied genesis file with
// another start time) are still two ledgers: a transaction signed for one
// is refused by the other.
func TestReplayAcrossLedgers(t *testing.T) {
	admin, _ := ledger.NewIdentity("admin")
	node, _ := ledger.NewIdentity("node")
	open := func(g *ledger.Genesis) *ledger.Ledger {
		dir := t.TempDir()
		if err := ledger.Init(dir, g); err != nil {
			t.Fatal(err)
		}
		l, err := ledger.Open(dir, node, ledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	ga := genesis(t, admin, node)
	gb := genesis(t, admin, node)
	gb.TimeUnixMs = ga.TimeUnixMs + 1
	a, b := open(ga), open(gb)
	if a.Origin() != b.Origin() || a.Chain() == b.Chain() {
		t.Fatalf("chains %+v and %+v", a.Chain(), b.Chain())
	}
	consumer, _ := ledger.NewIdentity("bank")
	tx, err := ledger.NewTx(a.Chain(), admin, 1, time.Now(), ledger.RegisterParticipant("bank", zkv1.Role_ROLE_CONSUMER, consumer.Public()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Submit(context.Background(), tx.Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Submit(context.Background(), tx.Raw); !errors.Is(err, ledger.ErrUnauthenticated) {
		t.Fatalf("replay on another ledger with the same origin: got %v, want ErrUnauthenticated", err)
	}
	if b.Head().Height != 0 {
		t.Fatal("the replayed transaction changed the other ledger")
	}
	if err := a.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestFinalizeConsecutiveHeights: under a consensus engine the ledger
// takes heights in order; a gap, a repeat or a step back is refused.
func TestFinalizeConsecutiveHeights(t *testing.T) {
	admin, _ := ledger.NewIdentity("admin")
	node, _ := ledger.NewIdentity("node")
	dir := t.TempDir()
	if err := ledger.Init(dir, genesis(t, admin, node)); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(dir, node, ledger.Options{Broadcast: func(context.Context, []byte) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	now := time.Now().UnixMilli()
	finalize := func(h uint64) error {
		_, _, err := l.Finalize(h, now, "node", nil)
		if err == nil {
			err = l.Commit()
		}
		return err
	}
	for _, h := range []uint64{5, 6, 7} {
		if err := finalize(h); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
	}
	for _, h := range []uint64{0, 7, 6, 9} {
		if err := finalize(h); err == nil || !strings.Contains(err.Error(), "consecutive") {
			t.Fatalf("height %d after 7: %v", h, err)
		}
	}
	if got, _ := l.ConsensusHead(); got != 7 {
		t.Fatalf("consensus height %d after refusals", got)
	}
	// A finalized height not yet committed may be finalized again (replay after a crash).
	if _, _, err := l.Finalize(8, now, "node", nil); err != nil {
		t.Fatal(err)
	}
	if err := finalize(8); err != nil {
		t.Fatal(err)
	}
}

// TestTipPublishedTogether: readers racing the writer never see a state
// ahead of its head, nor a transaction found whose inclusion the head
// cannot prove.
func TestTipPublishedTogether(t *testing.T) {
	const senders, per = 4, 40
	l, chains := benchLedger(t, senders, per)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, chain := range chains {
		wg.Go(func() {
			for _, tx := range chain {
				if _, err := l.SubmitTx(context.Background(), tx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Go(func() {
			chain := chains[r]
			for i := 0; ; {
				select {
				case <-done:
					return
				default:
				}
				if st, h := l.Tip(); st.Height != h.Height {
					t.Errorf("tip: state at height %d, head at %d", st.Height, h.Height)
					return
				}
				if st := l.State(); st.Height > l.Head().Height {
					t.Errorf("state at height %d ahead of its head", st.Height)
					return
				}
				if i == len(chain) {
					continue
				}
				e, err := l.Transaction(chain[i].Hash[:])
				if errors.Is(err, ledger.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := l.InclusionProof(e.LogIndex, l.Head().LogSize); err != nil {
					t.Errorf("transaction %d found, but not in the head's log: %v", e.LogIndex, err)
					return
				}
				i++
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
}

// TestInitRefusesReservedOrigin: a checkpoint's signed text starts with
// the origin, so no origin may start like a block's or a transaction's
// signed bytes.
func TestInitRefusesReservedOrigin(t *testing.T) {
	admin, _ := ledger.NewIdentity("admin")
	node, _ := ledger.NewIdentity("node")
	for _, o := range []string{"zkshare/tx/v1", "zkshare/block/v1", "zkshare/anything"} {
		g := genesis(t, admin, node)
		g.Origin = o
		if err := ledger.Init(t.TempDir(), g); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("origin %q: %v", o, err)
		}
	}
}

func TestRotateAndRevoke(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.setup(nil, 0)
	old := n.ids["agency"]
	fresh, _ := ledger.NewIdentity("agency")
	n.must("agency", ledger.RotateKey("agency", fresh.Public()))
	n.ids["agency"] = fresh
	if _, err := n.l.SubmitTx(context.Background(), mustTx(t, n.l.Chain(), old, n.l.State().Participants["agency"].Sequence+1, anchor(1, h32("r1"), nil))); !errors.Is(err, ledger.ErrUnauthenticated) {
		t.Fatalf("old key after rotation: %v", err)
	}
	n.must("agency", anchor(1, h32("r1"), nil))
	n.must("admin", ledger.RevokeParticipant("agency"))
	if _, err := n.submit("agency", anchor(2, h32("r2"), h32("r1"))); !errors.Is(err, ledger.ErrUnauthenticated) {
		t.Fatalf("revoked sender: %v", err)
	}
	if err := n.l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func mustTx(t *testing.T, chain ledger.Chain, id *ledger.Identity, seq uint64, kind func(*zkv1.TxBody)) *ledger.Tx {
	t.Helper()
	tx, err := ledger.NewTx(chain, id, seq, time.Now(), kind)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestMalformed(t *testing.T) {
	n := newNet(t, t.TempDir())
	good := n.tx("admin", ledger.RevokeParticipant("node")).Raw
	for name, raw := range map[string][]byte{
		"empty":       nil,
		"garbage":     []byte("not a transaction"),
		"truncated":   good[:len(good)-3],
		"oversized":   make([]byte, ledger.MaxTxBytes+1),
		"trailing":    append(bytes.Clone(good), 0x08, 0x01), // an unknown field 1 again: not canonical
		"no kind":     mustRaw(t, &zkv1.TxBody{Origin: origin, Sender: "admin", Sequence: 1}),
		"duplicated":  append(bytes.Clone(good), good...),
		"unknown tag": append(bytes.Clone(good), 0x78, 0x01),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := n.l.Submit(context.Background(), raw); !errors.Is(err, ledger.ErrMalformed) {
				t.Fatalf("got %v", err)
			}
		})
	}
	if n.l.Head().Height != 0 {
		t.Fatal("malformed input changed the ledger")
	}
}

// TestNestedUnknownFields: a field this build does not know is refused
// inside a kind message too, not only at the top of the body.
func TestNestedUnknownFields(t *testing.T) {
	n := newNet(t, t.TempDir())
	n.setup(nil, 0)
	// Field 99, varint 1: unknown to every ledger message.
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 1)
	with := func(m proto.Message) proto.Message { m.ProtoReflect().SetUnknown(unknown); return m }
	for _, tc := range []struct {
		name, sender string
		kind         func(*zkv1.TxBody)
	}{
		{"anchor", "agency", func(b *zkv1.TxBody) {
			b.Kind = &zkv1.TxBody_Anchor{Anchor: with(&zkv1.Anchor{CollectionId: benefitsID, Root: h32("r1"), RecordCount: 10, Sequence: 1}).(*zkv1.Anchor)}
		}},
		{"register collection", "agency", func(b *zkv1.TxBody) {
			b.Kind = &zkv1.TxBody_RegisterCollection{RegisterCollection: with(&zkv1.RegisterCollection{CollectionId: ledger.CollectionID("agency/c2"), Name: "agency/c2", SchemaHash: h32("s"), TreeDepth: 32, CircuitIds: [][]byte{h32("subject")}}).(*zkv1.RegisterCollection)}
		}},
		{"revoke", "admin", func(b *zkv1.TxBody) {
			b.Kind = &zkv1.TxBody_RevokeParticipant{RevokeParticipant: with(&zkv1.RevokeParticipant{Id: "bank"}).(*zkv1.RevokeParticipant)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			height := n.l.Head().Height
			tx, err := ledger.NewTx(n.l.Chain(), n.ids[tc.sender], n.l.State().Participants[tc.sender].Sequence+1, time.Now(), tc.kind)
			if err == nil {
				_, err = n.l.Submit(context.Background(), tx.Raw)
			}
			if !errors.Is(err, ledger.ErrMalformed) {
				t.Fatalf("nested unknown field: got %v, want ErrMalformed", err)
			}
			if n.l.Head().Height != height {
				t.Fatal("a transaction with a nested unknown field changed the ledger")
			}
		})
	}
	// The same anchor without the unknown field is accepted.
	n.must("agency", anchor(1, h32("r1"), nil))
}

func mustRaw(t *testing.T, body *zkv1.TxBody) []byte {
	b, err := ledger.MarshalForTest(&zkv1.Tx{Body: ledger.MustMarshalForTest(body), Signature: make([]byte, 64)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConcurrentSubmitters(t *testing.T) {
	n := newNet(t, t.TempDir())
	const senders, each = 16, 20
	for i := range senders {
		n.join(fmt.Sprintf("c%02d", i), zkv1.Role_ROLE_CONSUMER)
	}
	var wg sync.WaitGroup
	errs := make(chan error, senders*each)
	for i := range senders {
		id := fmt.Sprintf("c%02d", i)
		wg.Go(func() {
			for range each { // a consumer may rotate its own key
				fresh, _ := ledger.NewIdentity(id)
				if _, err := n.submit(id, ledger.RotateKey(id, fresh.Public())); err != nil {
					errs <- err
					return
				}
				n.mu.Lock()
				n.ids[id] = fresh
				n.mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := n.l.Head().LogSize; got != senders+senders*each {
		t.Fatalf("log size %d", got)
	}
	if err := n.l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestReopenAndTamper(t *testing.T) {
	dir := t.TempDir()
	n := newNet(t, dir)
	n.setup(nil, 0)
	r := n.must("agency", anchor(1, h32("r1"), nil))
	head := n.l.Head()
	n.l.Close()

	l, err := ledger.Open(dir, n.node, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Head().Height != head.Height || !bytes.Equal(l.Head().LogRoot, head.LogRoot) {
		t.Fatal("head changed across reopen")
	}
	if _, err := l.Transaction(r.Hash[:]); err != nil {
		t.Fatal(err)
	}
	if err := l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Open(dir, n.node, ledger.Options{}); err == nil {
		t.Fatal("second open of one directory succeeded")
	}
	l.Close()

	// Flip a byte of a transaction inside block 2: the chain no longer verifies.
	if err := ledger.TamperBlockForTest(dir, 2); err != nil {
		t.Fatal(err)
	}
	ro, err := ledger.Open(dir, nil, ledger.Options{})
	if err != nil {
		t.Fatal(err) // the header chain is intact; only a full verify sees the change
	}
	defer ro.Close()
	err = ro.Verify(context.Background(), nil)
	var bb *ledger.BadBlockError
	if !errors.As(err, &bb) || bb.Height != 2 {
		t.Fatalf("verify after tampering: %v", err)
	}
}

func FuzzDecodeTx(f *testing.F) {
	admin, _ := ledger.NewIdentity("admin")
	tx, _ := ledger.NewTx(ledger.Chain{Origin: origin}, admin, 1, time.Unix(0, 0), ledger.RevokeParticipant("x"))
	f.Add(tx.Raw)
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := ledger.DecodeTx(raw)
		if err != nil {
			return
		}
		again, err := ledger.MarshalForTest(tx.Body)
		if err != nil {
			t.Fatal(err)
		}
		if tx2, err := ledger.DecodeTx(raw); err != nil || tx2.Hash != tx.Hash || len(again) == 0 {
			t.Fatal("decoding is not stable")
		}
	})
}

// FuzzApply signs arbitrary transaction bodies with a real key, so that
// fuzzing reaches every rule of Apply: it must return an error or apply,
// never panic, and a rejected transaction must leave the state unchanged.
func FuzzApply(f *testing.F) {
	admin, holder := chainKey("admin", 0), chainKey("agency", 0)
	base := ledger.NewState(origin, []ledger.Participant{
		{ID: "admin", Role: zkv1.Role_ROLE_ADMIN, Key: admin.Public()},
		{ID: "agency", Role: zkv1.Role_ROLE_HOLDER, Key: holder.Public()},
	})
	base.Development = true
	for _, kind := range []func(*zkv1.TxBody){
		ledger.RegisterParticipant("x", zkv1.Role_ROLE_CONSUMER, holder.Public()),
		ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("c"), VkSha256: h32("v"), Setup: zkv1.SetupKind_SETUP_KIND_DEV}),
		anchor(1, h32("r"), nil),
		ledger.Confirm(&zkv1.ConfirmAnchor{CollectionId: benefitsID, Sequence: 1}),
	} {
		b := &zkv1.TxBody{}
		kind(b)
		f.Add(ledger.MustMarshalForTest(b), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, asAdmin bool) {
		var fuzzed zkv1.TxBody
		if err := proto.Unmarshal(body, &fuzzed); err != nil || fuzzed.GetKind() == nil {
			return
		}
		sender := holder
		if asAdmin {
			sender = admin
		}
		tx, err := ledger.NewTx(base.Chain(), sender, 1, time.UnixMilli(1e12), func(b *zkv1.TxBody) { b.Kind = fuzzed.Kind })
		if err != nil {
			return
		}
		st := base.Clone()
		before, _ := st.Hash()
		if err := ledger.Apply(st, tx, ledger.BlockContext{Height: 1, TimeUnixMs: 1e12}); err != nil {
			if after, _ := st.Hash(); after != before {
				t.Fatalf("rejected transaction changed the state: %v", err)
			}
		}
	})
}

// TestHeadersWithoutBodies: block headers (ListBlocks, WatchBlocks, block
// times, the tip check on open) are read without the blocks' transactions:
// from their own copy, or for a block stored before there was one, from
// the block's header field alone (issue 18, item 5).
func TestHeadersWithoutBodies(t *testing.T) {
	dir := t.TempDir()
	n := newNet(t, dir)
	n.setup(nil, 0)
	n.must("agency", anchor(1, h32("root1"), nil))
	n.must("agency", anchor(2, h32("root2"), h32("root1")))
	head := n.l.Head().Height
	if head < 3 {
		t.Fatalf("want at least 3 blocks, have %d", head)
	}
	want, err := n.l.Blocks(1, head, 100)
	if err != nil || uint64(len(want)) != head {
		t.Fatalf("blocks: %d, %v", len(want), err)
	}
	for i, hdr := range want {
		_, full, err := n.l.Block(uint64(i + 1))
		if err != nil || !proto.Equal(full, hdr) {
			t.Fatalf("header %d differs from its block's: %v", i+1, err)
		}
	}
	n.l.Close()

	// Block 1's body is unreadable: its header comes from its own copy.
	if err := ledger.ReplaceBlockForTest(dir, 1, []byte("\xff\xffnot a block"), false); err != nil {
		t.Fatal(err)
	}
	// Block 2 has no header copy, and everything after its header field is
	// unreadable (a transaction field claiming more bytes than there are).
	old := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), ledger.MustMarshalForTest(want[1]))
	old = append(protowire.AppendTag(old, 3, protowire.BytesType), 0xff, 0xff, 0x7f)
	if err := ledger.ReplaceBlockForTest(dir, 2, old, true); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(dir, nil, ledger.Options{})
	if err != nil {
		t.Fatalf("open reads only headers: %v", err)
	}
	defer l.Close()
	got, err := l.Blocks(1, head, 100)
	if err != nil || len(got) != len(want) {
		t.Fatalf("headers without bodies: %d, %v", len(got), err)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("header %d: %v, want %v", i+1, got[i], want[i])
		}
	}
	if tm, err := l.BlockTime(2); err != nil || tm != want[1].GetTimeUnixMs() {
		t.Fatalf("block time from the header: %d, %v", tm, err)
	}
	for _, h := range []uint64{1, 2} {
		if _, _, err := l.Block(h); err == nil {
			t.Fatalf("block %d's body decoded: the test did not break it", h)
		}
	}
	// Verify still reads whole blocks, and says which is broken.
	if err := l.Verify(t.Context(), nil); err == nil {
		t.Fatal("verify passed a ledger with broken blocks")
	}
}
