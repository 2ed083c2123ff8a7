package node

import (
	"context"
	"encoding/hex"
	"slices"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// Ledger reads anyone may make: what a verifier needs (verifier.Remote)
// and what a client follows.

// Checkpoint is the ledger's latest signed checkpoint, with the keys that
// sign checkpoints: the node's and the active validators'.
func (n *Node) Checkpoint(context.Context) (*zkv1.GetCheckpointResponse, error) {
	cp, h, err := n.ledger.Checkpoint()
	if err != nil {
		return nil, err
	}
	resp := &zkv1.GetCheckpointResponse{Checkpoint: cp, Height: h.Height, NodeKey: n.ledger.NodeKey(), Origin: n.ledger.Origin(), GenesisHash: n.ledger.State().GenesisHash}
	for _, p := range n.ledger.Participants() {
		if p.Role == zkv1.Role_ROLE_VALIDATOR && !p.Revoked {
			resp.ValidatorKeys = append(resp.ValidatorKeys, p.Key)
		}
	}
	return resp, nil
}

// ConsistencyProof proves that the log of from entries is a prefix of the
// log of to entries.
func (n *Node) ConsistencyProof(_ context.Context, from, to uint64) ([][]byte, error) {
	if from > to {
		return nil, invalid("from_size", "%d is more than to_size %d", from, to)
	}
	if size := n.ledger.Head().LogSize; to > size {
		return nil, errorf(ErrOutOfRange, "to_size: %d is beyond the log's %d entries", to, size)
	}
	return n.ledger.ConsistencyProof(from, to)
}

// Transaction is a transaction by hash, with its inclusion proof under the
// latest checkpoint.
func (n *Node) Transaction(_ context.Context, hash []byte) (*zkv1.GetTransactionResponse, error) {
	if len(hash) != 32 {
		return nil, invalid("hash", "want 32 bytes")
	}
	e, err := n.ledger.Transaction(hash)
	if err != nil {
		return nil, err
	}
	cp, h, err := n.ledger.Checkpoint()
	if err != nil {
		return nil, err
	}
	p, err := n.ledger.InclusionProof(e.LogIndex, h.LogSize)
	if err != nil {
		return nil, err
	}
	return &zkv1.GetTransactionResponse{Tx: e.Tx.Raw, Height: e.Height, LogIndex: e.LogIndex, Inclusion: p, Checkpoint: cp}, nil
}

// CollectionState is what a verifier needs of a collection on the ledger.
func (n *Node) CollectionState(_ context.Context, id []byte) (*zkv1.GetCollectionStateResponse, error) {
	if len(id) != 32 {
		return nil, invalid("collection_id", "want 32 bytes")
	}
	c, ok := n.ledger.State().Collections[hex.EncodeToString(id)]
	if !ok {
		return nil, errorf(ErrNotFound, "collection_id: %x is not registered", id)
	}
	resp := &zkv1.GetCollectionStateResponse{Name: c.Name, Holder: c.Holder, SchemaHash: c.SchemaHash,
		Confirmers: c.Confirmers, ConfirmationsRequired: c.Required, DeviceFed: c.DeviceFed}
	for _, d := range n.ledger.State().DevicesOf(c.ID) {
		resp.Devices = append(resp.Devices, d.Proto(c.Name))
	}
	if c.Latest != nil {
		resp.LatestSequence = c.Latest.Sequence
	}
	for seq := range c.Pending {
		resp.PendingSequences = append(resp.PendingSequences, seq)
	}
	slices.Sort(resp.PendingSequences)
	return resp, nil
}

// MaxBlocks is the most block headers Blocks returns at once.
const MaxBlocks = 1000

// Blocks lists block headers from a height on (0: the first), at most
// limit of them (0, or more than MaxBlocks: MaxBlocks).
func (n *Node) Blocks(_ context.Context, from uint64, limit int) ([]*zkv1.BlockHeader, error) {
	if limit <= 0 || limit > MaxBlocks {
		limit = MaxBlocks
	}
	return n.ledger.Blocks(max(from, 1), n.ledger.Head().Height, limit)
}

// FollowBlocks hands send each block header from a height on (0: the
// first), then each new one as it is cut, until ctx ends (nil) or send or
// a read fails (that error).
func (n *Node) FollowBlocks(ctx context.Context, from uint64, send func(*zkv1.BlockHeader) error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for next := max(from, 1); ; {
		for ; next <= n.ledger.Head().Height; next++ {
			hdr, err := n.ledger.Header(next)
			if err != nil {
				return err
			}
			if err := send(hdr); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
