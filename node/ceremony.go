package node

import (
	"context"
	"fmt"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// Circuit is a circuit registry entry: the version with verifying key vk,
// or the newest unretired version when vk is empty.
func (n *Node) Circuit(_ context.Context, id, vk []byte) (*zkv1.GetCircuitResponse, error) {
	if len(id) != 32 {
		return nil, invalid("circuit_id", "want 32 bytes")
	}
	if len(vk) != 0 && len(vk) != 32 {
		return nil, invalid("vk_sha256", "want 32 bytes or none")
	}
	st := n.ledger.State()
	var c ledger.Circuit
	var ok bool
	if len(vk) == 0 {
		c, ok = st.LatestCircuit(id)
	} else {
		c, ok = st.CircuitVersion(id, vk)
	}
	if !ok {
		return nil, errorf(ErrNotFound, "circuit_id: %x (verifying key %x) is not registered", id, vk)
	}
	return circuitProto(c), nil
}

func circuitProto(c ledger.Circuit) *zkv1.GetCircuitResponse {
	return &zkv1.GetCircuitResponse{CircuitId: c.ID, Name: c.Name, VkSha256: c.VKSHA256, Setup: c.Setup, Version: c.Version,
		RegisteredHeight: c.Height, RetiredHeight: c.RetiredAt, Vk: c.VK, CeremonyId: c.CeremonyID, TranscriptHash: c.TranscriptHash, Contributors: c.Contributors}
}

// Circuits lists the registry: every version of every circuit.
func (n *Node) Circuits(context.Context) *zkv1.ListCircuitsResponse {
	st := n.ledger.State()
	out := &zkv1.ListCircuitsResponse{Development: st.Development}
	for _, c := range st.CircuitList() {
		out.Circuits = append(out.Circuits, circuitProto(c))
	}
	return out
}

// Ceremony is the ledger's record of a setup ceremony and, once its block
// exists, its beacon.
func (n *Node) Ceremony(_ context.Context, id []byte) (*zkv1.GetCeremonyResponse, error) {
	if len(id) != 32 {
		return nil, invalid("ceremony_id", "want 32 bytes")
	}
	c, ok := n.ledger.State().CeremonyOf(id)
	if !ok {
		return nil, errorf(ErrNotFound, "ceremony %x has no contributions on the ledger", id)
	}
	out := &zkv1.GetCeremonyResponse{CeremonyId: c.ID, BeaconHeight: c.BeaconHeight}
	for _, k := range c.Contributed {
		out.Contributions = append(out.Contributions, &zkv1.GetCeremonyResponse_Contribution{Index: k.Index, Contributor: k.Contributor,
			ReceiptHash: k.ReceiptHash, StateHash: k.StateHash, Height: k.Height})
	}
	if c.BeaconHeight <= n.ledger.Head().Height {
		b, err := n.ledger.BlockHash(c.BeaconHeight)
		if err != nil {
			return nil, fmt.Errorf("beacon block %d: %w", c.BeaconHeight, err)
		}
		out.Beacon = b
	}
	return out, nil
}

// RecordContribution relays a ceremony contribution's receipt to the
// ledger under the node's holder identity; the ledger checks the
// contributor's signature.
func (n *Node) RecordContribution(ctx context.Context, r *zkv1.ContributionReceipt) (*ledger.Receipt, error) {
	switch {
	case r == nil:
		return nil, invalid("receipt", "missing")
	case len(r.GetCeremonyId()) != 32 || len(r.GetPrevious()) != 32 || len(r.GetStateHash()) != 32:
		return nil, invalid("receipt", "ceremony_id, previous and state_hash are 32 bytes each")
	case len(r.GetSignature()) != 64:
		return nil, invalid("receipt.signature", "want a 64-byte Ed25519 signature")
	case !participantID.MatchString(r.GetContributor()):
		return nil, invalid("receipt.contributor", "%q is not a participant id", r.GetContributor())
	}
	return n.send(ctx, n.holderID, ledger.RecordContributionTx(r))
}
