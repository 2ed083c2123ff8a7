package ledger

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestCommitmentIncremental: folding changes into the commitment, block by
// block, gives the hash of building it from scratch, whatever the order.
func TestCommitmentIncremental(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	st := NewState("o", nil)
	if _, err := st.fold(); err != nil {
		t.Fatal(err)
	}
	for block := range 40 {
		for range 200 {
			id := fmt.Sprintf("e%d", rng.IntN(3000))
			switch rng.IntN(4) {
			case 0:
				st.putParticipant(Participant{ID: id, Sequence: rng.Uint64()})
			case 1:
				st.putCollection(id, Collection{Name: id, TreeDepth: rng.Uint32()})
			case 2:
				if st.Proposals == nil {
					st.Proposals = map[string]Proposal{}
				}
				st.Proposals[id] = Proposal{Kind: id, Height: rng.Uint64()}
				st.touch(entryProposal, id)
			case 3:
				st.dropProposal(id)
			}
		}
		st.Height = uint64(block)
		got, err := st.fold()
		if err != nil {
			t.Fatal(err)
		}
		full := st.Clone()
		full.tree, full.folded = nil, false
		want, err := full.Hash()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("block %d: folded %x, from scratch %x", block, got, want)
		}
	}
}
