package ledger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// replicas are ledgers under a (simulated) consensus engine that get the
// same decided blocks.
type replicas struct {
	t      *testing.T
	dirs   []string
	ls     []*ledger.Ledger
	node   *ledger.Identity
	height uint64
}

func newReplicas(t *testing.T, n int, g *ledger.Genesis, node *ledger.Identity) *replicas {
	r := &replicas{t: t, node: node}
	for range n {
		dir := t.TempDir()
		if err := ledger.Init(dir, g); err != nil {
			t.Fatal(err)
		}
		r.dirs = append(r.dirs, dir)
		r.ls = append(r.ls, r.open(dir))
	}
	return r
}

func (r *replicas) open(dir string) *ledger.Ledger {
	l, err := ledger.Open(dir, r.node, ledger.Options{Broadcast: func(context.Context, []byte) error { return nil }})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { l.Close() })
	return l
}

// block finalizes and commits txs on every replica, checks that each
// accepted all of them and that they agree on the app hash.
func (r *replicas) block(txs []*ledger.Tx) {
	r.t.Helper()
	r.height++
	raws := make([][]byte, len(txs))
	for i, tx := range txs {
		raws[i] = tx.Raw
	}
	var want []byte
	now := time.Now().UnixMilli()
	for i, l := range r.ls {
		results, app, err := l.Finalize(r.height, now, r.node.ID, raws)
		if err != nil {
			r.t.Fatal(err)
		}
		for j, err := range results {
			if err != nil {
				r.t.Fatalf("replica %d, block %d, transaction %d: %v", i, r.height, j, err)
			}
		}
		if i == 0 {
			want = app
		} else if !bytes.Equal(app, want) {
			r.t.Fatalf("block %d: replica %d's app hash %x, replica 0's %x", r.height, i, app, want)
		}
		if err := l.Commit(); err != nil {
			r.t.Fatal(err)
		}
	}
}

// TestStateEntriesReopenAndReplicas: two replicas applying the same blocks
// (5,000 registrations, then anchors, confirmations, rotations and a
// revocation over them) agree on every state hash; reopening one restores
// the same state and hash, and its chain verifies.
func TestStateEntriesReopenAndReplicas(t *testing.T) {
	admin, node, holder := chainKey("admin", 0), chainKey("node", 0), chainKey("holder", 0)
	g := genesis(t, admin, node)
	g.Participants = append(g.Participants, ledger.Participant{ID: holder.ID, Role: zkv1.Role_ROLE_HOLDER, Key: holder.Public()})
	r := newReplicas(t, 2, g, node)
	chain := r.ls[0].Chain()
	const n = 2_500
	seq := map[string]uint64{}
	tx := func(id *ledger.Identity, kind func(*zkv1.TxBody)) *ledger.Tx {
		seq[id.ID]++
		return mustTx(t, chain, id, seq[id.ID], kind)
	}
	coll := func(i int) []byte { return ledger.CollectionID(fmt.Sprintf("holder/n%05d", i)) }

	var txs []*ledger.Tx
	for i := range n {
		id := fmt.Sprintf("c%05d", i)
		txs = append(txs, tx(admin, ledger.RegisterParticipant(id, zkv1.Role_ROLE_CONSUMER, chainKey(id, 0).Public())))
	}
	txs = append(txs, tx(admin, ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("circuit"), Name: "c", VkSha256: h32("vk"), Setup: zkv1.SetupKind_SETUP_KIND_DEV})))
	r.block(txs)
	txs = nil
	for i := range n {
		rc := &zkv1.RegisterCollection{CollectionId: coll(i), Name: fmt.Sprintf("holder/n%05d", i), SchemaHash: h32("schema"), TreeDepth: 16, CircuitIds: [][]byte{h32("circuit")}}
		if i < 10 {
			rc.Confirmers, rc.ConfirmationsRequired = []string{"c00000", "c00001"}, 2
		}
		txs = append(txs, tx(holder, ledger.RegisterCollection(rc)))
	}
	r.block(txs)
	for k := 1; k <= 3; k++ {
		txs = nil
		for i := range 20 {
			var prev []byte
			if k > 1 {
				prev = h32(fmt.Sprintf("root/%d/%d", i, k-1))
			}
			txs = append(txs, tx(holder, ledger.AnchorRoot(&zkv1.Anchor{CollectionId: coll(i), Sequence: uint64(k), Root: h32(fmt.Sprintf("root/%d/%d", i, k)), PreviousRoot: prev, RecordCount: uint64(k)})))
		}
		for i := range 5 {
			txs = append(txs, tx(chainKey("c00000", 0), ledger.Confirm(&zkv1.ConfirmAnchor{CollectionId: coll(i), Sequence: uint64(k), Root: h32(fmt.Sprintf("root/%d/%d", i, k))})))
		}
		id := fmt.Sprintf("c%05d", 100+k)
		txs = append(txs, tx(chainKey(id, 0), ledger.RotateKey(id, chainKey(id, 1).Public())))
		r.block(txs)
	}
	r.block([]*ledger.Tx{tx(admin, ledger.RevokeParticipant("c00200"))})

	st, head := r.ls[0].Tip()
	if len(st.Participants) < n || len(st.Collections) != n {
		t.Fatalf("%d participants, %d collections", len(st.Participants), len(st.Collections))
	}
	before, err := st.Hash()
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := r.ls[0].Header(head.Height)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hdr.GetStateHash(), before[:]) {
		t.Fatal("the tip's state hash differs from the state's")
	}
	wantJSON, _ := json.Marshal(st)
	if err := r.ls[0].Close(); err != nil {
		t.Fatal(err)
	}
	l := r.open(r.dirs[0])
	after, err := l.State().Hash()
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("state hash %x after reopening, %x before", after, before)
	}
	if got, _ := json.Marshal(l.State()); !bytes.Equal(got, wantJSON) {
		t.Fatal("the reopened state differs")
	}
	if err := l.Verify(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	// The reopened replica goes on in step with the other.
	r.ls[0] = l
	r.block([]*ledger.Tx{tx(holder, ledger.AnchorRoot(&zkv1.Anchor{CollectionId: coll(50), Sequence: 1, Root: h32("late"), RecordCount: 1}))})
}
