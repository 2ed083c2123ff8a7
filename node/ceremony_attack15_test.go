package node_test

import (
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// TestAttack15PublicRelayOfForeignReceipt: RecordContribution needs no
// token; an anonymous caller relays, under the node's holder identity, a
// receipt an organisation signed for a ceremony on another ledger (a
// staging ledger where it has the same identity key). The node's ledger
// records it as that organisation's contribution here.
func TestAttack15PublicRelayOfForeignReceipt(t *testing.T) {
	n := open(t, "")
	org, _ := ledger.NewIdentity("org1")
	if _, err := n.RegisterParticipant(t.Context(), adminC, "org1", zkv1.Role_ROLE_HOLDER, org.Public()); err != nil {
		t.Fatal(err)
	}
	cid := sha256.Sum256([]byte("a staging ceremony"))
	r := &zkv1.ContributionReceipt{CeremonyId: cid[:], Index: 1, Previous: cid[:], StateHash: cid[:], BeaconHeight: 1000}
	ledger.SignReceipt(org, r) // signed for staging: nothing in it names a ledger
	if _, err := n.RecordContribution(t.Context(), r); err == nil {
		c, _ := n.Ledger().State().CeremonyOf(cid[:])
		t.Errorf("an anonymous relay recorded another ledger's receipt here: contributors %v", c.Contributors())
	}
}

// TestAttack15RecordContributionFlood: every anonymous RecordContribution
// call, however bogus, takes the node's send lock, signs a holder
// transaction and goes through the ledger's single writer before the
// contributor's signature is looked at; the procedure has no rate limit
// (VerifyAggregate has one). Measures what a flood costs the holder's own
// transactions, and checks that the refused relays leave nothing behind.
func TestAttack15RecordContributionFlood(t *testing.T) {
	n := open(t, "")
	before := n.Ledger().Head().Height
	holderSeq := n.Ledger().State().Participants["holder"].Sequence
	bogus := func(i int) *zkv1.ContributionReceipt {
		h := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		return &zkv1.ContributionReceipt{CeremonyId: h[:], Index: 1, Previous: h[:], StateHash: h[:], BeaconHeight: 1 << 40,
			Contributor: "holder", Signature: make([]byte, 64)}
	}
	const calls, workers = 4000, 256
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < calls; i += workers {
				if _, err := n.RecordContribution(t.Context(), bogus(i)); err != nil {
					mu.Lock()
					refused++
					mu.Unlock()
				}
			}
		}()
	}
	// The holder's own transaction while the flood runs.
	time.Sleep(500 * time.Millisecond)
	t0 := time.Now()
	if _, err := n.RegisterParticipant(t.Context(), adminC, "bank", zkv1.Role_ROLE_CONSUMER, make32()); err != nil {
		t.Fatal(err)
	}
	during := time.Since(t0)
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d bogus relays in %v (%.0f/s); an admin transaction during the flood took %v", calls, elapsed, float64(calls)/elapsed.Seconds(), during)
	if refused != calls {
		t.Fatalf("%d of %d bogus receipts accepted", calls-refused, calls)
	}
	if n.Ledger().Head().Height != before+1 || n.Ledger().State().Participants["holder"].Sequence != holderSeq || len(n.Ledger().State().Ceremonies) != 0 {
		t.Fatal("refused relays left a trace on the ledger")
	}
}

func make32() []byte {
	k, _ := ledger.NewIdentity("x")
	return k.Public()
}
