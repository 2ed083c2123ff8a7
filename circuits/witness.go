package circuits

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/zkshare/zkshare/zkhash"
)

// Record is a committed record as the prover holds it: key digest, salt,
// value slots, and its place in the collection tree: the depth its leaf
// sits at on its key's walk, and the siblings above it.
type Record struct {
	Key      fr.Element
	Salt     fr.Element
	Values   [MaxFields]fr.Element
	Depth    int
	Siblings [Depth]fr.Element
}

// Root is the root the record's path leads to.
func (r *Record) Root(schemaID fr.Element) (fr.Element, error) {
	return zkhash.TrieRoot(r.Leaf(schemaID), zkhash.KeyPath(r.Key), r.Depth, &r.Siblings)
}

// checkRoot says whether the record's path leads to root.
func (r *Record) checkRoot(schemaID, root fr.Element) error {
	got, err := r.Root(schemaID)
	if err != nil {
		return err
	}
	if !got.Equal(&root) {
		return fmt.Errorf("record path does not lead to root")
	}
	return nil
}

// Leaf returns the record's commitment under a schema.
func (r *Record) Leaf(schemaID fr.Element) fr.Element {
	return zkhash.Leaf(schemaID, r.Key, r.Salt, &r.Values)
}

func (r *Record) vars() RecordVars {
	v := RecordVars{Key: r.Key, Salt: r.Salt, Depth: r.Depth}
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
	if err := r.checkRoot(q.SchemaID, root); err != nil {
		return nil, false, err
	}
	kc := zkhash.KeyCommitment(collection, r.Key, nonce, blind)
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
	if err := r.checkRoot(q.SchemaID, root); err != nil {
		return nil, err
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

// Absence is where a key's walk ends in a tree that does not hold it: an
// empty slot (Other nil) or another key's leaf, at Depth below the root.
type Absence struct {
	Key      fr.Element
	Depth    int
	Siblings [Depth]fr.Element
	// Other is the leaf's sponge input (LeafInput), nil for an empty slot.
	Other *[leafInputs]fr.Element
}

// End is the node the key's walk ends on.
func (a *Absence) End() fr.Element {
	if a.Other == nil {
		return fr.Element{}
	}
	return zkhash.Sponge(leafWidth, tagLeaf, a.Other[:])
}

// Root is the root the absence's path leads to.
func (a *Absence) Root() (fr.Element, error) {
	return zkhash.TrieRoot(a.End(), zkhash.KeyPath(a.Key), a.Depth, &a.Siblings)
}

// AbsentAssignment builds a full witness for the absent circuit.
func AbsentAssignment(collection, root, nonce, blind fr.Element, a *Absence) (*Absent, error) {
	if a.Other != nil && a.Other[1].Equal(&a.Key) {
		return nil, fmt.Errorf("the key is present: its walk ends on its own leaf")
	}
	got, err := a.Root()
	if err != nil {
		return nil, err
	}
	if !got.Equal(&root) {
		return nil, fmt.Errorf("absence path does not lead to root")
	}
	w := &Absent{CollectionID: collection, Root: root, KeyCommitment: zkhash.KeyCommitment(collection, a.Key, nonce, blind), Nonce: nonce,
		Key: a.Key, Blind: blind, Empty: boolToInt(a.Other == nil), Depth: a.Depth}
	for i := range w.Other {
		w.Other[i] = 0
		if a.Other != nil {
			w.Other[i] = a.Other[i]
		}
	}
	for i := range a.Siblings {
		w.Siblings[i] = a.Siblings[i]
	}
	return w, nil
}

// AbsentPublic is the public part of an absent witness, for verifiers.
func AbsentPublic(collection, root, keyCommitment, nonce fr.Element) *Absent {
	return &Absent{CollectionID: collection, Root: root, KeyCommitment: keyCommitment, Nonce: nonce}
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
