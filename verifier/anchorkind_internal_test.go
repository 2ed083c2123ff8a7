package verifier

import (
	"context"
	"strings"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// kindView is a ledger view that knows one collection, fed by its holder
// or by devices, and finds every anchor transaction on the ledger.
type kindView struct{ fed bool }

func (kindView) Circuit(context.Context, []byte, []byte) (*Circuit, error) { return nil, ErrNotFound }
func (v kindView) Collection(_ context.Context, id []byte) (*Collection, error) {
	return &Collection{ID: id, Holder: "agency", DeviceFed: v.fed, Latest: 1}, nil
}
func (kindView) AnchorBySequence(context.Context, []byte, uint64) (*Anchor, error) {
	return nil, ErrNotFound
}
func (kindView) OnLedger(context.Context, *zkv1.Bundle) (*Anchor, error) { return &Anchor{}, nil }

// TestAnchorKindMatchesFeeding: a relayer who swaps a bundle's anchor
// evidence for the other kind of anchor transaction is refused, whoever
// signed it: a holder-fed collection's root rests on its holder's Anchor,
// a device-fed one's on the ledger's AttestReadings.
func TestAnchorKindMatchesFeeding(t *testing.T) {
	id := ledger.CollectionID("agency/c")
	root := make([]byte, 32)
	root[31] = 7
	a := &zkv1.Anchor{CollectionId: id, Root: root, Sequence: 1, RecordCount: 1}
	holder, _ := ledger.NewIdentity("agency")
	relayer, _ := ledger.NewIdentity("relay")
	tx := func(who *ledger.Identity, kind func(*zkv1.TxBody)) []byte {
		t.Helper()
		x, err := ledger.NewTx(ledger.Chain{Origin: "o"}, who, 1, time.Now(), kind)
		if err != nil {
			t.Fatal(err)
		}
		return x.Raw
	}
	attest := ledger.AttestReadingsTx(a, []*zkv1.Attestation{{DeviceId: "d", Counter: 1}})
	tests := []struct {
		name string
		fed  bool
		raw  []byte
		want string // "" accepted
	}{
		{"holder-fed, the holder's anchor", false, tx(holder, ledger.AnchorRoot(a)), ""},
		{"holder-fed, an attestation batch by the holder", false, tx(holder, attest), "does not match how the collection is fed"},
		{"device-fed, an attestation batch relayed by anyone", true, tx(relayer, attest), ""},
		{"device-fed, the holder's own anchor", true, tx(holder, ledger.AnchorRoot(a)), "does not match how the collection is fed"},
		{"holder-fed, another's anchor", false, tx(relayer, ledger.AnchorRoot(a)), "not by the collection's holder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := checkAnchor(t.Context(), kindView{fed: tt.fed}, &zkv1.Bundle{CollectionId: id, Root: root, AnchorTx: tt.raw})
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
