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
		return nil, errorf(ErrNotFound, "ceremony %x is not open on the ledger", id)
	}
	out := &zkv1.GetCeremonyResponse{CeremonyId: c.ID, BeaconHeight: c.BeaconHeight, Attesters: c.Attesters}
	for _, p := range c.Participants {
		out.Participants = append(out.Participants, p.ID)
	}
	for _, k := range c.Keys {
		out.Keys = append(out.Keys, &zkv1.CeremonyKey{Name: k.Name, CircuitId: k.CircuitID, VkSha256: k.VKSHA256})
	}
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
	return n.relayCeremony(ctx, ledger.RecordContributionTx(r))
}

// relayCeremony sends a ceremony transaction under the node's holder
// identity once the committed state accepts it: a receipt or attestation
// the ledger would refuse costs a signature check, never a transaction.
func (n *Node) relayCeremony(ctx context.Context, kind func(*zkv1.TxBody)) (*ledger.Receipt, error) {
	if err := ledger.CheckCeremonyTx(n.ledger.State(), kind); err != nil {
		return nil, err
	}
	return n.send(ctx, n.holderID, kind)
}

// AttestCeremonyKeys relays a participant's attestation of a ceremony's
// keys; the ledger checks the signature against the plan's key.
func (n *Node) AttestCeremonyKeys(ctx context.Context, a *zkv1.KeysAttestation) (*ledger.Receipt, error) {
	switch {
	case a == nil:
		return nil, invalid("attestation", "missing")
	case len(a.GetCeremonyId()) != 32 || len(a.GetTranscriptHash()) != 32 || len(a.GetBeacon()) != 32:
		return nil, invalid("attestation", "ceremony_id, transcript_hash and beacon are 32 bytes each")
	case len(a.GetSignature()) != 64:
		return nil, invalid("attestation.signature", "want a 64-byte Ed25519 signature")
	case !participantID.MatchString(a.GetAttester()):
		return nil, invalid("attestation.attester", "%q is not a participant id", a.GetAttester())
	case len(a.GetKeys()) == 0 || len(a.GetKeys()) > 16:
		return nil, invalid("attestation.keys", "want 1 to 16 keys")
	}
	return n.relayCeremony(ctx, ledger.AttestCeremonyKeysTx(a))
}
