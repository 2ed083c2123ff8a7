package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
)

// KindAggregate is an aggregate statement over a whole collection.
const KindAggregate = "aggregate"

// Aggregate is a proof that an aggregate of one field, over every live
// record of a collection that satisfies a query, is what it says (reveal
// mode) or stands in a relation to a threshold (threshold mode, one bit).
// Each chunk's proof shows only a blinded commitment to its partial result.
type Aggregate struct {
	Version      int             `json:"version"`
	Kind         string          `json:"kind"`
	Collection   string          `json:"collection"`
	CollectionID string          `json:"collection_id"`
	Schema       json.RawMessage `json:"schema"`
	Query        string          `json:"query"`
	QueryHash    string          `json:"query_hash"`
	Nonce        string          `json:"nonce"` // the asking verifier's, bound into the combining proof
	Field        string          `json:"field"`
	Slot         int             `json:"slot"`
	Root         string          `json:"root"`    // the collection root the columns were anchored with
	Columns      string          `json:"columns"` // hex digest of the chunks' column commitments
	// AnchorSequence is the collection's anchor of Root and Columns, when
	// the bundle was made by a node (0 from a bare holder store).
	AnchorSequence uint64     `json:"anchor_sequence,omitempty"`
	ChunkRows      int        `json:"chunk_rows"`
	Chunks         []AggChunk `json:"chunks"`

	// Reveal mode: the aggregates, in the field's encoding (Sum as a
	// canonical decimal string), unless fewer than MinGroup records matched:
	// then Small is true and the aggregates are all zero.
	Count    *uint64 `json:"count,omitempty"`
	Sum      string  `json:"sum,omitempty"`
	Min      *uint64 `json:"min,omitempty"`
	Max      *uint64 `json:"max,omitempty"`
	MinGroup uint64  `json:"min_group,omitempty"`
	Small    bool    `json:"small,omitempty"`

	// Threshold mode: which aggregate, the relation, the threshold (decimal,
	// in the circuit's terms), the field's signed offset, and the answer.
	Which     string `json:"which,omitempty"`    // count, sum, min, max
	Relation  string `json:"relation,omitempty"` // <=, >=, ==
	Threshold string `json:"threshold,omitempty"`
	Offset    uint64 `json:"offset,omitempty"`
	Holds     *bool  `json:"holds,omitempty"`

	Circuit      string `json:"circuit"` // aggregate-total or aggregate-threshold
	CircuitID    string `json:"circuit_id"`
	VKSHA256     string `json:"vk_sha256"`
	ChunkCircuit string `json:"chunk_circuit_id"`
	ChunkVK      string `json:"chunk_vk_sha256"`
	Proof        []byte `json:"proof"`
}

// AggChunk is one chunk's partial commitment and proof (which carries the
// chunk's column commitment).
type AggChunk struct {
	Partial string `json:"partial"`
	Proof   []byte `json:"proof"`
}

// MaxAggregateSize bounds an encoded aggregate bundle (128 chunk proofs).
const MaxAggregateSize = 1 << 20

// Marshal encodes an aggregate bundle as indented JSON.
func (a *Aggregate) Marshal() ([]byte, error) { return json.MarshalIndent(a, "", "  ") }

// ParseAggregate decodes an aggregate bundle strictly.
func ParseAggregate(data []byte) (*Aggregate, error) {
	var a Aggregate
	if err := decodeStrict(data, MaxAggregateSize, "aggregate bundle", &a); err != nil {
		return nil, err
	}
	if a.Version != Version || a.Kind != KindAggregate {
		return nil, fmt.Errorf("aggregate bundle: version %d kind %q", a.Version, a.Kind)
	}
	reveal := a.Count != nil && a.Min != nil && a.Max != nil && a.Sum != ""
	threshold := a.Which != "" && a.Relation != "" && a.Threshold != "" && a.Holds != nil
	switch {
	case reveal && !threshold && a.Circuit == "aggregate-total":
	case threshold && !reveal && a.Circuit == "aggregate-threshold":
	default:
		return nil, errors.New("aggregate bundle: want the reveal fields with aggregate-total, or the threshold fields with aggregate-threshold")
	}
	if a.Nonce == "" {
		return nil, errors.New("aggregate bundle: no nonce")
	}
	if threshold && (a.MinGroup != 0 || a.Small) {
		return nil, errors.New("aggregate bundle: min_group and small belong to revealed aggregates")
	}
	if a.Small && (a.MinGroup == 0 || *a.Count != 0 || a.Sum != "0" || *a.Min != 0 || *a.Max != 0) {
		return nil, errors.New("aggregate bundle: a small group has a min_group and zero aggregates")
	}
	return &a, nil
}

// Statement renders the aggregate's claim in words.
func (a *Aggregate) Statement() string {
	if a.Holds != nil {
		verdict := "holds"
		if !*a.Holds {
			verdict = "does not hold"
		}
		what := a.Which + "(" + a.Field + ")"
		if a.Which == "count" {
			what = "count"
		}
		return fmt.Sprintf("over every record of %s where %s: %s %s %s %s", a.Collection, a.Query, what, a.Relation, a.Threshold, verdict)
	}
	if a.Small {
		return fmt.Sprintf("over every record of %s where %s: fewer than %d records match (aggregates of %s withheld)", a.Collection, a.Query, a.MinGroup, a.Field)
	}
	return fmt.Sprintf("over every record of %s where %s: count %d, sum %s, min %d, max %d of %s (encoded)", a.Collection, a.Query, *a.Count, a.Sum, *a.Min, *a.Max, a.Field)
}
