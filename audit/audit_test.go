package audit_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/zkshare/zkshare/audit"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"google.golang.org/protobuf/proto"
)

func receipt() *zkv1.AuditReceipt {
	return &zkv1.AuditReceipt{Salt: bytes.Repeat([]byte{7}, 32), CollectionId: bytes.Repeat([]byte{1}, 32), Consumer: "bank",
		Statement: "subject", QueryHash: bytes.Repeat([]byte{2}, 32), Nonce: bytes.Repeat([]byte{3}, 32), Result: true, BundleHash: bytes.Repeat([]byte{4}, 32)}
}

// TestCommitment: every field is bound, with lengths, so no two receipts
// that differ in what was asked open one commitment; where the entry sits
// is not part of it.
func TestCommitment(t *testing.T) {
	base, err := audit.Commitment(receipt())
	if err != nil {
		t.Fatal(err)
	}
	a := &zkv1.Audit{CollectionId: receipt().GetCollectionId(), Commitment: base}
	placed := receipt()
	placed.TxHash, placed.LogIndex, placed.Height = bytes.Repeat([]byte{9}, 32), 5, 2
	if err := audit.Check(placed, a); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*zkv1.AuditReceipt){
		"salt":        func(r *zkv1.AuditReceipt) { r.Salt[0] ^= 1 },
		"collection":  func(r *zkv1.AuditReceipt) { r.CollectionId[0] ^= 1 },
		"consumer":    func(r *zkv1.AuditReceipt) { r.Consumer = "banks" },
		"boundary":    func(r *zkv1.AuditReceipt) { r.Consumer, r.Statement = "banks", "ubject" },
		"statement":   func(r *zkv1.AuditReceipt) { r.Statement = "exists" },
		"query":       func(r *zkv1.AuditReceipt) { r.QueryHash[0] ^= 1 },
		"nonce":       func(r *zkv1.AuditReceipt) { r.Nonce[0] ^= 1 },
		"result":      func(r *zkv1.AuditReceipt) { r.Result = false },
		"bundle":      func(r *zkv1.AuditReceipt) { r.BundleHash = nil },
		"no audit tx": nil,
	} {
		r := receipt()
		target := proto.CloneOf(a)
		if mut == nil {
			target = nil
		} else {
			mut(r)
		}
		if err := audit.Check(r, target); !errors.Is(err, audit.ErrMismatch) {
			t.Errorf("%s changed: %v, want ErrMismatch", name, err)
		}
	}
	short := receipt()
	short.Salt = short.Salt[:16]
	if _, err := audit.Commitment(short); err == nil {
		t.Fatal("a 16-byte salt was accepted")
	}
}
