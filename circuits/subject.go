package circuits

import "github.com/consensys/gnark/frontend"

// Subject proves that the live record with key K in collection C under root
// R satisfies, or does not satisfy, a query. The result is public, so a
// "no" is proven as firmly as a "yes". The record is the leaf that K's walk
// ends on (tree.go), so no other record with key K can answer instead.
type Subject struct {
	CollectionID  frontend.Variable `gnark:",public"`
	Root          frontend.Variable `gnark:",public"`
	KeyCommitment frontend.Variable `gnark:",public"`
	QueryHash     frontend.Variable `gnark:",public"`
	Result        frontend.Variable `gnark:",public"`
	Nonce         frontend.Variable `gnark:",public"`

	Record RecordVars
	Query  queryVars
	// Blind is the asking verifier's random scalar: it enters the key
	// commitment so that a bundle names its subject only to whoever knows
	// both the key and the blind, even when the key has low entropy.
	Blind frontend.Variable
}

// RecordVars is a committed record and its place in the tree: the depth
// its leaf sits at on its key's walk and the siblings above it.
type RecordVars struct {
	Key      frontend.Variable
	Salt     frontend.Variable
	Values   [MaxFields]frontend.Variable
	Depth    frontend.Variable
	Siblings [Depth]frontend.Variable
}

// root is the root above the record's leaf, walked by the record's own key.
func (g *gadget) recordRoot(schemaID frontend.Variable, r *RecordVars) frontend.Variable {
	leaf := g.leaf(schemaID, r.Key, r.Salt, r.Values[:])
	return g.walk(leaf, g.keyBits(r.Key), r.Depth, r.Siblings[:])
}

// Define implements frontend.Circuit.
func (c *Subject) Define(api frontend.API) error {
	g := newGadget(api)
	api.AssertIsEqual(g.recordRoot(c.Query.SchemaID, &c.Record), c.Root)
	api.AssertIsEqual(g.sponge(keyWidth, tagKey, []frontend.Variable{c.CollectionID, c.Record.Key, c.Nonce, c.Blind}), c.KeyCommitment)
	api.AssertIsEqual(g.queryHash(&c.Query), c.QueryHash)
	api.AssertIsEqual(g.eval(&c.Query, c.Record.Values[:]), c.Result)
	return nil
}

// Exists proves that some live record of collection C under root R
// satisfies a query, without telling which.
type Exists struct {
	CollectionID frontend.Variable `gnark:",public"`
	Root         frontend.Variable `gnark:",public"`
	QueryHash    frontend.Variable `gnark:",public"`
	Nonce        frontend.Variable `gnark:",public"`

	Record RecordVars
	Query  queryVars
}

// Define implements frontend.Circuit.
func (c *Exists) Define(api frontend.API) error {
	g := newGadget(api)
	api.AssertIsEqual(g.recordRoot(c.Query.SchemaID, &c.Record), c.Root)
	api.AssertIsEqual(g.queryHash(&c.Query), c.QueryHash)
	api.AssertIsEqual(g.eval(&c.Query, c.Record.Values[:]), 1)
	// The collection id and nonce take part in no other constraint; these
	// squares make them part of the proof, so neither can be swapped.
	api.Mul(c.CollectionID, c.CollectionID)
	api.Mul(c.Nonce, c.Nonce)
	return nil
}

// Absent proves that collection C under root R has no live record with key
// K: K's walk ends on an empty slot, or on the leaf of another key. The key
// is public only as a commitment, bound to the asker's nonce and blind as a
// subject's is.
type Absent struct {
	CollectionID  frontend.Variable `gnark:",public"`
	Root          frontend.Variable `gnark:",public"`
	KeyCommitment frontend.Variable `gnark:",public"`
	Nonce         frontend.Variable `gnark:",public"`

	Key   frontend.Variable
	Blind frontend.Variable
	// Empty is 1 when K's walk ends on an empty slot; otherwise Other is
	// the leaf's sponge input there (schema, key, salt, packed values),
	// whose key must differ from K.
	Empty    frontend.Variable
	Other    [leafInputs]frontend.Variable
	Depth    frontend.Variable
	Siblings [Depth]frontend.Variable
}

// Define implements frontend.Circuit.
func (c *Absent) Define(api frontend.API) error {
	g := newGadget(api)
	api.AssertIsBoolean(c.Empty)
	// The other leaf is opened as raw sponge input: it need not be a well
	// formed record, only a leaf (not an inner node) of a different key.
	other := g.sponge(leafWidth, tagLeaf, c.Other[:])
	differs := api.Sub(1, api.IsZero(api.Sub(c.Other[1], c.Key)))
	api.AssertIsEqual(api.Add(c.Empty, differs), api.Add(1, api.Mul(c.Empty, differs)))
	end := api.Select(c.Empty, 0, other)
	api.AssertIsEqual(g.walk(end, g.keyBits(c.Key), c.Depth, c.Siblings[:]), c.Root)
	api.AssertIsEqual(g.sponge(keyWidth, tagKey, []frontend.Variable{c.CollectionID, c.Key, c.Nonce, c.Blind}), c.KeyCommitment)
	return nil
}
