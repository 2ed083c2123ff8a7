// Package ceremonytest holds test helpers for ceremonies: small circuits
// that set up in a fraction of a second yet have what zkshare's circuits
// have (a BSB22 commitment from a range check, public inputs, and two
// domain sizes, so the smaller one uses a truncated phase 1), their
// witnesses, and participant identities.
package ceremonytest

import (
	"context"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/rangecheck"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/tree"
	"github.com/zkshare/zkshare/zkhash"
)

// Toy proves knowledge of four 16-bit numbers whose squares sum to Sum.
type Toy struct {
	X   [4]frontend.Variable
	Sum frontend.Variable `gnark:",public"`
}

// Define implements frontend.Circuit.
func (c *Toy) Define(api frontend.API) error {
	rc := rangecheck.New(api)
	sum := frontend.Variable(0)
	for _, x := range c.X {
		rc.Check(x, 16)
		sum = api.Add(sum, api.Mul(x, x))
	}
	api.AssertIsEqual(sum, c.Sum)
	return nil
}

// Small proves knowledge of an 8-bit factor pair of Product: fewer
// constraints than Toy, so a smaller domain.
type Small struct {
	A, B    frontend.Variable
	Product frontend.Variable `gnark:",public"`
}

// Define implements frontend.Circuit.
func (c *Small) Define(api frontend.API) error {
	rc := rangecheck.New(api)
	rc.Check(c.A, 8)
	rc.Check(c.B, 8)
	api.AssertIsEqual(api.Mul(c.A, c.B), c.Product)
	return nil
}

// Circuits is a registry of the toy circuits, in the form the ceremony
// package takes.
func Circuits() map[string]func() frontend.Circuit {
	return map[string]func() frontend.Circuit{
		"toy":   func() frontend.Circuit { return &Toy{} },
		"small": func() frontend.Circuit { return &Small{} },
	}
}

// Names are the toy circuits' names.
var Names = []string{"small", "toy"}

// Assignment is a valid full assignment of the named toy circuit.
func Assignment(name string) (frontend.Circuit, error) {
	switch name {
	case "toy":
		return &Toy{X: [4]frontend.Variable{3, 4, 1000, 65535}, Sum: 9 + 16 + 1000*1000 + 65535*65535}, nil
	case "small":
		return &Small{A: 12, B: 250, Product: 3000}, nil
	}
	return nil, fmt.Errorf("ceremonytest: no circuit %q", name)
}

// Identities makes n participant identities named org1, org2, ...
func Identities(n int) ([]*ledger.Identity, error) {
	out := make([]*ledger.Identity, n)
	for i := range out {
		id, err := ledger.NewIdentity(fmt.Sprintf("org%d", i+1))
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}

// SubjectAssignment is a valid full assignment of zkshare's subject
// circuit: a one-record collection, asked a question of no clauses.
func SubjectAssignment() (frontend.Circuit, error) {
	el := func(v uint64) fr.Element { var e fr.Element; e.SetUint64(v); return e }
	schema, collection, nonce, blind := el(77), el(1001), el(555), el(0xb11d)
	r := circuits.Record{Key: zkhash.Digest("zkshare/key/v1", []byte("subject"), 248), Salt: el(9000)}
	r.Values[0] = el(30000)
	store := tree.NewMemory()
	path := zkhash.KeyPath(r.Key)
	if _, err := tree.Apply(context.Background(), store, []tree.Change{{Path: path, Leaf: r.Leaf(schema)}}); err != nil {
		return nil, err
	}
	p, err := tree.Prove(store, path)
	if err != nil {
		return nil, err
	}
	r.Depth, r.Siblings = p.Depth, p.Siblings
	root, err := tree.Root(store)
	if err != nil {
		return nil, err
	}
	q := &circuits.Query{SchemaID: schema}
	for i := range q.Clauses {
		q.Clauses[i] = circuits.NeutralClause()
	}
	a, _, err := circuits.SubjectAssignment(collection, root, nonce, blind, q, &r)
	return a, err
}
