package bundle

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/bits"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// Proven is what the prover hands over for a subject or exists statement,
// before it becomes a zkv1.Bundle (Build). Hex strings are the prover's
// encoding; nothing outside the prover and this file reads them.
//
// Deprecated: the prover should build zkv1.Bundle values directly; Proven
// and ProvenAggregate remain only as its output until then.
type Proven struct {
	Kind          zkv1.StatementKind // KindSubject or KindExists
	Collection    string
	CollectionID  string
	Schema        json.RawMessage
	Query         string
	QueryHash     string
	Root          string
	KeyCommitment string
	Result        bool
	Nonce         string
	Circuit       string
	CircuitID     string
	VKSHA256      string
	Proof         []byte
}

// Bundle is the prover's subject/exists output (see Proven).
type Bundle = Proven

// Statement renders the claim in words.
func (p *Proven) Statement() string {
	b, err := p.header()
	if err != nil {
		return "an unreadable statement"
	}
	return Statement(b)
}

func (p *Proven) header() (*zkv1.Bundle, error) {
	b := &zkv1.Bundle{Version: Version, Collection: p.Collection, Schema: p.Schema, Query: p.Query, Result: p.Result,
		Circuit: CircuitOf(p.Circuit), Proof: p.Proof}
	switch p.Kind {
	case KindSubject, KindExists:
		b.Kind = p.Kind
	default:
		return nil, fmt.Errorf("bundle: kind %d", p.Kind)
	}
	err := unhex(map[string]struct {
		s string
		d *[]byte
	}{
		"collection_id": {p.CollectionID, &b.CollectionId}, "query_hash": {p.QueryHash, &b.QueryHash}, "root": {p.Root, &b.Root},
		"key_commitment": {p.KeyCommitment, &b.KeyCommitment}, "nonce": {p.Nonce, &b.Nonce},
		"circuit_id": {p.CircuitID, &b.CircuitId}, "vk_sha256": {p.VKSHA256, &b.VkSha256},
	})
	return b, err
}

func unhex(fields map[string]struct {
	s string
	d *[]byte
}) error {
	for name, f := range fields {
		v, err := hex.DecodeString(f.s)
		if err != nil {
			return fmt.Errorf("bundle: %s: %w", name, err)
		}
		if len(v) > 0 {
			*f.d = v
		}
	}
	return nil
}

// Proto is the prover's output as a bundle, without anchor evidence (see
// Attach). It is checked.
func (p *Proven) Proto() (*zkv1.Bundle, error) {
	b, err := p.header()
	if err != nil {
		return nil, err
	}
	return b, Check(b)
}

// AggChunk is one chunk's partial commitment (hex) and proof.
type AggChunk struct {
	Partial string
	Proof   []byte
}

// ProvenAggregate is the prover's aggregate output (see Proven).
type ProvenAggregate struct {
	Collection, CollectionID string
	Schema                   json.RawMessage
	Query, QueryHash, Nonce  string
	Field                    string
	Slot                     int
	Root, Columns            string
	ChunkRows                int
	Chunks                   []AggChunk
	// Reveal mode.
	Count, Min, Max *uint64
	Sum             string
	MinGroup        uint64
	Small           bool
	// Threshold mode.
	Which, Relation, Threshold string
	Offset                     uint64
	Holds                      *bool

	Circuit, CircuitID, VKSHA256 string
	ChunkCircuit, ChunkVK        string
	Proof                        []byte
}

// Aggregate is the prover's aggregate output.
type Aggregate = ProvenAggregate

// Statement renders the claim in words.
func (a *ProvenAggregate) Statement() string {
	b, err := a.Proto()
	if err != nil {
		return "an unreadable statement"
	}
	return Statement(b)
}

// Proto is the prover's aggregate as a bundle about the collection's
// anchor seq, without anchor evidence (see Attach). It is checked.
func (a *ProvenAggregate) Proto() (*zkv1.Bundle, error) {
	if a.Slot < 0 || a.ChunkRows < 0 || bits.Len(uint(a.Slot)) > 32 || bits.Len(uint(a.ChunkRows)) > 32 {
		return nil, fmt.Errorf("bundle: slot %d, chunk rows %d", a.Slot, a.ChunkRows)
	}
	body := &zkv1.AggregateBody{Field: a.Field, Slot: uint32(a.Slot), ChunkRows: uint32(a.ChunkRows)}
	b := &zkv1.Bundle{Version: Version, Kind: KindAggregate, Collection: a.Collection, Schema: a.Schema, Query: a.Query,
		Result: true, Circuit: CircuitOf(a.Circuit), Proof: a.Proof, Aggregate: body}
	switch {
	case a.Holds != nil:
		b.Result = *a.Holds
		body.Answer = &zkv1.AggregateBody_Threshold{Threshold: &zkv1.AggregateThresholdAnswer{Which: a.Which, Relation: a.Relation,
			Threshold: a.Threshold, Offset: a.Offset, Holds: *a.Holds}}
	case a.Count != nil && a.Min != nil && a.Max != nil:
		body.Answer = &zkv1.AggregateBody_Reveal{Reveal: &zkv1.AggregateReveal{Count: *a.Count, Sum: a.Sum, Min: *a.Min, Max: *a.Max,
			MinGroup: a.MinGroup, Small: a.Small}}
	}
	fields := map[string]struct {
		s string
		d *[]byte
	}{
		"collection_id": {a.CollectionID, &b.CollectionId}, "query_hash": {a.QueryHash, &b.QueryHash}, "root": {a.Root, &b.Root},
		"nonce": {a.Nonce, &b.Nonce}, "circuit_id": {a.CircuitID, &b.CircuitId}, "vk_sha256": {a.VKSHA256, &b.VkSha256},
		"columns": {a.Columns, &body.Columns}, "chunk_circuit_id": {a.ChunkCircuit, &body.ChunkCircuitId}, "chunk_vk_sha256": {a.ChunkVK, &body.ChunkVkSha256},
	}
	if err := unhex(fields); err != nil {
		return nil, err
	}
	for i, c := range a.Chunks {
		p, err := hex.DecodeString(c.Partial)
		if err != nil {
			return nil, fmt.Errorf("bundle: chunk %d partial: %w", i, err)
		}
		body.Chunks = append(body.Chunks, &zkv1.AggregateChunk{Partial: p, Proof: c.Proof})
	}
	return b, Check(b)
}
