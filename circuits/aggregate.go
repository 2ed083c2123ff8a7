package circuits

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/selector"
)

// Aggregate proves COUNT, SUM, MIN and MAX of one field over every live
// record of an aligned chunk of the collection tree that satisfies a query.
//
// Completeness is by construction: the circuit re-derives the chunk's
// subtree root from all of its positions, so leaving a record out (calling
// it empty), counting one twice or reordering them changes the root. A
// verifier checks that the chunk root, folded with the tree's zero hashes
// (or with the other chunks' roots), is the anchored root.
//
// Every row is re-hashed and runs the query's first AggClauses clauses;
// the others must be neutral (BenchmarkAggregate reports constraints per row).
type Aggregate struct {
	ChunkRoot frontend.Variable `gnark:",public"`
	QueryHash frontend.Variable `gnark:",public"`
	Field     frontend.Variable `gnark:",public"` // the aggregated slot
	// Partial is PartialCommitment(Count, Sum, Min, Max, Blind): the chunk's
	// result stays hidden; AggregateTotal opens and combines the partials.
	// An empty result is count 0, sum 0, min 2^64-1, max 0.
	Partial frontend.Variable `gnark:",public"`
	Blind   frontend.Variable

	Query queryVars
	Rows  []AggRowVars
}

// AggClauses is how many clauses an aggregate's query may have: each clause
// costs about 140 constraints per row.
const AggClauses = 4

// ErrAggClauses: an aggregate's query has more than AggClauses clauses.
var ErrAggClauses = fmt.Errorf("an aggregate's query has at most %d clauses", AggClauses)

// AggRowVars is one position of the chunk: live or empty, and its record.
type AggRowVars struct {
	Live      frontend.Variable
	Key, Salt frontend.Variable
	Values    [MaxFields]frontend.Variable
}

// NewAggregate returns an aggregate circuit over chunks of n positions (a
// power of two), ready to compile.
func NewAggregate(n int) *Aggregate {
	return &Aggregate{Rows: make([]AggRowVars, n)}
}

// Define implements frontend.Circuit.
func (c *Aggregate) Define(api frontend.API) error {
	n := len(c.Rows)
	if n == 0 || n&(n-1) != 0 {
		return fmt.Errorf("aggregate: %d rows, want a power of two", n)
	}
	g := newGadget(api)
	api.AssertIsEqual(g.queryHash(&c.Query), c.QueryHash)
	header := api.ToBinary(c.Query.Header, headerBits)
	g.assertNeutralFrom(header, AggClauses)
	fieldBits := api.ToBinary(c.Field, 4)
	maxU64 := new(big.Int).SetUint64(math.MaxUint64)

	leaves := make([]frontend.Variable, n)
	var count, sum frontend.Variable = 0, 0
	var minV, maxV frontend.Variable = maxU64, 0
	for i := range c.Rows {
		r := &c.Rows[i]
		api.AssertIsBoolean(r.Live)
		leaves[i] = api.Select(r.Live, g.leaf(c.Query.SchemaID, r.Key, r.Salt, r.Values[:]), 0)
		inc := api.Mul(r.Live, g.evalPrefix(header, &c.Query, r.Values[:], AggClauses))
		v := selector.BinaryMux(api, fieldBits, r.Values[:])
		g.rc.Check(v, MaxWidth) // aggregated values are 64-bit numbers
		count = api.Add(count, inc)
		sum = api.Add(sum, api.Mul(inc, v))
		candMin := api.Select(inc, v, maxU64)
		minV = api.Select(g.lessOrEqual(candMin, minV), candMin, minV)
		candMax := api.Mul(inc, v)
		maxV = api.Select(g.lessOrEqual(maxV, candMax), candMax, maxV)
	}
	for level := 0; len(leaves) > 1; level++ {
		next := make([]frontend.Variable, len(leaves)/2)
		for i := range next {
			next[i] = g.node(level, leaves[2*i], leaves[2*i+1])
		}
		leaves = next
	}
	api.AssertIsEqual(leaves[0], c.ChunkRoot)
	api.AssertIsEqual(g.sponge(leafWidth, tagPartial, []frontend.Variable{count, sum, minV, maxV, c.Blind}), c.Partial)
	return nil
}

// AggRow is one position of a chunk as the prover holds it.
type AggRow struct {
	Live   bool
	Key    fr.Element
	Salt   fr.Element
	Values [MaxFields]fr.Element
}

// AggResult is what an aggregate proof reveals. Values are the slots'
// encodings: the caller decodes offsets and scales.
type AggResult struct {
	Count, Min, Max uint64
	Sum             fr.Element // up to Count * 2^64
}

// ErrNotNumeric: the aggregated field of a counted record is not a 64-bit
// number (a string digest, say).
var ErrNotNumeric = errors.New("aggregated value is not a 64-bit number")

// ChunkRoot folds the rows' leaves (zero for empty positions) into the
// root of their aligned subtree.
func ChunkRoot(schemaID fr.Element, rows []AggRow) fr.Element {
	level := make([]fr.Element, len(rows))
	for i := range rows {
		if rows[i].Live {
			level[i] = Leaf(schemaID, rows[i].Key, rows[i].Salt, &rows[i].Values)
		}
	}
	for h := 0; len(level) > 1; h++ {
		next := make([]fr.Element, len(level)/2)
		for i := range next {
			next[i] = Node(h, level[2*i], level[2*i+1])
		}
		level = next
	}
	return level[0]
}

// AggregateAssignment evaluates the aggregate natively and builds the
// circuit's full witness, its partial result hidden behind blind.
func AggregateAssignment(q *Query, field int, rows []AggRow, blind fr.Element) (*Aggregate, AggResult, error) {
	res := AggResult{Min: math.MaxUint64}
	if err := q.Validate(); err != nil {
		return nil, res, err
	}
	for i := AggClauses; i < MaxClauses; i++ {
		if q.Clauses[i].Op != OpTrue {
			return nil, res, ErrAggClauses
		}
	}
	if field < 0 || field >= MaxFields {
		return nil, res, fmt.Errorf("aggregate: field slot %d outside 0..%d", field, MaxFields-1)
	}
	if n := len(rows); n == 0 || bits.OnesCount(uint(n)) != 1 {
		return nil, res, fmt.Errorf("aggregate: %d rows, want a power of two", n)
	}
	a := NewAggregate(len(rows))
	a.Query = q.vars()
	for i := range rows {
		r := &rows[i]
		v := AggRowVars{Live: boolToInt(r.Live), Key: r.Key, Salt: r.Salt}
		for j := range r.Values {
			v.Values[j] = r.Values[j]
		}
		a.Rows[i] = v
		if !r.IsUint64(field) {
			return nil, res, fmt.Errorf("row %d: %w", i, ErrNotNumeric)
		}
		if !r.Live {
			continue
		}
		ok, err := q.Eval(&r.Values)
		if err != nil {
			return nil, res, fmt.Errorf("row %d: %w", i, err)
		}
		if !ok {
			continue
		}
		x := r.Values[field].Uint64()
		res.Count++
		var e fr.Element
		e.SetUint64(x)
		res.Sum.Add(&res.Sum, &e)
		res.Min, res.Max = min(res.Min, x), max(res.Max, x)
	}
	a.ChunkRoot = ChunkRoot(q.SchemaID, rows)
	a.QueryHash = q.Hash()
	a.Field = field
	a.Blind, a.Partial = blind, res.Commit(blind)
	return a, res, nil
}

// Commit is the partial commitment to a chunk's result.
func (r AggResult) Commit(blind fr.Element) fr.Element {
	var c, lo, hi fr.Element
	c.SetUint64(r.Count)
	lo.SetUint64(r.Min)
	hi.SetUint64(r.Max)
	return PartialCommitment(c, r.Sum, lo, hi, blind)
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
type AggregateTotal struct {
	Partials []frontend.Variable `gnark:",public"`
	Count    frontend.Variable   `gnark:",public"`
	Sum      frontend.Variable   `gnark:",public"`
	Min      frontend.Variable   `gnark:",public"`
	Max      frontend.Variable   `gnark:",public"`
	Parts    []PartVars
}

// PartVars is one chunk's opened partial.
type PartVars struct{ Count, Sum, Min, Max, Blind frontend.Variable }

// NewAggregateTotal returns the combining circuit for up to k chunks.
func NewAggregateTotal(k int) *AggregateTotal {
	return &AggregateTotal{Partials: make([]frontend.Variable, k), Parts: make([]PartVars, k)}
}

// Define implements frontend.Circuit.
func (c *AggregateTotal) Define(api frontend.API) error {
	g := newGadget(api)
	count, sum, minV, maxV := c.combine(api, g)
	api.AssertIsEqual(count, c.Count)
	api.AssertIsEqual(sum, c.Sum)
	api.AssertIsEqual(minV, c.Min)
	api.AssertIsEqual(maxV, c.Max)
	return nil
}

// AggregateTotalAssignment builds the combining witness for up to k chunks.
func AggregateTotalAssignment(k int, parts []AggResult, blinds []fr.Element) (*AggregateTotal, AggResult, error) {
	if len(parts) > k || len(parts) != len(blinds) {
		return nil, AggResult{}, fmt.Errorf("aggregate total: %d chunks and %d blinds for %d slots", len(parts), len(blinds), k)
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
	res := Combine(parts)
	a.Count, a.Sum, a.Min, a.Max = res.Count, res.Sum, res.Min, res.Max
	return a, res, nil
}

// ComposeRoot is the root of a depth-Depth tree whose aligned subtrees of
// height h have the given roots, from position 0, and are empty after.
func ComposeRoot(h int, chunkRoots []fr.Element) fr.Element {
	if len(chunkRoots) == 0 {
		return ZeroHashes()[Depth]
	}
	level := append([]fr.Element(nil), chunkRoots...)
	for lv := h; lv < Depth; lv++ {
		if len(level)%2 == 1 {
			level = append(level, ZeroHashes()[lv])
		}
		next := make([]fr.Element, len(level)/2)
		for i := range next {
			next[i] = Node(lv, level[2*i], level[2*i+1])
		}
		level = next
	}
	return level[0]
}

// IsUint64 says whether slot j holds a value below 2^64.
func (r *AggRow) IsUint64(j int) bool { return r.Values[j].IsUint64() }

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
// "aggregate rel t" and says whether it holds. offset is the field's
// signed offset (0 for unsigned fields); t is as ThresholdInput takes it.
func AggregateThresholdAssignment(k int, parts []AggResult, blinds []fr.Element, which, relation int, t *big.Int, offset uint64) (*AggregateThreshold, bool, error) {
	total, res, err := AggregateTotalAssignment(k, parts, blinds)
	if err != nil {
		return nil, false, err
	}
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
	a := &AggregateThreshold{Partials: total.Partials, Parts: total.Parts, Which: which, Relation: relation, Threshold: th, Offset: offset, Holds: boolToInt(holds)}
	return a, holds, nil
}
