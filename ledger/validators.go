package ledger

import (
	"crypto/ed25519"
	"fmt"
	"sync"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"golang.org/x/mod/sumdb/note"
)

// Validator sets across heights. Under a consensus engine a change of the
// validator set (a validator registered, revoked or re-keyed in block h)
// reaches the engine as a validator update that takes effect
// ValidatorUpdateDelay engine heights later (CometBFT: H+2), so a validator
// revoked at h may still propose the next blocks. Each block is checked
// against the validators of its own height: a proposer revoked at r
// proposes blocks up to r+ValidatorUpdateDelay; a signer signs with the key
// it held at that height (Participant.BlockKeyAt). A revoked validator's
// node may keep its own replica (signed with its key), but proposes
// nothing more.

// ValidatorUpdateDelay is how many blocks a validator change takes to reach
// the consensus engine's validator set.
const ValidatorUpdateDelay = 2

func checkProposer(st *State, who string, h uint64) error {
	p, ok := st.Participants[who]
	if !ok || p.Role != zkv1.Role_ROLE_VALIDATOR {
		return bad(h, "proposer %q is not a validator", who)
	}
	if p.Revoked && h > p.RevokedAt+ValidatorUpdateDelay {
		return bad(h, "proposer %q was revoked at block %d", who, p.RevokedAt)
	}
	return nil
}

// rotatingSigner signs checkpoints with the node's current key.
type rotatingSigner struct {
	mu sync.RWMutex
	s  note.Signer
}

func (r *rotatingSigner) set(origin string, id *Identity) error {
	s, err := noteSigner(origin, id.Key)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.s = s
	r.mu.Unlock()
	return nil
}

func (r *rotatingSigner) get() note.Signer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.s
}

func (r *rotatingSigner) Name() string                    { return r.get().Name() }
func (r *rotatingSigner) KeyHash() uint32                 { return r.get().KeyHash() }
func (r *rotatingSigner) Sign(msg []byte) ([]byte, error) { return r.get().Sign(msg) }

// Node is the identity that signs this node's blocks now (nil read-only).
func (l *Ledger) Node() *Identity { return l.cur.Load() }

// SetNextNode names the key this node rotates to: once a committed block
// gives the node's validator that key, the ledger signs with it (see
// Options.NextNode). Submit the node's RotateKey after calling it.
func (l *Ledger) SetNextNode(next *Identity) error {
	cur := l.cur.Load()
	if cur == nil || next == nil || next.ID != cur.ID {
		return fmt.Errorf("ledger: the next key must be %v's", cur)
	}
	l.next.Store(next)
	return nil
}

// adoptNodeKey switches to the next key once st gives it to the node; it
// runs on the goroutine that commits blocks, after a commit.
func (l *Ledger) adoptNodeKey(st *State) {
	next := l.next.Load()
	if next == nil {
		return
	}
	p, ok := st.Participants[next.ID]
	if !ok || !ed25519.PublicKey(p.Key).Equal(next.Public()) {
		return
	}
	if err := l.signer.set(l.origin, next); err != nil {
		l.log.Error("ledger: new node key", "err", err)
		return
	}
	l.cur.Store(next)
	l.next.Store(nil)
	l.log.Info("ledger: node key rotated", "node", next.ID, "height", st.Height)
	if l.opts.OnNodeKey != nil {
		l.opts.OnNodeKey(next)
	}
}

// BlockSignedBy says whether key signed block b's header.
func BlockSignedBy(key ed25519.PublicKey, b *zkv1.Block) bool {
	return len(key) == ed25519.PublicKeySize && ed25519.Verify(key, append([]byte(blockDomain), b.GetHeader()...), b.GetSignature())
}

// Finalized is the state after the block Finalize prepared (before its
// Commit), or nil.
func (l *Ledger) Finalized() *State {
	l.consMu.Lock()
	defer l.consMu.Unlock()
	if l.pending == nil {
		return nil
	}
	return l.pending.state
}
