package circuits

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/constraint/solver"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/permutation/poseidon2"
	"github.com/consensys/gnark/std/rangecheck"
	"github.com/consensys/gnark/std/selector"
	"github.com/zkshare/zkshare/zkhash"
)

func init() {
	solver.RegisterHint(LessOrEqualHint)
}

// LessOrEqualHint returns 1 if inputs[0] <= inputs[1], else 0. Its output is
// constrained by lessOrEqual; it is exported so tests can replace it.
func LessOrEqualHint(_ *big.Int, in []*big.Int, out []*big.Int) error {
	if in[0].Cmp(in[1]) <= 0 {
		out[0].SetUint64(1)
	} else {
		out[0].SetUint64(0)
	}
	return nil
}

// Hints lists the hints the circuits use, for provers and test engines.
func Hints() []solver.Hint {
	return []solver.Hint{LessOrEqualHint}
}

func bigOf(e fr.Element) *big.Int { return e.BigInt(new(big.Int)) }

// gadget bundles the in-circuit twins of the native functions in hash.go.
type gadget struct {
	api   frontend.API
	rc    frontend.Rangechecker
	perms map[int]*poseidon2.Permutation
}

func newGadget(api frontend.API) *gadget {
	return &gadget{api: api, rc: rangecheck.New(api), perms: map[int]*poseidon2.Permutation{}}
}

func (g *gadget) perm(width int) *poseidon2.Permutation {
	if p, ok := g.perms[width]; ok {
		return p
	}
	var p *poseidon2.Permutation
	var err error
	if width == 2 {
		p, err = poseidon2.NewPoseidon2(g.api)
	} else {
		p, err = poseidon2.NewPoseidon2FromParameters(g.api, width, 8, widePartialRounds(width))
	}
	if err != nil {
		panic(fmt.Sprintf("poseidon2 width %d: %v", width, err)) // widths are our constants
	}
	g.perms[width] = p
	return p
}

// sponge mirrors Sponge.
func (g *gadget) sponge(width int, tag fr.Element, in []frontend.Variable) frontend.Variable {
	p := g.perm(width)
	state := make([]frontend.Variable, width)
	for i := range state {
		state[i] = 0
	}
	state[width-1] = bigOf(tag)
	rate := width - 1
	for i := 0; i < len(in) || i == 0; i += rate {
		for j := 0; j < rate && i+j < len(in); j++ {
			state[j] = g.api.Add(state[j], in[i+j])
		}
		if err := p.Permutation(state); err != nil {
			panic(err)
		}
	}
	return state[0]
}

// node mirrors Node.
func (g *gadget) node(level int, left, right frontend.Variable) frontend.Variable {
	return g.perm(2).Compress(g.api.Add(left, bigOf(zkhash.NodeTag(level))), right)
}

// leaf mirrors Leaf, and range-checks every slot to SlotBits so that the
// packing is injective.
func (g *gadget) leaf(schemaID, key, salt frontend.Variable, values []frontend.Variable) frontend.Variable {
	in := []frontend.Variable{schemaID, key, salt}
	shift := new(big.Int).Lsh(big.NewInt(1), SlotBits)
	for j := 0; j < MaxFields; j += 2 {
		g.rc.Check(values[j], SlotBits)
		g.rc.Check(values[j+1], SlotBits)
		in = append(in, g.api.Add(values[j], g.api.Mul(values[j+1], shift)))
	}
	return g.sponge(leafWidth, tagLeaf, in)
}

// lessOrEqual returns 1 if a <= b, else 0, for a and b known to be below
// 2^64: the hint's bit selects which difference must lie in [0, 2^64).
func (g *gadget) lessOrEqual(a, b frontend.Variable) frontend.Variable {
	return g.lessOrEqualBits(a, b, MaxWidth)
}

// lessOrEqualWide is lessOrEqual for inputs below 2^thresholdBits.
func (g *gadget) lessOrEqualWide(a, b frontend.Variable) frontend.Variable {
	return g.lessOrEqualBits(a, b, thresholdBits)
}

// lessOrEqualBits compares a and b known to be below 2^bits.
func (g *gadget) lessOrEqualBits(a, b frontend.Variable, bits int) frontend.Variable {
	out, err := g.api.Compiler().NewHint(LessOrEqualHint, 1, a, b)
	if err != nil {
		panic(err)
	}
	le := out[0]
	g.api.AssertIsBoolean(le)
	// le=1: b-a >= 0; le=0: a-b-1 >= 0. (2le-1)(b-a) - (1-le).
	d := g.api.Sub(g.api.Mul(g.api.Sub(g.api.Mul(2, le), 1), g.api.Sub(b, a)), g.api.Sub(1, le))
	g.rc.Check(d, bits)
	return le
}

// pow2 is 2^s for the 6-bit s whose bits are given.
func (g *gadget) pow2(bits []frontend.Variable) frontend.Variable {
	var out frontend.Variable = 1
	for j, b := range bits {
		factor := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 1<<j), big.NewInt(1))
		out = g.api.Mul(out, g.api.Add(1, g.api.Mul(b, factor)))
	}
	return out
}

// checkWidth asserts v < 2^64 and v*scale < 2^64, i.e. v below 2^width for
// scale = 2^(64-width).
func (g *gadget) checkWidth(v, scale frontend.Variable) {
	g.rc.Check(v, MaxWidth)
	g.rc.Check(g.api.Mul(v, scale), MaxWidth)
}

// queryVars is the in-circuit form of a Query.
type queryVars struct {
	SchemaID frontend.Variable
	Header   frontend.Variable
	Bounds   [MaxClauses][2]frontend.Variable // lo, hi
	Pool     [PoolSize]frontend.Variable
}

// hash mirrors Query.Hash; the bounds are range-checked to 64 bits so that
// their packing is injective.
func (g *gadget) queryHash(q *queryVars) frontend.Variable {
	in := []frontend.Variable{q.SchemaID, q.Header}
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	for i := range q.Bounds {
		g.rc.Check(q.Bounds[i][0], 64)
		g.rc.Check(q.Bounds[i][1], 64)
		in = append(in, g.api.Add(q.Bounds[i][0], g.api.Mul(q.Bounds[i][1], two64)))
	}
	in = append(in, q.Pool[:]...)
	return g.sponge(queryWidth, tagQuery, in)
}

// eval evaluates the query on a record's slots and returns 1 or 0. Every
// value a clause reads, unless it is a string digest, is range-checked to the
// clause's declared width, and for an equality clause to its domain (Hi);
// a value outside either makes the proof impossible.
func (g *gadget) eval(q *queryVars, values []frontend.Variable) frontend.Variable {
	api := g.api
	bits := api.ToBinary(q.Header, headerBits)
	var result, outside frontend.Variable = 1, 0
	for i := 0; i < MaxClauses; i++ {
		hb := bits[i*clauseBits : (i+1)*clauseBits]
		mask := bits[MaxClauses*clauseBits+i*PoolSize : MaxClauses*clauseBits+(i+1)*PoolSize]
		v := selector.BinaryMux(api, hb[0:4], values)
		o0, o1, isString := hb[4], hb[5], hb[6]

		// Width: rv < 2^64 and rv*2^(64-width) < 2^64, i.e. rv < 2^width.
		rv := api.Mul(api.Sub(1, isString), v)
		g.checkWidth(rv, g.pow2(hb[7:13]))

		// Equality against the masked pool constants.
		var prod frontend.Variable = 1
		for k := 0; k < PoolSize; k++ {
			prod = api.Mul(prod, api.Add(1, api.Mul(mask[k], api.Sub(v, q.Pool[k], 1))))
		}
		eqAny := api.IsZero(prod)

		// Range: lo <= rv <= hi.
		leHi := g.lessOrEqual(rv, q.Bounds[i][1])
		inRange := api.Mul(g.lessOrEqual(q.Bounds[i][0], rv), leHi)

		isRange := api.Mul(o0, o1)
		isIn := api.Sub(o0, isRange)
		isNotIn := api.Sub(o1, isRange)
		isTrue := api.Sub(api.Add(1, isRange), o0, o1)
		outside = api.Add(outside, g.outOfDomain(api.Add(isIn, isNotIn), leHi))
		r := api.Add(isTrue,
			api.Mul(isIn, eqAny),
			api.Mul(isNotIn, api.Sub(1, eqAny)),
			api.Mul(isRange, inRange))
		result = api.Mul(result, r)
	}
	api.AssertIsEqual(outside, 0)
	return result
}

// outOfDomain is 1 if an equality clause (isEq = 1) reads a value above
// its Hi, the field's domain maximum, else 0; leHi is rv <= Hi, which the
// range test computes anyway. The caller asserts that the sum over all
// clauses is 0 (at most MaxClauses bits: no wrap-around): one constraint per
// clause and one per record.
func (g *gadget) outOfDomain(isEq, leHi frontend.Variable) frontend.Variable {
	return g.api.Mul(isEq, g.api.Sub(1, leHi))
}

// assertNeutralFrom asserts that clauses n.. of a decomposed header are
// "true" (op bits 0), so that evaluating only the first n is the query.
func (g *gadget) assertNeutralFrom(bits []frontend.Variable, n int) {
	for i := n; i < MaxClauses; i++ {
		hb := bits[i*clauseBits : (i+1)*clauseBits]
		g.api.AssertIsEqual(hb[4], 0)
		g.api.AssertIsEqual(hb[5], 0)
	}
}

// keyBits decomposes a 248-bit key digest, so its path bits are the ones
// the digest has (a smaller decomposition could wrap around the field).
func (g *gadget) keyBits(key frontend.Variable) []frontend.Variable {
	return g.api.ToBinary(key, keyDigestBits)
}

// keyDigestBits is the width of key digests (records.KeyDigest).
const keyDigestBits = 248

// walk mirrors TrieRoot: the root above end, which sits at depth on the
// walk of the key whose bits are given. depth is checked to lie in
// 0..Depth: exactly one of depth == 0..Depth holds.
func (g *gadget) walk(end frontend.Variable, keyBits []frontend.Variable, depth frontend.Variable, siblings []frontend.Variable) frontend.Variable {
	api := g.api
	// above[d] is 1 for d < depth: the nodes hashed on the way up.
	above := make([]frontend.Variable, Depth+1)
	seen := frontend.Variable(0) // 1 once d >= depth
	for d := range above {
		seen = api.Add(seen, api.IsZero(api.Sub(depth, d)))
		above[d] = api.Sub(1, seen)
	}
	api.AssertIsEqual(seen, 1)
	cur := end
	for d := Depth - 1; d >= 0; d-- {
		bit := keyBits[keyDigestBits-1-d]
		left := api.Select(bit, siblings[d], cur)
		right := api.Sub(api.Add(cur, siblings[d]), left)
		cur = api.Select(above[d], g.node(d, left, right), cur)
	}
	return cur
}
