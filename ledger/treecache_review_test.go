package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/device"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/tree"
	"github.com/zkshare/zkshare/zkhash"
)

// signedWith is device id's attestation of counter over the given leaf.
func (s *sensors) signedWith(id string, counter uint64, at time.Time, leaf fr.Element) *zkv1.Attestation {
	s.t.Helper()
	lb := leaf.Bytes()
	a := &zkv1.Attestation{DeviceId: id, Counter: counter, TimeUnixMs: at.UnixMilli(), Commitment: lb[:]}
	if err := s.keys[id].Sign(a); err != nil {
		s.t.Fatal(err)
	}
	return a
}

// anchorOn is the anchor of batches applied in turn to an empty tree,
// computed independently of the ledger.
func anchorOn(t *testing.T, batches ...[]*zkv1.Attestation) *zkv1.Anchor {
	t.Helper()
	m := tree.NewMemory()
	var prev []byte
	var count uint64
	var root fr.Element
	for _, as := range batches {
		if count > 0 {
			b := root.Bytes()
			prev = b[:]
		}
		ch := make([]tree.Change, len(as))
		for i, a := range as {
			var leaf fr.Element
			_ = leaf.SetBytesCanonical(a.GetCommitment())
			key := device.ReadingKey(a.GetDeviceId(), a.GetCounter())
			ch[i] = tree.Change{Op: tree.Insert, Path: zkhash.KeyPath(zkhash.KeyDigest(key)), Leaf: leaf, Ref: key}
		}
		var err error
		if root, err = tree.Apply(context.Background(), m, ch); err != nil {
			t.Fatal(err)
		}
		count += uint64(len(as))
	}
	rb := root.Bytes()
	return &zkv1.Anchor{CollectionId: fridgeID, Root: rb[:], Sequence: uint64(len(batches)), PreviousRoot: prev, RecordCount: count}
}

// TestTreeCacheSameAnchorOtherTree_review: a device tree's root does not
// commit to its leaves' full key paths (a lone leaf's hash is the root), so
// two batches with the same commitment at different counters leave
// different trees under the same (sequence, root). A holder who controls
// a device key (any holder: it may register a key it made) can therefore
// make the tree cache return writes computed on another tree: a replica
// that validated one proposal (round 0) judges the next (round 1) by the
// first one's tree and refuses a valid transaction that replicas which did
// not see round 0 accept: app hashes diverge.
func TestTreeCacheSameAnchorOtherTree(t *testing.T) { treeCacheRounds(t, true) }

// TestTreeCacheControl_review: round 1 alone is valid.
func TestTreeCacheControl(t *testing.T) { treeCacheRounds(t, false) }

func treeCacheRounds(t *testing.T, seeRound0 bool) {
	n := newNet(t, t.TempDir())
	n.setup(nil, 0)
	s := n.fleet("fridge-1")
	now := time.Now()
	var v, w fr.Element
	v.MustSetRandom()
	w.MustSetRandom()
	x := []*zkv1.Attestation{s.signedWith("fridge-1", 1, now, v)}
	z := []*zkv1.Attestation{s.signedWith("fridge-1", 10, now, w)}
	// Another counter with the same commitment whose tree, with z, has another root.
	var y []*zkv1.Attestation
	for c := uint64(2); c < 10; c++ {
		cand := []*zkv1.Attestation{s.signedWith("fridge-1", c, now, v)}
		if !bytes.Equal(anchorOn(t, cand, z).Root, anchorOn(t, x, z).Root) {
			y = cand
			break
		}
	}
	if y == nil {
		t.Skip("no counter found")
	}
	if !bytes.Equal(anchorOn(t, x).Root, anchorOn(t, y).Root) {
		t.Fatal("x and y should anchor the same root")
	}
	seq := n.l.State().Participants["agency"].Sequence
	mk := func(i uint64, a *zkv1.Anchor, as []*zkv1.Attestation) []byte {
		tx, err := ledger.NewTx(n.l.Chain(), n.ids["agency"], seq+i, now, ledger.AttestReadingsTx(a, as))
		if err != nil {
			t.Fatal(err)
		}
		return tx.Raw
	}
	round0 := [][]byte{mk(1, anchorOn(t, x), x), mk(2, anchorOn(t, x, z), z)}
	round1 := [][]byte{mk(1, anchorOn(t, y), y), mk(2, anchorOn(t, y, z), z)}

	if seeRound0 {
		res, err := n.l.Validate(now.UnixMilli(), round0)
		if err != nil || res[0] != nil || res[1] != nil {
			t.Fatalf("round 0: %v %v", err, res)
		}
	}
	res, err := n.l.Validate(now.UnixMilli(), round1)
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != nil || res[1] != nil {
		t.Errorf("round 1 (valid on a replica that did not see round 0) refused: %v / %v (stale anchor: %v)", res[0], res[1], errors.Is(res[1], ledger.ErrStaleAnchor))
	}
}
