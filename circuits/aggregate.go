package circuits

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/multicommit"
	"github.com/consensys/gnark/std/selector"
	"github.com/zkshare/zkshare/zkhash"
)

// Aggregate proves COUNT, SUM, MIN and MAX of one field over every record
// of a region of the collection tree that satisfies a query.
//
// A region is a node of the tree (public: its depth, prefix and hash) and
// everything under it. The circuit is given the region's leaves (records)
// and inner nodes, hashes every one of them, and proves with a multiset
// argument that together they are exactly the tree under the region's
// node: every non-empty child an inner node names is one leaf row or one
// inner slot at the child's place, and every leaf row and used inner slot
// is named once, by its parent or as the region's node. A leaf's place is
// derived from its own key, so each leaf sits where its key's walk ends:
// the records counted are exactly those that subject, exists and absent
// proofs see. The verifier recomputes the anchored root from the regions'
// hashes (tree.RootOfRegions), so no record is left out or counted twice.
//
// The multiset argument compares products of (g - d - b*p - b^2*h) over the
// (depth, prefix, hash) tuples of both sides, at challenges b and g that
// come from gnark's commitment to every tuple wire and public input
// (Schwartz-Zippel, twice: equal products at g mean equal multisets of the
// compressed tuples, equal compressed tuples at b mean equal tuples).
//
// The query's first AggClauses clauses run on every row; the others must be
// neutral. BenchmarkAggregate reports constraints per row.
type Aggregate struct {
	QueryHash frontend.Variable `gnark:",public"`
	Field     frontend.Variable `gnark:",public"` // the aggregated slot
	// FieldWidth is the aggregated field's declared width (1..64): its
	// values are range-checked to it, as every compared value is.
	FieldWidth frontend.Variable `gnark:",public"`
	// Partial is zkhash.PartialCommitment(Count, Sum, Min, Max, Blind): the chunk's
	// result stays hidden; AggregateTotal opens and combines the partials.
	// An empty result is count 0, sum 0, min 2^64-1, max 0.
	Partial frontend.Variable `gnark:",public"`
	// The region: the node at Depth whose prefix is Prefix (the top Depth
	// bits of its key paths, the rest zero), and its hash Root.
	Depth  frontend.Variable `gnark:",public"`
	Prefix frontend.Variable `gnark:",public"`
	Root   frontend.Variable `gnark:",public"`
	Blind  frontend.Variable
	// Top is Prefix's top Depth bits: Prefix = Top * 2^(64-Depth).
	Top frontend.Variable

	Query  queryVars
	Leaves []AggLeafVars
	Inners []AggInnerVars
}

// AggClauses is how many clauses an aggregate's query may have.
const AggClauses = 4

// ErrAggClauses means an aggregate's query has more than AggClauses clauses.
var ErrAggClauses = fmt.Errorf("an aggregate's query has at most %d clauses", AggClauses)

// AggLeafVars is one leaf row of a region: a record and its place, or an
// unused row (Live 0).
type AggLeafVars struct {
	Live   frontend.Variable
	Key    frontend.Variable
	Salt   frontend.Variable
	Values [MaxFields]frontend.Variable
	// Depth is where the leaf sits; Path and Low split the key digest
	// (Key = Path*2^184 + Low), and Rem is Path's bits below Depth.
	Depth, Path, Low, Rem frontend.Variable
}

// AggInnerVars is one inner node slot of a region: the node at Depth with
// Prefix and its children's hashes, or an unused slot (Used 0).
type AggInnerVars struct {
	Used, Depth, Prefix, Left, Right frontend.Variable
}

// NewAggregate returns an aggregate circuit over regions of at most leaves
// records and inners inner nodes, ready to compile.
func NewAggregate(leaves, inners int) *Aggregate {
	return &Aggregate{Leaves: make([]AggLeafVars, leaves), Inners: make([]AggInnerVars, inners)}
}

// lowBits is the width of a key digest below its path.
const lowBits = keyDigestBits - Depth

// tuple is a (depth, prefix, hash) of the multiset argument, counted when
// on is 1.
type tuple struct{ on, depth, prefix, hash frontend.Variable }

// clausePlan is what the rows share of one clause: computed once per chunk.
type clausePlan struct {
	sel                                       []frontend.Variable // field slot bits
	notString, isTrue, isNotIn, isRange, isEq frontend.Variable
	scale                                     frontend.Variable // 2^(64-width)
	inSign                                    frontend.Variable // isIn - isNotIn
	coeffs                                    [MaxInValues + 1]frontend.Variable
	lo, hi                                    frontend.Variable
}

// plan decodes clause i and expands its equality constants into the
// coefficients of P(x) = prod (x - c) over the clause's masked constants, so
// that each row pays a degree-MaxInValues Horner evaluation, not PoolSize
// products.
func (g *gadget) plan(header []frontend.Variable, q *queryVars, i int) clausePlan {
	api := g.api
	hb := header[i*clauseBits : (i+1)*clauseBits]
	mask := header[MaxClauses*clauseBits+i*PoolSize : MaxClauses*clauseBits+(i+1)*PoolSize]
	o0, o1 := hb[4], hb[5]
	p := clausePlan{sel: hb[0:4], notString: api.Sub(1, hb[6]), scale: g.pow2(hb[7:13]), lo: q.Bounds[i][0], hi: q.Bounds[i][1]}
	p.isRange = api.Mul(o0, o1)
	isIn := api.Sub(o0, p.isRange)
	p.isNotIn = api.Sub(o1, p.isRange)
	p.isTrue = api.Sub(api.Add(1, p.isRange), o0, o1)
	p.inSign = api.Sub(isIn, p.isNotIn)
	p.isEq = api.Add(isIn, p.isNotIn)
	// Factor k is 1 + m_k (x - c_k - 1): x - c_k when masked, 1 when not.
	poly := make([]frontend.Variable, PoolSize+1)
	poly[0] = 1
	for d := 1; d <= PoolSize; d++ {
		poly[d] = 0
	}
	for k := 0; k < PoolSize; k++ {
		a := api.Sub(1, api.Mul(mask[k], api.Add(q.Pool[k], 1)))
		next := make([]frontend.Variable, PoolSize+1)
		for d := 0; d <= PoolSize; d++ {
			next[d] = api.Mul(a, poly[d])
			if d > 0 {
				next[d] = api.Add(next[d], api.Mul(mask[k], poly[d-1]))
			}
		}
		poly = next
	}
	// A clause tests at most MaxInValues constants (the query language's
	// limit, and the verifier parses the query): higher terms must vanish.
	for d := MaxInValues + 1; d <= PoolSize; d++ {
		api.AssertIsEqual(poly[d], 0)
	}
	copy(p.coeffs[:], poly)
	return p
}

// evalRow evaluates the planned clauses on a row's values: 1 or 0. Every
// number a clause reads is range-checked to its declared width, and for an
// equality clause to its domain (Hi), so a committed value outside either
// makes the chunk unprovable, not miscounted.
func (g *gadget) evalRow(plans []clausePlan, values []frontend.Variable) frontend.Variable {
	api := g.api
	var result, outside frontend.Variable = 1, 0
	for i := range plans {
		p := &plans[i]
		v := selector.BinaryMux(api, p.sel, values)
		rv := api.Mul(p.notString, v)
		g.checkWidth(rv, p.scale)
		acc := p.coeffs[MaxInValues]
		for d := MaxInValues - 1; d >= 0; d-- {
			acc = api.Add(api.Mul(acc, v), p.coeffs[d])
		}
		eqAny := api.IsZero(acc)
		leHi := g.lessOrEqual(rv, p.hi)
		outside = api.Add(outside, g.outOfDomain(p.isEq, leHi))
		inRange := api.Mul(g.lessOrEqual(p.lo, rv), leHi)
		r := api.Add(p.isTrue, p.isNotIn, api.Mul(eqAny, p.inSign), api.Mul(p.isRange, inRange))
		result = api.Mul(result, r)
	}
	api.AssertIsEqual(outside, 0)
	return result
}

// Define implements frontend.Circuit.
func (c *Aggregate) Define(api frontend.API) error {
	if len(c.Leaves) == 0 || len(c.Inners) == 0 {
		return errors.New("aggregate: no rows")
	}
	g := newGadget(api)
	api.AssertIsEqual(g.queryHash(&c.Query), c.QueryHash)
	header := api.ToBinary(c.Query.Header, headerBits)
	g.assertNeutralFrom(header, AggClauses)
	plans := make([]clausePlan, AggClauses)
	for i := range plans {
		plans[i] = g.plan(header, &c.Query, i)
	}
	fieldBits := api.ToBinary(c.Field, 4)
	fieldScale := g.pow2(api.ToBinary(api.Sub(MaxWidth, c.FieldWidth), 6)) // width in 1..64
	maxU64 := new(big.Int).SetUint64(math.MaxUint64)
	two184 := new(big.Int).Lsh(big.NewInt(1), lowBits)

	// The region is a place in the tree: depth 0..64, and a prefix whose
	// bits below the depth are zero.
	api.ToBinary(c.Depth, 7)
	g.rc.Check(c.Top, Depth)
	api.AssertIsEqual(c.Prefix, api.Mul(c.Top, g.pow2(api.ToBinary(api.Sub(Depth, c.Depth), 7))))
	g.rc.Check(c.Prefix, Depth)

	// named: the region's node and every non-empty child; placed: every
	// leaf row and used inner slot.
	named := []tuple{{1, c.Depth, c.Prefix, c.Root}}
	placed := make([]tuple, 0, len(c.Leaves)+len(c.Inners))
	committed := []frontend.Variable{c.QueryHash, c.Field, c.FieldWidth, c.Partial, c.Depth, c.Prefix, c.Root}

	var count, sum frontend.Variable = 0, 0
	var minV, maxV frontend.Variable = maxU64, 0
	for i := range c.Leaves {
		r := &c.Leaves[i]
		api.AssertIsBoolean(r.Live)
		h := g.leaf(c.Query.SchemaID, r.Key, r.Salt, r.Values[:])
		g.rc.Check(r.Path, Depth)
		g.rc.Check(r.Low, lowBits)
		api.AssertIsEqual(r.Key, api.Add(api.Mul(r.Path, two184), r.Low))
		// Rem < 2^(Depth-depth): Rem and Rem*2^depth both below 2^64, so
		// Path-Rem is the only prefix of depth bits the path can have.
		g.rc.Check(r.Rem, Depth)
		g.rc.Check(api.Mul(r.Rem, g.pow2(api.ToBinary(r.Depth, 7))), Depth)
		prefix := api.Sub(r.Path, r.Rem)
		placed = append(placed, tuple{r.Live, r.Depth, prefix, h})
		committed = append(committed, r.Live, r.Depth, prefix, h)

		inc := api.Mul(r.Live, g.evalRow(plans, r.Values[:]))
		v := selector.BinaryMux(api, fieldBits, r.Values[:])
		g.checkWidth(v, fieldScale)
		counted := api.Mul(inc, v)
		count = api.Add(count, inc)
		sum = api.Add(sum, counted)
		candMin := api.Select(inc, v, maxU64)
		minV = api.Select(g.lessOrEqual(candMin, minV), candMin, minV)
		maxV = api.Select(g.lessOrEqual(maxV, counted), counted, maxV)
	}
	for i := range c.Inners {
		n := &c.Inners[i]
		api.AssertIsBoolean(n.Used)
		// 63-Depth in 0..63: an inner node has children, so sits above 64.
		half := g.pow2(api.ToBinary(api.Sub(Depth-1, n.Depth), 6)) // 2^(63-depth)
		h := g.perm(2).Compress(api.Add(n.Left, bigOf(tagNode), 1, n.Depth), n.Right)
		placed = append(placed, tuple{n.Used, n.Depth, n.Prefix, h})
		child := api.Add(n.Depth, 1)
		for _, ch := range []struct{ prefix, hash frontend.Variable }{{n.Prefix, n.Left}, {api.Add(n.Prefix, half), n.Right}} {
			on := api.Mul(n.Used, api.Sub(1, api.IsZero(ch.hash)))
			named = append(named, tuple{on, child, ch.prefix, ch.hash})
		}
		committed = append(committed, n.Used, n.Depth, n.Prefix, n.Left, n.Right, h)
	}
	multicommit.WithCommitment(api, func(api frontend.API, ch frontend.Variable) error {
		beta, beta2 := ch, api.Mul(ch, ch)
		gamma := g.perm(2).Compress(ch, 1)
		product := func(ts []tuple) frontend.Variable {
			p := frontend.Variable(1)
			for _, t := range ts {
				f := api.Sub(gamma, api.Add(t.depth, api.Mul(beta, t.prefix), api.Mul(beta2, t.hash)))
				p = api.Mul(p, api.Add(1, api.Mul(t.on, api.Sub(f, 1))))
			}
			return p
		}
		api.AssertIsEqual(product(named), product(placed))
		return nil
	}, committed...)
	api.AssertIsEqual(g.sponge(leafWidth, tagPartial, []frontend.Variable{count, sum, minV, maxV, c.Blind}), c.Partial)
	return nil
}

// inConstraint puts a wire into a constraint: a public input that is in
// none is not bound by a Groth16 proof.
func inConstraint(api frontend.API, v frontend.Variable) {
	api.AssertIsEqual(api.Mul(v, v), api.Mul(v, v))
}

// AggField is the aggregated field: its value slot and declared width.
type AggField struct{ Slot, Width int }

// AggLeaf is a record of a region as the prover holds it, with the depth
// its leaf sits at.
type AggLeaf struct {
	Key, Salt fr.Element
	Values    [MaxFields]fr.Element
	Depth     int
}

// AggInner is an inner node of a region: its place and its children.
type AggInner struct {
	Depth       int
	Prefix      uint64
	Left, Right fr.Element
}

// AggRegion is a region of the tree: its node's place and hash, and every
// leaf and inner node under it (the node itself included).
type AggRegion struct {
	Depth  int
	Prefix uint64
	Root   fr.Element
	Leaves []AggLeaf
	Inners []AggInner
}

// AggResult is what an aggregate proof reveals. Values are the slots'
// encodings: the caller decodes offsets and scales.
type AggResult struct {
	Count, Min, Max uint64
	Sum             fr.Element // up to Count * 2^64
}

// ErrNotNumeric means the aggregated field of a counted record is not a 64-bit
// number (a string digest, say).
var ErrNotNumeric = errors.New("aggregated value is not a 64-bit number")

// ErrRegionTooBig means a region has more leaves or inner nodes than the
// circuit has rows or slots for.
var ErrRegionTooBig = errors.New("region larger than the aggregate circuit")

// AggregateAssignment evaluates the aggregate natively over a region and
// builds the circuit's full witness for a circuit of the given shape, the
// partial result hidden behind blind.
func AggregateAssignment(q *Query, field AggField, reg *AggRegion, leaves, inners int, blind fr.Element) (*Aggregate, AggResult, error) {
	res := AggResult{Min: math.MaxUint64}
	if err := q.Validate(); err != nil {
		return nil, res, err
	}
	for i := AggClauses; i < MaxClauses; i++ {
		if q.Clauses[i].Op != OpTrue {
			return nil, res, ErrAggClauses
		}
	}
	for i, c := range q.Clauses {
		if bits.OnesCount16(c.Mask) > MaxInValues {
			return nil, res, fmt.Errorf("clause %d: more than %d constants", i, MaxInValues)
		}
	}
	if field.Slot < 0 || field.Slot >= MaxFields || field.Width < 1 || field.Width > MaxWidth {
		return nil, res, fmt.Errorf("aggregate: field slot %d (0..%d), width %d (1..64)", field.Slot, MaxFields-1, field.Width)
	}
	if len(reg.Leaves) > leaves || len(reg.Inners) > inners {
		return nil, res, fmt.Errorf("aggregate: %d leaves and %d inner nodes for %d and %d: %w", len(reg.Leaves), len(reg.Inners), leaves, inners, ErrRegionTooBig)
	}
	if reg.Depth < 0 || reg.Depth > Depth {
		return nil, res, fmt.Errorf("aggregate: region depth %d", reg.Depth)
	}
	a := NewAggregate(leaves, inners)
	a.Query = q.vars()
	lowMask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), lowBits), big.NewInt(1))
	for i := range a.Leaves {
		v := AggLeafVars{Live: 0, Key: 0, Salt: 0, Depth: 0, Path: 0, Low: 0, Rem: 0}
		for j := range v.Values {
			v.Values[j] = 0
		}
		if i < len(reg.Leaves) {
			l := &reg.Leaves[i]
			if l.Depth < 0 || l.Depth > Depth {
				return nil, res, fmt.Errorf("aggregate: leaf %d at depth %d", i, l.Depth)
			}
			path := zkhash.KeyPath(l.Key)
			v.Live, v.Key, v.Salt, v.Depth, v.Path = 1, l.Key, l.Salt, l.Depth, path
			v.Low = new(big.Int).And(bigOf(l.Key), lowMask)
			v.Rem = path & (^uint64(0) >> l.Depth) // the bits below depth; none at 64
			for j := range l.Values {
				v.Values[j] = l.Values[j]
			}
			if !l.Values[field.Slot].IsUint64() {
				return nil, res, fmt.Errorf("leaf %d: %w", i, ErrNotNumeric)
			}
			if x := l.Values[field.Slot].Uint64(); field.Width < 64 && x>>field.Width != 0 {
				return nil, res, fmt.Errorf("leaf %d, slot %d: %w", i, field.Slot, ErrOutOfWidth)
			}
			ok, err := q.Eval(&l.Values)
			if err != nil {
				return nil, res, fmt.Errorf("leaf %d: %w", i, err)
			}
			if ok {
				x := l.Values[field.Slot].Uint64()
				res.Count++
				var e fr.Element
				e.SetUint64(x)
				res.Sum.Add(&res.Sum, &e)
				res.Min, res.Max = min(res.Min, x), max(res.Max, x)
			}
		}
		a.Leaves[i] = v
	}
	for i := range a.Inners {
		v := AggInnerVars{Used: 0, Depth: 0, Prefix: 0, Left: 0, Right: 0}
		if i < len(reg.Inners) {
			n := &reg.Inners[i]
			if n.Depth < 0 || n.Depth >= Depth {
				return nil, res, fmt.Errorf("aggregate: inner node %d at depth %d", i, n.Depth)
			}
			v = AggInnerVars{Used: 1, Depth: n.Depth, Prefix: n.Prefix, Left: n.Left, Right: n.Right}
		}
		a.Inners[i] = v
	}
	a.QueryHash = q.Hash()
	a.Field, a.FieldWidth = field.Slot, field.Width
	a.Depth, a.Prefix, a.Root = reg.Depth, reg.Prefix, reg.Root
	a.Top = uint64(0)
	if reg.Depth > 0 {
		a.Top = reg.Prefix >> (Depth - reg.Depth)
	}
	a.Blind, a.Partial = blind, res.Commit(blind)
	return a, res, nil
}

// AggregatePublic is the public part of a chunk's witness, for verifiers.
func AggregatePublic(leaves, inners int, queryHash fr.Element, field AggField, partial fr.Element, depth int, prefix uint64, root fr.Element) *Aggregate {
	a := NewAggregate(leaves, inners)
	a.QueryHash, a.Field, a.FieldWidth, a.Partial = queryHash, field.Slot, field.Width, partial
	a.Depth, a.Prefix, a.Root = depth, prefix, root
	return a
}

// Commit is the partial commitment to a chunk's result.
func (r AggResult) Commit(blind fr.Element) fr.Element {
	var c, lo, hi fr.Element
	c.SetUint64(r.Count)
	lo.SetUint64(r.Min)
	hi.SetUint64(r.Max)
	return zkhash.PartialCommitment(c, r.Sum, lo, hi, blind)
}

// Combine folds chunk results into the collection's.
func Combine(parts []AggResult) AggResult {
	out := AggResult{Min: math.MaxUint64}
	for _, p := range parts {
		out.Count += p.Count
		out.Sum.Add(&out.Sum, &p.Sum)
		out.Min, out.Max = min(out.Min, p.Min), max(out.Max, p.Max)
	}
	return out
}

// EmptyPartial is the public partial of an unused slot of AggregateTotal:
// an empty result with blind 0.
func EmptyPartial() fr.Element { return AggResult{Min: math.MaxUint64}.Commit(fr.Element{}) }

// AggregateTotal opens the chunks' partial commitments and proves their
// combination: the only result a verifier learns. Unused slots hold
// EmptyPartial.
//
// An aggregate over very few records singles them out, so the result is
// revealed only when at least MinGroup records matched: Small is
// count < MinGroup, and when it is 1, Count, Sum, Min and Max are all 0 and
// the proof shows only that fewer than MinGroup records matched. MinGroup 0
// suppresses nothing; MinGroup 1 suppresses only the empty result (count 0
// is "small"), whose min would otherwise be 2^64-1.
type AggregateTotal struct {
	Partials []frontend.Variable `gnark:",public"`
	Count    frontend.Variable   `gnark:",public"`
	Sum      frontend.Variable   `gnark:",public"`
	Min      frontend.Variable   `gnark:",public"`
	Max      frontend.Variable   `gnark:",public"`
	MinGroup frontend.Variable   `gnark:",public"` // k, below 2^MinGroupBits
	Small    frontend.Variable   `gnark:",public"` // count < k: the values above are 0
	Nonce    frontend.Variable   `gnark:",public"` // the verifier's, against replay
	Parts    []PartVars
}

// MinGroupBits bounds AggregateTotal's MinGroup.
const MinGroupBits = 32

// PartVars is one chunk's opened partial.
type PartVars struct{ Count, Sum, Min, Max, Blind frontend.Variable }

// NewAggregateTotal returns the combining circuit for up to k chunks.
func NewAggregateTotal(k int) *AggregateTotal {
	return &AggregateTotal{Partials: make([]frontend.Variable, k), Parts: make([]PartVars, k)}
}

// Define implements frontend.Circuit.
func (c *AggregateTotal) Define(api frontend.API) error {
	if len(c.Parts) > 1<<(MinGroupBits-chunkBits) {
		return fmt.Errorf("aggregate total: %d chunks: counts would reach 2^%d", len(c.Parts), MinGroupBits)
	}
	g := newGadget(api)
	count, sum, minV, maxV := c.combine(api, g)
	// count < len(Parts) * 2^chunkBits <= 2^MinGroupBits, so both sides of
	// the comparison are in range.
	g.rc.Check(c.MinGroup, MinGroupBits)
	reveal := g.lessOrEqualBits(c.MinGroup, count, MinGroupBits)
	api.AssertIsEqual(c.Small, api.Sub(1, reveal))
	api.AssertIsEqual(api.Mul(reveal, count), c.Count)
	api.AssertIsEqual(api.Mul(reveal, sum), c.Sum)
	api.AssertIsEqual(api.Mul(reveal, minV), c.Min)
	api.AssertIsEqual(api.Mul(reveal, maxV), c.Max)
	// The nonce takes part in no other constraint: a public input in none
	// is not bound by a Groth16 proof.
	inConstraint(api, c.Nonce)
	return nil
}

// Reveal is what AggregateTotal shows of a combined result r under a
// minimum group size: r itself, or, when r.Count < minGroup, a zero result
// and small = true.
func (r AggResult) Reveal(minGroup uint64) (shown AggResult, small bool) {
	if r.Count < minGroup {
		return AggResult{}, true
	}
	return r, false
}

// openParts builds the combining circuits' common witness: the partials and
// their openings, unused slots empty.
func openParts(k int, parts []AggResult, blinds []fr.Element) (*AggregateTotal, error) {
	if len(parts) > k || len(parts) != len(blinds) {
		return nil, fmt.Errorf("aggregate total: %d chunks and %d blinds for %d slots", len(parts), len(blinds), k)
	}
	a := NewAggregateTotal(k)
	for i := range k {
		r, b := AggResult{Min: math.MaxUint64}, fr.Element{}
		if i < len(parts) {
			r, b = parts[i], blinds[i]
		}
		a.Parts[i] = PartVars{Count: r.Count, Sum: r.Sum, Min: r.Min, Max: r.Max, Blind: b}
		a.Partials[i] = r.Commit(b)
	}
	return a, nil
}

// AggregateTotalAssignment builds the combining witness for up to k chunks,
// revealing the result only if at least minGroup records matched, and bound
// to the verifier's nonce. It returns what the proof shows: the combined
// result, or a zero result and small = true.
func AggregateTotalAssignment(k int, parts []AggResult, blinds []fr.Element, minGroup uint64, nonce fr.Element) (*AggregateTotal, AggResult, bool, error) {
	if minGroup >= 1<<MinGroupBits {
		return nil, AggResult{}, false, fmt.Errorf("aggregate total: minimum group %d, at most 2^%d-1", minGroup, MinGroupBits)
	}
	a, err := openParts(k, parts, blinds)
	if err != nil {
		return nil, AggResult{}, false, err
	}
	res, small := Combine(parts).Reveal(minGroup)
	a.Count, a.Sum, a.Min, a.Max = res.Count, res.Sum, res.Min, res.Max
	a.MinGroup, a.Small, a.Nonce = minGroup, boolToInt(small), nonce
	return a, res, small, nil
}

// Which aggregate a threshold statement is about, and how it compares.
const (
	AggCount = iota
	AggSum
	AggMin
	AggMax
)

// Relations of a threshold statement: aggregate <= T, >= T, == T.
const (
	RelLE = iota
	RelGE
	RelEQ
)

// chunkBits bounds a chunk's count (at most AggChunkRows).
var chunkBits = bits.Len(uint(AggChunkRows))

// thresholdBits bounds combined aggregates: sums reach count * 2^64 with
// count below 2^Depth, so 128 bits is ample.
const thresholdBits = 128

// AggregateThreshold opens the chunks' partials like AggregateTotal but
// reveals one bit: whether the chosen aggregate stands in the relation to
// a public threshold, e.g. count(max_temp > 8.0) == 0 or sum(co2) <= 12000.
//
// Threshold is ThresholdBias plus the threshold in the field's encoding,
// except for SUM, where it is ThresholdBias plus the real threshold: the
// circuit adds count*Offset (the field's signed offset, 2^(w-1), or 0) so
// that sums of signed or decimal fields compare as real numbers.
type AggregateThreshold struct {
	Partials  []frontend.Variable `gnark:",public"`
	Which     frontend.Variable   `gnark:",public"`
	Relation  frontend.Variable   `gnark:",public"`
	Threshold frontend.Variable   `gnark:",public"`
	Offset    frontend.Variable   `gnark:",public"`
	Holds     frontend.Variable   `gnark:",public"`
	Nonce     frontend.Variable   `gnark:",public"` // the verifier's, against replay
	Parts     []PartVars
}

// ThresholdBias keeps both sides of a threshold comparison non-negative.
var ThresholdBias = new(big.Int).Lsh(big.NewInt(1), 100)

// NewAggregateThreshold returns the threshold circuit for up to k chunks.
func NewAggregateThreshold(k int) *AggregateThreshold {
	return &AggregateThreshold{Partials: make([]frontend.Variable, k), Parts: make([]PartVars, k)}
}

// Define implements frontend.Circuit.
func (c *AggregateThreshold) Define(api frontend.API) error {
	g := newGadget(api)
	t := &AggregateTotal{Partials: c.Partials, Parts: c.Parts}
	count, sum, minV, maxV := t.combine(api, g)
	which := api.ToBinary(c.Which, 2)
	v := selector.BinaryMux(api, which, []frontend.Variable{count, sum, minV, maxV})
	g.rc.Check(c.Threshold, thresholdBits-1)
	g.rc.Check(c.Offset, MaxWidth)
	isSum := api.Mul(which[0], api.Sub(1, which[1])) // which == 1
	lhs := api.Add(v, ThresholdBias)
	rhs := api.Add(c.Threshold, api.Mul(isSum, count, c.Offset))
	le := g.lessOrEqualWide(lhs, rhs)
	ge := g.lessOrEqualWide(rhs, lhs)
	rel := api.ToBinary(c.Relation, 2)
	api.AssertIsEqual(api.Mul(rel[0], rel[1]), 0) // relation 3 does not exist
	holds := selector.BinaryMux(api, rel, []frontend.Variable{le, ge, api.Mul(le, ge), 0})
	api.AssertIsEqual(holds, c.Holds)
	inConstraint(api, c.Nonce) // else the nonce would not be bound
	return nil
}

// combine opens every partial and folds them; AggregateTotal asserts the
// result, AggregateThreshold compares it.
func (c *AggregateTotal) combine(api frontend.API, g *gadget) (count, sum, minV, maxV frontend.Variable) {
	count, sum = 0, 0
	minV, maxV = new(big.Int).SetUint64(math.MaxUint64), 0
	for i := range c.Parts {
		p := &c.Parts[i]
		api.AssertIsEqual(g.sponge(leafWidth, tagPartial, []frontend.Variable{p.Count, p.Sum, p.Min, p.Max, p.Blind}), c.Partials[i])
		g.rc.Check(p.Min, MaxWidth) // the comparisons below need 64-bit inputs
		g.rc.Check(p.Max, MaxWidth)
		// A chunk counts at most AggChunkRows values below 2^64. The chunk
		// proofs guarantee it; checking it here too bounds every comparison
		// below (count*Offset included) well inside thresholdBits.
		g.rc.Check(p.Count, chunkBits)
		g.rc.Check(p.Sum, MaxWidth+chunkBits)
		count = api.Add(count, p.Count)
		sum = api.Add(sum, p.Sum)
		minV = api.Select(g.lessOrEqual(p.Min, minV), p.Min, minV)
		maxV = api.Select(g.lessOrEqual(maxV, p.Max), p.Max, maxV)
	}
	return count, sum, minV, maxV
}

// ThresholdInput is the public Threshold for a threshold t: t in the
// field's encoding for COUNT, MIN and MAX, the real (signed) value for SUM.
func ThresholdInput(t *big.Int) (fr.Element, error) {
	v := new(big.Int).Add(t, ThresholdBias)
	if v.Sign() < 0 || v.BitLen() >= thresholdBits-1 {
		return fr.Element{}, fmt.Errorf("threshold %s out of range", t)
	}
	var e fr.Element
	e.SetBigInt(v)
	return e, nil
}

// AggregateThresholdAssignment builds the threshold witness for
// "aggregate rel t", bound to the verifier's nonce, and says whether it
// holds. offset is the field's signed offset (0 for unsigned fields); t is
// as ThresholdInput takes it.
func AggregateThresholdAssignment(k int, parts []AggResult, blinds []fr.Element, which, relation int, t *big.Int, offset uint64, nonce fr.Element) (*AggregateThreshold, bool, error) {
	total, err := openParts(k, parts, blinds)
	if err != nil {
		return nil, false, err
	}
	res := Combine(parts)
	if which < AggCount || which > AggMax || relation < RelLE || relation > RelEQ {
		return nil, false, fmt.Errorf("aggregate threshold: aggregate %d, relation %d", which, relation)
	}
	th, err := ThresholdInput(t)
	if err != nil {
		return nil, false, err
	}
	v := new(big.Int)
	switch which {
	case AggCount:
		v.SetUint64(res.Count)
	case AggSum: // the real sum
		res.Sum.BigInt(v)
		v.Sub(v, new(big.Int).Mul(new(big.Int).SetUint64(res.Count), new(big.Int).SetUint64(offset)))
	case AggMin:
		v.SetUint64(res.Min)
	case AggMax:
		v.SetUint64(res.Max)
	}
	cmp := v.Cmp(t)
	holds := map[int]bool{RelLE: cmp <= 0, RelGE: cmp >= 0, RelEQ: cmp == 0}[relation]
	a := &AggregateThreshold{Partials: total.Partials, Parts: total.Parts, Which: which, Relation: relation, Threshold: th, Offset: offset,
		Holds: boolToInt(holds), Nonce: nonce}
	return a, holds, nil
}
