package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// A multi-party setup ceremony leaves a trace on the ledger: each
// contribution's receipt (RecordContribution), signed by its contributor's
// ledger key and chained to the one before it, so anyone can audit who
// contributed, in which order, and that no contribution was made after the
// beacon block was known. A ceremony-key registration names the ceremony
// and its last receipt, and its registry entry then lists the contributors
// as the ledger recorded them.

// entryCeremony is the state entry kind of a ceremony's record.
const entryCeremony byte = 'y'

// MaxContributions bounds one ceremony's recorded contributions.
const MaxContributions = 256

// Ceremony is what the ledger recorded of a ceremony.
type Ceremony struct {
	ID           []byte         `json:"id"`
	BeaconHeight uint64         `json:"beacon_height"`
	Contributed  []Contribution `json:"contributions"`
}

// Contribution is one recorded contribution.
type Contribution struct {
	Index       uint32 `json:"index"`
	Contributor string `json:"contributor"`
	ReceiptHash []byte `json:"receipt_hash"`
	StateHash   []byte `json:"state_hash"`
	Height      uint64 `json:"height"`
}

// Last is the hash of the ceremony's last recorded receipt (nil if none).
func (c *Ceremony) Last() []byte {
	if len(c.Contributed) == 0 {
		return nil
	}
	return c.Contributed[len(c.Contributed)-1].ReceiptHash
}

// Contributors lists the contributors in order (one may appear twice: a
// ceremony's phases each take a round).
func (c *Ceremony) Contributors() []string {
	out := make([]string, len(c.Contributed))
	for i, k := range c.Contributed {
		out[i] = k.Contributor
	}
	return out
}

func (s *State) putCeremony(c Ceremony) {
	if s.Ceremonies == nil {
		s.Ceremonies = map[string]Ceremony{}
	}
	id := hex.EncodeToString(c.ID)
	s.Ceremonies[id] = c
	s.touch(entryCeremony, id)
}

// CeremonyOf returns the ledger's record of a ceremony.
func (s *State) CeremonyOf(id []byte) (Ceremony, bool) {
	c, ok := s.Ceremonies[hex.EncodeToString(id)]
	return c, ok
}

const receiptDomain = "zkshare/ceremony/receipt/v1\n"

// ReceiptMessage is what a contributor signs: every field of the receipt
// but the signature, in a fixed layout.
func ReceiptMessage(r *zkv1.ContributionReceipt) []byte {
	b := make([]byte, 0, len(receiptDomain)+3*hashLen+4+8+1+len(r.GetContributor()))
	b = append(b, receiptDomain...)
	b = appendField(b, r.GetCeremonyId())
	b = binary.BigEndian.AppendUint32(b, r.GetIndex())
	b = appendField(b, r.GetPrevious())
	b = appendField(b, r.GetStateHash())
	b = binary.BigEndian.AppendUint64(b, r.GetBeaconHeight())
	return appendField(b, []byte(r.GetContributor()))
}

func appendField(b, f []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(f))) //nolint:gosec // G115: fields are bounded by the transaction size
	return append(b, f...)
}

// ReceiptHash names a receipt: the next receipt's previous, and a ceremony
// registration's transcript hash when it is the last.
func ReceiptHash(r *zkv1.ContributionReceipt) []byte {
	h := sha256.Sum256(ReceiptMessage(r))
	return h[:]
}

// SignReceipt makes id the receipt's contributor and signs it.
func SignReceipt(id *Identity, r *zkv1.ContributionReceipt) {
	r.Contributor = id.ID
	r.Signature = ed25519.Sign(id.Key, ReceiptMessage(r))
}

// VerifyReceipt checks a receipt's signature against key.
func VerifyReceipt(key ed25519.PublicKey, r *zkv1.ContributionReceipt) bool {
	return len(key) == ed25519.PublicKeySize && ed25519.Verify(key, ReceiptMessage(r), r.GetSignature())
}

// RecordContributionTx records a ceremony contribution's receipt.
func RecordContributionTx(r *zkv1.ContributionReceipt) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) {
		b.Kind = &zkv1.TxBody_RecordContribution{RecordContribution: &zkv1.RecordContribution{Receipt: r}}
	}
}

// recordContribution: any active participant relays; the receipt is
// signed by an active participant's current key, follows the ceremony's
// last recorded receipt, and the beacon block does not exist yet.
func (s *State) recordContribution(r *zkv1.ContributionReceipt, bc BlockContext) (func(), error) {
	if err := checkHash("receipt.ceremony_id", r.GetCeremonyId()); err != nil {
		return nil, err
	}
	if err := checkHash("receipt.previous", r.GetPrevious()); err != nil {
		return nil, err
	}
	if err := checkHash("receipt.state_hash", r.GetStateHash()); err != nil {
		return nil, err
	}
	p, ok := s.Participants[r.GetContributor()]
	if !ok || p.Revoked {
		return nil, fmt.Errorf("%w: contributor %q is not an active participant", ErrUnauthenticated, r.GetContributor())
	}
	if !VerifyReceipt(p.Key, r) {
		return nil, fmt.Errorf("%w: the receipt is not signed by %q's key", ErrUnauthenticated, p.ID)
	}
	c, _ := s.CeremonyOf(r.GetCeremonyId())
	if len(c.Contributed) == 0 {
		c = Ceremony{ID: slices.Clone(r.GetCeremonyId()), BeaconHeight: r.GetBeaconHeight()}
	}
	if r.GetBeaconHeight() != c.BeaconHeight {
		return nil, fmt.Errorf("%w: beacon height %d, the ceremony's is %d", ErrRejected, r.GetBeaconHeight(), c.BeaconHeight)
	}
	if bc.Height >= c.BeaconHeight {
		return nil, fmt.Errorf("%w: the ceremony's beacon block %d is known (this block is %d): it takes no more contributions", ErrRejected, c.BeaconHeight, bc.Height)
	}
	if len(c.Contributed) >= MaxContributions {
		return nil, fmt.Errorf("%w: the ceremony has %d contributions, the most one takes", ErrRejected, MaxContributions)
	}
	want, prev := uint32(len(c.Contributed)+1), c.Last() //nolint:gosec // G115: bounded by MaxContributions
	if prev == nil {
		prev = c.ID
	}
	if r.GetIndex() != want || !bytes.Equal(r.GetPrevious(), prev) {
		return nil, fmt.Errorf("%w: contribution %d after %x: the ceremony's next is %d after %.8x", ErrRejected, r.GetIndex(), r.GetPrevious(), want, prev)
	}
	return func() {
		c.Contributed = append(slices.Clone(c.Contributed), Contribution{Index: r.GetIndex(), Contributor: p.ID,
			ReceiptHash: ReceiptHash(r), StateHash: slices.Clone(r.GetStateHash()), Height: bc.Height})
		s.putCeremony(c)
	}, nil
}
