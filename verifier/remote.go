package verifier

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/ledger"
	"google.golang.org/protobuf/proto"
)

func unmarshal(raw []byte, m proto.Message) error { return proto.Unmarshal(raw, m) }

// Remote is the view of a node's ledger over its LedgerService.
type Remote struct {
	C zksharev1connect.LedgerServiceClient
}

func notFound(err error) error {
	if connect.CodeOf(err) == connect.CodeNotFound {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// Circuit implements Ledger.
func (v Remote) Circuit(ctx context.Context, id, vk []byte) (*Circuit, error) {
	r, err := v.C.GetCircuit(ctx, &zkv1.GetCircuitRequest{CircuitId: id, VkSha256: vk})
	if err != nil {
		return nil, notFound(err)
	}
	return &Circuit{ID: r.GetCircuitId(), Name: r.GetName(), VKSHA256: r.GetVkSha256(), Setup: r.GetSetup(),
		Version: r.GetVersion(), RetiredAt: r.GetRetiredHeight(), VK: r.GetVk(), Contributors: r.GetContributors()}, nil
}

// Collection implements Ledger.
func (v Remote) Collection(ctx context.Context, id []byte) (*Collection, error) {
	r, err := v.C.GetCollectionState(ctx, &zkv1.GetCollectionStateRequest{CollectionId: id})
	if err != nil {
		return nil, notFound(err)
	}
	return &Collection{ID: id, Name: r.GetName(), Holder: r.GetHolder(), SchemaHash: r.GetSchemaHash(), Latest: r.GetLatestSequence(),
		Pending: r.GetPendingSequences(), DeviceFed: r.GetDeviceFed(), Devices: r.GetDevices()}, nil
}

// AnchorBySequence implements Ledger.
func (v Remote) AnchorBySequence(ctx context.Context, id []byte, seq uint64) (*Anchor, error) {
	if seq == 0 {
		return nil, ErrNotFound
	}
	r, err := v.C.GetAnchor(ctx, &zkv1.GetAnchorRequest{CollectionId: id, Sequence: seq})
	if err != nil {
		return nil, notFound(err)
	}
	return &Anchor{Sequence: r.GetAnchor().GetSequence(), Height: r.GetHeight(), TimeUnixMs: r.GetTimeUnixMs(), LogIndex: r.GetLogIndex()}, nil
}

// OnLedger implements Ledger: the checkpoint is signed by one of the node's
// active validators, and the node has the transaction at that index.
func (v Remote) OnLedger(ctx context.Context, b *zkv1.Bundle) (*Anchor, error) {
	cp, err := v.C.GetCheckpoint(ctx, &zkv1.GetCheckpointRequest{})
	if err != nil {
		return nil, err
	}
	if err := includedUnder(b, cp.GetOrigin(), cp.GetValidatorKeys()); err != nil {
		return nil, err
	}
	tx, err := ledger.DecodeTx(b.GetAnchorTx())
	if err != nil {
		return nil, err
	}
	r, err := v.C.GetTransaction(ctx, &zkv1.GetTransactionRequest{Hash: tx.Hash[:]})
	if err != nil || r.GetLogIndex() != b.GetAnchorLogIndex() {
		return nil, errors.New("the anchor transaction is not on this ledger")
	}
	a := &Anchor{Tx: tx, Sequence: ledger.AnchorOf(tx.Body).GetSequence(), Height: r.GetHeight(), LogIndex: r.GetLogIndex(), TimeUnixMs: tx.Body.GetTimeUnixMs()}
	if seq := a.Sequence; seq != 0 && ledger.AnchorOf(tx.Body) != nil {
		if ar, err := v.AnchorBySequence(ctx, ledger.AnchorOf(tx.Body).GetCollectionId(), seq); err == nil {
			a.TimeUnixMs = ar.TimeUnixMs
		}
	}
	return a, nil
}
