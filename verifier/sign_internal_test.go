package verifier

import (
	"bytes"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// TestSignatureMatchesLedger keeps signedBy in step with the ledger's
// transaction signatures: a ledger-signed transaction verifies under its
// sender's key and genesis hash, and under no other.
func TestSignatureMatchesLedger(t *testing.T) {
	holder, err := ledger.NewIdentity("holder")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ledger.NewIdentity("other")
	chain := ledger.Chain{Origin: "test", GenesisHash: [32]byte{1, 2, 3}}
	tx, err := ledger.NewTx(chain, holder, 1, time.Now(), ledger.AnchorRoot(&zkv1.Anchor{CollectionId: bytes.Repeat([]byte{1}, 32),
		Root: bytes.Repeat([]byte{2}, 32), Sequence: 1}))
	if err != nil {
		t.Fatal(err)
	}
	g := chain.GenesisHash[:]
	if !signedBy(tx.Raw, holder.Public(), g) {
		t.Fatal("the sender's signature does not verify")
	}
	if signedBy(tx.Raw, other.Public(), g) {
		t.Fatal("another key verifies")
	}
	if signedBy(tx.Raw, holder.Public(), bytes.Repeat([]byte{9}, 32)) {
		t.Fatal("another ledger's genesis verifies")
	}
	if signedBy(tx.Raw[:len(tx.Raw)-1], holder.Public(), g) {
		t.Fatal("a truncated transaction verifies")
	}
}
