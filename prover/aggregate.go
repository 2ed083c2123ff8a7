package prover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/circuits"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
)

// Threshold asks for one bit instead of the aggregates: whether Which
// stands in Relation to Value, a value of the field as a person writes it
// ("8.0", "12000").
type Threshold = records.Threshold

// AggregateRequest asks for an aggregate of one field over every live
// record of a collection that satisfies a query.
type AggregateRequest struct {
	Collection string
	Query      string
	Field      string
	Threshold  *Threshold // nil: reveal count, sum, min and max
	// MinGroup is the fewest matching records whose aggregates are
	// revealed (reveal mode only; below 2^32): with fewer, the bundle shows
	// only that fewer matched. 0 reveals any result.
	MinGroup uint64
	// Nonce is the asking verifier's, bound into the combining proof so
	// that a bundle cannot be replayed as the answer to another request.
	Nonce fr.Element
	// Version is the store version to prove against (0: the latest).
	Version holder.Version
}

// ErrBadAggregate means the request names no usable field or threshold.
var ErrBadAggregate = errors.New("bad aggregate request")

// ErrSmallGroup means a threshold question about fewer records than the
// minimum group is not answered (a revealed one is, in-circuit, with only
// "fewer than k").
var ErrSmallGroup = errors.New("group too small")

// Aggregate proves an aggregate over a whole collection: one proof per
// chunk of circuits.AggChunkRows positions (in parallel, within the
// prover's slots), then one that combines their hidden partial results.
// progress, if not nil, gets chunks done of total.
func (p *Prover) Aggregate(ctx context.Context, req AggregateRequest, progress func(done, total int)) (*zkv1.Bundle, error) {
	for _, name := range keys.Aggregates {
		if p.keys[keys.CircuitOf(name)] == nil {
			return nil, fmt.Errorf("aggregate: no keys for circuit %s: run `zkshare keys setup --aggregate`", name)
		}
	}
	// The request is checked against the schema before the (slow) snapshot.
	st := p.store.At(req.Version)
	meta, err := st.Collection(req.Collection)
	if err != nil {
		return nil, err
	}
	schema := meta.SchemaOf()
	f, slot, ok := schema.Field(req.Field)
	if !ok {
		return nil, fmt.Errorf("%w: field: no field %q in %s", ErrBadAggregate, req.Field, req.Collection)
	}
	if f.Type == records.String {
		return nil, fmt.Errorf("%w: field: %q is a string; aggregates need numbers", ErrBadAggregate, req.Field)
	}
	offset := f.Offset()
	if req.MinGroup >= 1<<circuits.MinGroupBits {
		return nil, fmt.Errorf("%w: min group: %d, at most 2^%d-1", ErrBadAggregate, req.MinGroup, circuits.MinGroupBits)
	}
	var threshold *big.Int
	if t := req.Threshold; t != nil {
		if !t.Which.Valid() || !t.Relation.Valid() {
			return nil, fmt.Errorf("%w: threshold %s %s: want count, sum, min or max, and <=, >= or ==", ErrBadAggregate, t.Which, t.Relation)
		}
		if threshold, err = f.ThresholdValue(t.Which, t.Value); err != nil {
			return nil, fmt.Errorf("%w: threshold: %w", ErrBadAggregate, err)
		}
	}
	prep, err := query.Prepare(req.Query, schema)
	if err != nil {
		return nil, err
	}
	c, regions, root, err := st.AggregateSnapshot(ctx, req.Collection, circuits.AggChunkRows, circuits.AggChunkInners)
	if err != nil {
		return nil, err
	}
	chunks := len(regions)
	if chunks == 0 {
		return nil, fmt.Errorf("%w: %s has no records to aggregate", ErrBadAggregate, req.Collection)
	}
	if chunks > circuits.AggMaxChunks {
		return nil, fmt.Errorf("%w: %s spans %d regions of at most %d records, at most %d are supported", ErrBadAggregate, req.Collection, chunks, circuits.AggChunkRows, circuits.AggMaxChunks)
	}
	field := circuits.AggField{Slot: slot, Width: f.BitWidth()}
	if req.Threshold != nil && req.MinGroup > 0 {
		var count uint64
		for i := range regions {
			_, res, err := circuits.AggregateAssignment(prep.Encoded, field, &regions[i], circuits.AggChunkRows, circuits.AggChunkInners, fr.Element{})
			if err != nil {
				return nil, err
			}
			count += res.Count
		}
		if count < req.MinGroup {
			return nil, fmt.Errorf("%w: fewer than %d records match", ErrSmallGroup, req.MinGroup)
		}
	}
	blinds := make([]fr.Element, chunks)
	for i := range blinds {
		if _, err := blinds[i].SetRandom(); err != nil {
			return nil, err
		}
	}
	ck := p.keys[zkv1.Circuit_CIRCUIT_AGGREGATE]
	body := &zkv1.AggregateBody{Field: req.Field, Slot: uint32(slot), ChunkRows: circuits.AggChunkRows, ChunkInners: circuits.AggChunkInners,
		ChunkCircuitId: ck.CircuitID, ChunkVkSha256: ck.VKSHA256, Chunks: make([]*zkv1.AggregateChunk, chunks)}
	out := header(bundle.KindAggregate, req.Collection, records.CollectionID(req.Collection), c.Schema, prep, req.Nonce)
	out.Root, out.Result, out.Aggregate = elem(root), true, body
	parts := make([]circuits.AggResult, chunks)
	errs := make([]error, chunks)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i := range chunks {
		wg.Go(func() {
			errs[i] = func() error {
				reg := &regions[i]
				a, res, err := circuits.AggregateAssignment(prep.Encoded, field, reg, circuits.AggChunkRows, circuits.AggChunkInners, blinds[i])
				if err != nil {
					return err
				}
				proof, err := p.prove(ctx, ck, a)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if _, err := proof.WriteTo(&buf); err != nil {
					return err
				}
				partial, ok := a.Partial.(fr.Element)
				if !ok {
					return fmt.Errorf("aggregate chunk %d: partial is a %T, not a field element", i, a.Partial)
				}
				parts[i] = res
				body.Chunks[i] = &zkv1.AggregateChunk{Partial: elem(partial), Proof: buf.Bytes(), Depth: uint32(reg.Depth), Prefix: reg.Prefix, Root: elem(reg.Root)}
				return nil
			}()
			mu.Lock()
			done++
			if progress != nil {
				progress(done, chunks)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("aggregate: chunk %d: %w", i, err)
		}
	}
	var final frontend.Circuit
	if t := req.Threshold; t != nil {
		a, holds, err := circuits.AggregateThresholdAssignment(circuits.AggMaxChunks, parts, blinds, int(t.Which), int(t.Relation), threshold, offset, req.Nonce)
		if err != nil {
			return nil, err
		}
		final, out.Circuit, out.Result = a, zkv1.Circuit_CIRCUIT_AGGREGATE_THRESHOLD, holds
		body.Answer = &zkv1.AggregateBody_Threshold{Threshold: &zkv1.AggregateThresholdAnswer{Which: t.Which.String(), Relation: t.Relation.String(),
			Threshold: t.Value, Offset: offset, Holds: holds}}
	} else {
		a, res, small, err := circuits.AggregateTotalAssignment(circuits.AggMaxChunks, parts, blinds, req.MinGroup, req.Nonce)
		if err != nil {
			return nil, err
		}
		final, out.Circuit = a, zkv1.Circuit_CIRCUIT_AGGREGATE_TOTAL
		// When small, res is all zero: the bundle shows only that.
		body.Answer = &zkv1.AggregateBody_Reveal{Reveal: &zkv1.AggregateReveal{Count: res.Count, Sum: res.Sum.String(), Min: res.Min, Max: res.Max,
			MinGroup: req.MinGroup, Small: small}}
	}
	return p.finish(ctx, out, final)
}

// proveBytes proves with a circuit's key and encodes the proof.
func (p *Prover) proveBytes(ctx context.Context, k *keys.Proving, a frontend.Circuit) ([]byte, error) {
	proof, err := p.prove(ctx, k, a)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := proof.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
