package node

import (
	"context"
	"errors"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
)

// AggregateQuestion is a consumer's aggregate question over a whole
// collection.
type AggregateQuestion struct {
	// Collection is short (this node's holder's) or HOLDER/NAME.
	Collection string
	// Query selects the records; Field is the aggregated field.
	Query, Field string
	// Threshold, when set, compares the aggregate with a public value
	// instead of revealing it.
	Threshold *zkv1.AggregateThreshold
	// Nonce is the asker's 32-byte BN254 scalar, fresh for each question.
	Nonce []byte
}

// AggregateAnswer is a proven aggregate: the bundle, a
// readable statement, the chunks proven and the audit entry's opening.
type AggregateAnswer struct {
	Bundle    *zkv1.Bundle
	Statement string
	Chunks    int
	Audit     *zkv1.AuditReceipt
}

// ProveAggregate answers an aggregate question about the collection's
// anchored state, and records an audit entry of it. progress (may be nil)
// hears of each chunk proven.
func (n *Node) ProveAggregate(ctx context.Context, c Caller, q AggregateQuestion, progress func(done, total int)) (*AggregateAnswer, error) {
	coll := n.Qualify(q.Collection)
	if q.Query == "" || len(q.Query) > MaxQueryBytes {
		return nil, invalid("query", "want the question's predicate, 1 to %d bytes", MaxQueryBytes)
	}
	if q.Field == "" || len(q.Field) > MaxValueBytes {
		return nil, invalid("field", "name the aggregated field")
	}
	if len(q.Threshold.GetValue()) > MaxValueBytes {
		return nil, invalid("threshold.value", "too long")
	}
	var nonce fr.Element
	if len(q.Nonce) != 32 || nonce.SetBytesCanonical(q.Nonce) != nil {
		return nil, invalid("nonce", "want 32 bytes, a BN254 scalar (big-endian, below the modulus), fresh for every question")
	}
	var th *prover.Threshold
	mode := zkv1.AggregateMode_AGGREGATE_MODE_REVEAL
	if t := q.Threshold; t != nil {
		var err error
		if th, err = threshold("threshold", t); err != nil {
			return nil, err
		}
		mode = zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD
	}
	if _, ok := n.ledger.State().Collections[collectionKey(coll)]; !ok {
		return nil, errorf(ErrNotFound, "collection: %q is not registered", coll)
	}
	minGroup, err := n.policies.allow(coll, c.ID, question{kind: zkv1.StatementKind_STATEMENT_KIND_AGGREGATE, query: q.Query, field: q.Field, mode: mode})
	if err != nil {
		return nil, err
	}
	final := "aggregate-total"
	if th != nil {
		final = "aggregate-threshold"
	}
	if err := n.keysRegistered("aggregate", final); err != nil {
		return nil, err
	}
	release, err := n.acquireProveSlot()
	if err != nil {
		return nil, err
	}
	defer release()

	if err := n.syncReadings(ctx, coll); err != nil {
		return nil, err
	}
	version, seq, err := n.provable(coll)
	if err != nil && !errors.Is(err, holder.ErrNotFound) {
		return nil, err
	}
	pb, err := n.prover.Aggregate(ctx, prover.AggregateRequest{Collection: coll, Query: q.Query, Field: q.Field, Threshold: th, Nonce: nonce, MinGroup: uint64(minGroup), Version: version},
		func(done, total int) {
			n.log.InfoContext(ctx, "aggregate chunk proven", "collection", coll, "done", done, "total", total)
			if progress != nil {
				progress(done, total)
			}
		})
	if err != nil {
		return nil, err
	}
	// The bundle is about the anchored state: the root of the
	// collection's last anchor, which must count.
	ar, err := n.serve(ctx, c, pb, seq)
	if err != nil {
		return nil, err
	}
	return &AggregateAnswer{Bundle: pb, Statement: bundle.Statement(pb), Chunks: len(pb.GetAggregate().GetChunks()), Audit: ar}, nil
}

// threshold reads a request's threshold; field names it in errors.
func threshold(field string, t *zkv1.AggregateThreshold) (*records.Threshold, error) {
	which, err := records.ParseAggregate(t.GetAggregate())
	if err != nil {
		return nil, invalid(field+".aggregate", "%v", err)
	}
	rel, err := records.ParseRelation(t.GetRelation())
	if err != nil {
		return nil, invalid(field+".relation", "%v", err)
	}
	return &records.Threshold{Which: which, Relation: rel, Value: t.GetValue()}, nil
}
