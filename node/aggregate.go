package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
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

// AggregateAnswer is a proven aggregate: the bundle (its encoding), a
// readable statement, the chunks proven and the audit entry's opening.
type AggregateAnswer struct {
	Bundle    []byte
	Statement string
	Chunks    int
	Audit     *zkv1.AuditReceipt
}

// ProveAggregate answers an aggregate question about the collection's
// anchored state, and records an audit entry of it. progress (may be nil)
// hears of each chunk proven.
func (n *Node) ProveAggregate(ctx context.Context, c Caller, q AggregateQuestion, progress func(done, total int)) (*AggregateAnswer, error) {
	coll := n.Qualify(q.Collection)
	if q.Query == "" {
		return nil, invalid("query", "want the question's predicate")
	}
	if q.Field == "" {
		return nil, invalid("field", "name the aggregated field")
	}
	var nonce fr.Element
	if len(q.Nonce) != 32 || nonce.SetBytesCanonical(q.Nonce) != nil {
		return nil, invalid("nonce", "want 32 bytes, a BN254 scalar (big-endian, below the modulus), fresh for every question")
	}
	var th *prover.Threshold
	mode := zkv1.AggregateMode_AGGREGATE_MODE_REVEAL
	if t := q.Threshold; t != nil {
		th = &prover.Threshold{Which: t.GetAggregate(), Relation: t.GetRelation(), Value: t.GetValue()}
		mode = zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD
	}
	if _, ok := n.ledger.State().Collections[collectionKey(coll)]; !ok {
		return nil, errorf(ErrNotFound, "collection: %q is not registered", coll)
	}
	minGroup, err := n.policies.allow(coll, c.ID, question{kind: zkv1.StatementKind_STATEMENT_KIND_AGGREGATE, query: q.Query, field: q.Field, mode: mode})
	if err != nil {
		return nil, err
	}
	release, err := n.acquireProveSlot()
	if err != nil {
		return nil, err
	}
	defer release()

	n.commitMu.RLock()
	defer n.commitMu.RUnlock()
	b, err := n.prover.Aggregate(ctx, prover.AggregateRequest{Collection: coll, Query: q.Query, Field: q.Field, Threshold: th, Nonce: nonce, MinGroup: uint64(minGroup)},
		func(done, total int) {
			n.log.InfoContext(ctx, "aggregate chunk proven", "collection", coll, "done", done, "total", total)
			if progress != nil {
				progress(done, total)
			}
		})
	if err != nil {
		return nil, err
	}
	// The bundle is about the anchored state: the root and columns of the
	// collection's last anchor.
	lc := n.ledger.State().Collections[collectionKey(coll)]
	cols, err := hex.DecodeString(b.Columns)
	if err != nil {
		return nil, fmt.Errorf("aggregate bundle columns: %w", err)
	}
	root, err := records.ParseElement(b.Root)
	if err != nil {
		return nil, err
	}
	if lc.Last == nil || !bytes.Equal(lc.Last.Root, elemBytes(root)) || !bytes.Equal(lc.Last.Columns, cols) {
		return nil, errorf(ErrFailedPrecondition, "collection: its current state is not anchored with its columns yet; commit again")
	}
	if !lc.Counts(lc.Last.Sequence) {
		return nil, errorf(ErrFailedPrecondition, "collection: anchor %d of its current state awaits %d confirmations", lc.Last.Sequence, lc.Required)
	}
	b.AnchorSequence = lc.Last.Sequence
	raw, err := b.Marshal()
	if err != nil {
		return nil, err
	}
	result := true
	if b.Holds != nil {
		result = *b.Holds
	}
	bh := sha256.Sum256(raw)
	qh, err := records.ParseElement(b.QueryHash)
	if err != nil {
		return nil, fmt.Errorf("aggregate bundle query hash: %w", err)
	}
	ar, err := n.recordAudit(ctx, &zkv1.AuditReceipt{CollectionId: lc.ID, Consumer: c.ID, Statement: bundle.KindAggregate,
		QueryHash: elemBytes(qh), Nonce: elemBytes(nonce), Result: result, BundleHash: bh[:]})
	if err != nil {
		return nil, fmt.Errorf("audit entry: %w", err)
	}
	n.log.InfoContext(ctx, "aggregate served", "collection", coll, "consumer", c.ID, "chunks", len(b.Chunks), "bundle", hex.EncodeToString(bh[:8]))
	return &AggregateAnswer{Bundle: raw, Statement: b.Statement(), Chunks: len(b.Chunks), Audit: ar}, nil
}
