package bundle

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// ErrNotAnchored means the bundle's root is not the collection's anchor that
// counts (not anchored yet, or awaiting its M-of-N confirmations). The
// holder commits again, or waits for the confirmations.
var ErrNotAnchored = errors.New("bundle: the root is not anchored by an anchor that counts")

// Attach adds to b the anchor of its root (the collection's anchor seq; 0:
// its last), the signed checkpoint, and every transaction an offline
// verifier needs, each with its inclusion proof under that checkpoint: the
// collection's registration, the ConfirmAnchor transactions of the anchor,
// and the transaction that set the holder's key in effect at the anchor.
// Each is found through the ledger's indexes, so its cost does not grow
// with the log. The node calls it after proving (subject, exists and
// aggregate alike).
func Attach(l *ledger.Ledger, b *zkv1.Bundle, seq uint64) error {
	st := l.State()
	coll, ok := st.Collections[fmt.Sprintf("%x", b.GetCollectionId())]
	if !ok {
		return fmt.Errorf("%w: collection %q is not registered", ErrNotAnchored, b.GetCollection())
	}
	if seq == 0 && coll.Last != nil {
		seq = coll.Last.Sequence
	}
	if seq == 0 || !coll.Counts(seq) {
		return fmt.Errorf("%w: anchor %d of %q awaits %d confirmations or is not written", ErrNotAnchored, seq, b.GetCollection(), coll.Required)
	}
	e, err := l.AnchorBySequence(b.GetCollectionId(), seq)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotAnchored, err)
	}
	if !bytes.Equal(ledger.AnchorOf(e.Tx.Body).GetRoot(), b.GetRoot()) {
		return fmt.Errorf("%w: anchor %d is of another root; commit again", ErrNotAnchored, seq)
	}
	if agg := b.GetAggregate(); agg != nil {
		agg.AnchorSequence = seq
	}
	cp, head, err := l.Checkpoint()
	if err != nil {
		return err
	}
	evidence := func(e *ledger.Entry) (*zkv1.LedgerEvidence, error) {
		incl, err := l.InclusionProof(e.LogIndex, head.LogSize)
		if err != nil {
			return nil, err
		}
		return &zkv1.LedgerEvidence{Tx: e.Tx.Raw, LogIndex: e.LogIndex, Inclusion: incl}, nil
	}
	anchor, err := evidence(e)
	if err != nil {
		return err
	}
	// The other transactions are index lookups (no pass over the log), each
	// within the checkpoint: the registration, the anchor's confirmations,
	// and the transaction that set the holder's key in effect at the anchor.
	reg, err := l.Registration(b.GetCollectionId())
	if errors.Is(err, ledger.ErrNotFound) || (err == nil && reg.LogIndex >= head.LogSize) {
		reg = nil
	} else if err != nil {
		return err
	}
	confirms, err := l.Confirmations(b.GetCollectionId(), seq, head.LogSize)
	if err != nil {
		return err
	}
	key, err := l.KeyTxBefore(coll.Holder, e.LogIndex)
	if errors.Is(err, ledger.ErrNotFound) {
		key = nil
	} else if err != nil {
		return err
	}
	// The index holds direct key transactions only: a key set since by a
	// governance proposal (a re-keying by the governors) has none, and the
	// one found then sets a key that did not sign the anchor. Offline, it
	// would fail an honest bundle; without it the offline view says the
	// signature rests on the ledger's word.
	if key != nil && !e.Tx.SignedBy(keySetBy(key.Tx, coll.Holder), l.Chain().GenesisHash) {
		key = nil
	}
	b.AnchorTx, b.AnchorLogIndex, b.AnchorInclusion, b.Checkpoint = anchor.Tx, anchor.LogIndex, anchor.Inclusion, cp
	gh := st.GenesisHash
	b.GenesisHash = append([]byte(nil), gh...)
	b.CollectionTxs, b.Confirmations, b.HolderKeyTx = nil, nil, nil
	if reg != nil {
		ev, err := evidence(reg)
		if err != nil {
			return err
		}
		b.CollectionTxs = append(b.CollectionTxs, ev)
	}
	for _, c := range confirms {
		// Only a confirmation of this very anchor: a stray index entry
		// (a tampered disk) would otherwise fail an honest bundle offline.
		ca := c.Tx.Body.GetConfirmAnchor()
		if ca == nil || !bytes.Equal(ca.GetCollectionId(), b.GetCollectionId()) || ca.GetSequence() != seq || !bytes.Equal(ca.GetRoot(), b.GetRoot()) {
			continue
		}
		ev, err := evidence(c)
		if err != nil {
			return err
		}
		b.Confirmations = append(b.Confirmations, ev)
	}
	if key != nil {
		if b.HolderKeyTx, err = evidence(key); err != nil {
			return err
		}
	}
	return nil
}

// keySetBy is the key tx sets for participant id (nil if it sets none).
func keySetBy(tx *ledger.Tx, id string) ed25519.PublicKey {
	if r := tx.Body.GetRegisterParticipant(); r != nil && r.GetId() == id {
		return r.GetPublicKey()
	}
	if r := tx.Body.GetRotateKey(); r != nil && r.GetId() == id {
		return r.GetPublicKey()
	}
	return nil
}
