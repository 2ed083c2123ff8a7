package circuits

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
)

// Record is a committed record as the prover holds it: key digest, salt,
// value slots, and its position and path in the collection tree.
type Record struct {
	Key      fr.Element
	Salt     fr.Element
	Values   [MaxFields]fr.Element
	Index    uint64
	Siblings [Depth]fr.Element
}

// Leaf returns the record's commitment under a schema.
func (r *Record) Leaf(schemaID fr.Element) fr.Element {
	return Leaf(schemaID, r.Key, r.Salt, &r.Values)
}

func (r *Record) vars() RecordVars {
	v := RecordVars{Key: r.Key, Salt: r.Salt, Index: r.Index}
	for i := range r.Values {
		v.Values[i] = r.Values[i]
	}
	for i := range r.Siblings {
		v.Siblings[i] = r.Siblings[i]
	}
	return v
}

func (q *Query) vars() queryVars {
	v := queryVars{SchemaID: q.SchemaID, Header: q.Header()}
	for i, c := range q.Clauses {
		v.Bounds[i] = [2]frontend.Variable{c.Lo, c.Hi}
	}
	for i := range q.Pool {
		v.Pool[i] = q.Pool[i]
	}
	return v
}

// SubjectAssignment builds a full witness for the subject circuit and
// returns the result it proves; blind is the asking verifier's key blind
// (see KeyCommitment).
func SubjectAssignment(collection, root, nonce, blind fr.Element, q *Query, r *Record) (*Subject, bool, error) {
	if err := q.Validate(); err != nil {
		return nil, false, err
	}
	result, err := q.Eval(&r.Values)
	if err != nil {
		return nil, false, err
	}
	if got := Root(r.Leaf(q.SchemaID), r.Index, &r.Siblings); !got.Equal(&root) {
		return nil, false, fmt.Errorf("record path does not lead to root")
	}
	kc := KeyCommitment(collection, r.Key, nonce, blind)
	return &Subject{
		CollectionID:  collection,
		Root:          root,
		KeyCommitment: kc,
		QueryHash:     q.Hash(),
		Result:        boolToInt(result),
		Nonce:         nonce,
		Record:        r.vars(),
		Query:         q.vars(),
		Blind:         blind,
	}, result, nil
}

// ExistsAssignment builds a full witness for the exists circuit; r must
// satisfy q.
func ExistsAssignment(collection, root, nonce fr.Element, q *Query, r *Record) (*Exists, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	ok, err := q.Eval(&r.Values)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("record does not satisfy the query")
	}
	if got := Root(r.Leaf(q.SchemaID), r.Index, &r.Siblings); !got.Equal(&root) {
		return nil, fmt.Errorf("record path does not lead to root")
	}
	return &Exists{
		CollectionID: collection,
		Root:         root,
		QueryHash:    q.Hash(),
		Nonce:        nonce,
		Record:       r.vars(),
		Query:        q.vars(),
	}, nil
}

// SubjectPublic is the public part of a subject witness, for verifiers.
func SubjectPublic(collection, root, keyCommitment, queryHash, nonce fr.Element, result bool) *Subject {
	return &Subject{CollectionID: collection, Root: root, KeyCommitment: keyCommitment,
		QueryHash: queryHash, Result: boolToInt(result), Nonce: nonce}
}

// ExistsPublic is the public part of an exists witness, for verifiers.
func ExistsPublic(collection, root, queryHash, nonce fr.Element) *Exists {
	return &Exists{CollectionID: collection, Root: root, QueryHash: queryHash, Nonce: nonce}
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
