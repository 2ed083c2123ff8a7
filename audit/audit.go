// Package audit is the private side of the ledger's audit trail. The ledger
// keeps, for each answered question, only a salted commitment to what was
// asked and answered; the holder keeps the opening (an AuditReceipt) and
// gives it to the consumer who asked. Either party can show the other, or a
// third party it chooses, that an entry on the ledger is about a question.
package audit

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// Domain separates audit commitments from every other hash.
const Domain = "zkshare/audit/v1"

// SaltSize is the length of a receipt's salt.
const SaltSize = 32

// ErrMismatch means the receipt does not open the ledger's entry. It is about
// another question, or it was changed.
var ErrMismatch = errors.New("audit receipt does not open the ledger's entry")

// NewSalt returns a fresh random salt.
func NewSalt() ([]byte, error) {
	b := make([]byte, SaltSize)
	_, err := rand.Read(b)
	return b, err
}

// Commitment is SHA-256(Domain 0x00 || salt || collection_id, consumer,
// statement, query_hash, nonce, bundle_hash, each a 4-byte big-endian
// length then its bytes || result as one byte). The receipt's tx_hash,
// log_index and height are where the commitment is, not part of it.
func Commitment(r *zkv1.AuditReceipt) ([]byte, error) {
	if len(r.GetSalt()) != SaltSize {
		return nil, fmt.Errorf("audit receipt: salt is %d bytes, want %d", len(r.GetSalt()), SaltSize)
	}
	h := sha256.New()
	h.Write([]byte(Domain))
	h.Write([]byte{0})
	h.Write(r.GetSalt())
	for _, f := range [][]byte{r.GetCollectionId(), []byte(r.GetConsumer()), []byte(r.GetStatement()), r.GetQueryHash(), r.GetNonce(), r.GetBundleHash()} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(f))))
		h.Write(f)
	}
	if r.GetResult() {
		h.Write([]byte{1})
	} else {
		h.Write([]byte{0})
	}
	return h.Sum(nil), nil
}

// Check says whether r opens a, the Audit transaction's contents.
func Check(r *zkv1.AuditReceipt, a *zkv1.Audit) error {
	if a == nil {
		return fmt.Errorf("%w: the transaction is not an audit entry", ErrMismatch)
	}
	c, err := Commitment(r)
	if err != nil {
		return err
	}
	if !bytes.Equal(a.GetCollectionId(), r.GetCollectionId()) {
		return fmt.Errorf("%w: it is about collection %x, the entry about %x", ErrMismatch, r.GetCollectionId(), a.GetCollectionId())
	}
	if !bytes.Equal(a.GetCommitment(), c) {
		return fmt.Errorf("%w: the commitments differ", ErrMismatch)
	}
	return nil
}
