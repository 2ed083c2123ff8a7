package circuits

import "github.com/consensys/gnark/frontend"

// Subject proves that the live record with key K in collection C under root
// R satisfies, or does not satisfy, a query. The result is public, so a
// "no" is proven as firmly as a "yes".
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

// RecordVars is a committed record and its place in the tree.
type RecordVars struct {
	Key      frontend.Variable
	Salt     frontend.Variable
	Values   [MaxFields]frontend.Variable
	Index    frontend.Variable
	Siblings [Depth]frontend.Variable
}

// Define implements frontend.Circuit.
func (c *Subject) Define(api frontend.API) error {
	g := newGadget(api)
	leaf := g.leaf(c.Query.SchemaID, c.Record.Key, c.Record.Salt, c.Record.Values[:])
	api.AssertIsEqual(g.root(leaf, c.Record.Index, c.Record.Siblings[:]), c.Root)
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
	leaf := g.leaf(c.Query.SchemaID, c.Record.Key, c.Record.Salt, c.Record.Values[:])
	api.AssertIsEqual(g.root(leaf, c.Record.Index, c.Record.Siblings[:]), c.Root)
	api.AssertIsEqual(g.queryHash(&c.Query), c.QueryHash)
	api.AssertIsEqual(g.eval(&c.Query, c.Record.Values[:]), 1)
	// The collection id and nonce take part in no other constraint; these
	// squares make them part of the proof, so neither can be swapped.
	api.Mul(c.CollectionID, c.CollectionID)
	api.Mul(c.Nonce, c.Nonce)
	return nil
}
