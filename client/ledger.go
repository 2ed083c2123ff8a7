package client

import (
	"context"
	"errors"
	"fmt"
	"iter"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// Checkpoint returns the ledger's latest signed checkpoint with its height
// and the node's checkpoint key. It needs no token.
func (c *Client) Checkpoint(ctx context.Context) (*zkv1.GetCheckpointResponse, error) {
	resp, err := c.ledger.GetCheckpoint(ctx, &zkv1.GetCheckpointRequest{})
	return resp, wrap("checkpoint", err)
}

// ConsistencyProof proves that the log of toSize entries extends the one
// of fromSize (RFC 6962): check it with ledger.VerifyConsistency.
func (c *Client) ConsistencyProof(ctx context.Context, fromSize, toSize uint64) ([][]byte, error) {
	resp, err := c.ledger.GetConsistencyProof(ctx, &zkv1.GetConsistencyProofRequest{FromSize: fromSize, ToSize: toSize})
	if err != nil {
		return nil, wrap(fmt.Sprintf("consistency proof %d..%d", fromSize, toSize), err)
	}
	return resp.GetProof(), nil
}

// Anchor returns a collection's anchor: the latest that counts, or the
// one at req's height, or a pending one if asked.
func (c *Client) Anchor(ctx context.Context, req *zkv1.GetAnchorRequest) (*zkv1.GetAnchorResponse, error) {
	resp, err := c.ledger.GetAnchor(ctx, req)
	return resp, wrap(fmt.Sprintf("anchor of %x", req.GetCollectionId()), err)
}

// Transaction returns a ledger transaction by hash, with its inclusion
// proof under a signed checkpoint.
func (c *Client) Transaction(ctx context.Context, hash []byte) (*zkv1.GetTransactionResponse, error) {
	resp, err := c.ledger.GetTransaction(ctx, &zkv1.GetTransactionRequest{Hash: hash})
	return resp, wrap(fmt.Sprintf("transaction %x", hash), err)
}

// Blocks lists up to limit block headers from fromHeight on (the node
// caps limit; 0 asks for its default).
func (c *Client) Blocks(ctx context.Context, fromHeight uint64, limit uint32) ([]*zkv1.BlockHeader, error) {
	resp, err := c.ledger.ListBlocks(ctx, &zkv1.ListBlocksRequest{FromHeight: fromHeight, Limit: limit})
	if err != nil {
		return nil, wrap(fmt.Sprintf("blocks from %d", fromHeight), err)
	}
	return resp.GetHeaders(), nil
}

// WatchBlocks yields block headers from fromHeight on as the ledger grows,
// until ctx ends (then it stops without an error) or the stream fails
// (it yields the error last). Breaking out of the loop closes the stream.
func (c *Client) WatchBlocks(ctx context.Context, fromHeight uint64) iter.Seq2[*zkv1.BlockHeader, error] {
	return func(yield func(*zkv1.BlockHeader, error) bool) {
		stream, err := c.ledger.WatchBlocks(ctx, &zkv1.WatchBlocksRequest{FromHeight: fromHeight})
		if err != nil {
			if ctx.Err() == nil {
				yield(nil, wrap("watch blocks", err))
			}
			return
		}
		for stream.Receive() {
			if !yield(stream.Msg().GetHeader(), nil) {
				// The caller stopped: there is no one left to tell of a
				// failure to close.
				_ = stream.Close()
				return
			}
		}
		if err := errors.Join(stream.Err(), stream.Close()); err != nil && ctx.Err() == nil {
			yield(nil, wrap("watch blocks", err))
		}
	}
}

// ListAuditEntries returns one page of audit entries with their openings:
// a holder's (req.CollectionId) or a consumer's own (req.Consumer), after
// req.AfterLogIndex. Audit pages through all of them.
func (c *Client) ListAuditEntries(ctx context.Context, req *zkv1.ListAuditEntriesRequest) ([]*zkv1.AuditEntry, error) {
	resp, err := c.ledger.ListAuditEntries(ctx, req)
	if err != nil {
		return nil, wrap("audit entries", err)
	}
	return resp.GetEntries(), nil
}

// AuditFilter selects audit entries: set one of CollectionID (a holder's
// view of its collection) or Consumer (a consumer's own questions).
type AuditFilter struct {
	CollectionID []byte
	Consumer     string
	// PageSize is how many entries one call fetches (0: the node's default).
	PageSize uint32
}

// Audit yields every audit entry that f selects, in ledger order, fetching
// pages as the loop goes on. An error is yielded last.
func (c *Client) Audit(ctx context.Context, f AuditFilter) iter.Seq2[*zkv1.AuditEntry, error] {
	return func(yield func(*zkv1.AuditEntry, error) bool) {
		var after uint64
		for {
			page, err := c.ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{CollectionId: f.CollectionID, Consumer: f.Consumer, AfterLogIndex: after, Limit: f.PageSize})
			if err != nil {
				yield(nil, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			if len(page) == 0 || page[len(page)-1].GetLogIndex() <= after {
				return
			}
			after = page[len(page)-1].GetLogIndex()
		}
	}
}

// Circuits lists the ledger's circuit registry: every version of every
// circuit, and whether the ledger is marked for development.
func (c *Client) Circuits(ctx context.Context) (*zkv1.ListCircuitsResponse, error) {
	resp, err := c.ledger.ListCircuits(ctx, &zkv1.ListCircuitsRequest{})
	return resp, wrap("circuits", err)
}

// Ceremony returns what the ledger recorded of a setup ceremony: its
// contributions and, once its beacon block exists, the beacon.
func (c *Client) Ceremony(ctx context.Context, id []byte) (*zkv1.GetCeremonyResponse, error) {
	resp, err := c.ledger.GetCeremony(ctx, &zkv1.GetCeremonyRequest{CeremonyId: id})
	return resp, wrap(fmt.Sprintf("ceremony %.8x", id), err)
}

// RecordContribution relays a ceremony contribution's signed receipt to
// the ledger. It needs no token: the receipt's signature is the
// contributor's.
func (c *Client) RecordContribution(ctx context.Context, r *zkv1.ContributionReceipt) (*zkv1.RecordContributionResponse, error) {
	resp, err := c.ledger.RecordContribution(ctx, &zkv1.RecordContributionRequest{Receipt: r})
	return resp, wrap(fmt.Sprintf("record contribution %d", r.GetIndex()), err)
}

// AttestCeremonyKeys relays a participant's signed attestation of a
// ceremony's keys to the ledger. It needs no token.
func (c *Client) AttestCeremonyKeys(ctx context.Context, a *zkv1.KeysAttestation) (*zkv1.AttestCeremonyKeysResponse, error) {
	resp, err := c.ledger.AttestCeremonyKeys(ctx, &zkv1.AttestCeremonyKeysRequest{Attestation: a})
	return resp, wrap("attest ceremony keys", err)
}
