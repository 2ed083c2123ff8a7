package circuits

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/zkhash"
)

// Op is what a clause does with its selected value.
type Op uint8

// Clause operations as the circuit sees them. The query language's ==, !=,
// in and not in become OpIn/OpNotIn over pool constants; <, <=, >, >= and
// between become OpRange with inclusive bounds.
const (
	OpTrue  Op = 0 // neutral: an unused clause
	OpIn    Op = 1 // value equals one of the masked pool constants
	OpNotIn Op = 2 // value equals none of them
	OpRange Op = 3 // Lo <= value <= Hi
)

// Clause is one encoded predicate clause.
//
// Lo and Hi are the inclusive bounds of an OpRange clause (Lo > Hi is an
// empty range). An OpIn or OpNotIn clause on a non-string slot carries its
// field's domain in Hi: the largest valid encoding, 2^Width-1 for most
// types and n-1 for an n-value enum (whose Width, the bits of n-1, admits
// encodings up to 2^Width-1 that name no value). The circuits refuse, like a
// value beyond its width, a record whose value such a clause reads is above
// Hi. Its Lo is 0; string and neutral clauses have no bounds (0, 0). Since
// the bounds are hashed, the query hash pins the domain.
type Clause struct {
	Field  uint8  // value slot, 0..MaxFields-1
	Op     Op     // what to test
	String bool   // the slot holds a string digest: not range-checked, equality only
	Width  uint8  // declared width in bits (1..64) of a non-string slot
	Lo, Hi uint64 // OpRange: inclusive bounds; OpIn/OpNotIn on a number: 0 and the domain maximum
	Mask   uint16 // pool constants an OpIn/OpNotIn clause tests against
}

// Query is a predicate in the form the circuits take: the schema it was
// checked against, MaxClauses clauses (unused ones neutral) and a pool of
// equality constants.
type Query struct {
	SchemaID fr.Element
	Clauses  [MaxClauses]Clause
	Pool     [PoolSize]fr.Element
}

// NeutralClause is the canonical unused clause.
func NeutralClause() Clause { return Clause{String: true} }

// Validate checks the invariants the circuit relies on.
func (q *Query) Validate() error {
	for i, c := range q.Clauses {
		if c.Field >= MaxFields {
			return fmt.Errorf("clause %d: field slot %d out of range", i, c.Field)
		}
		if c.Op > OpRange {
			return fmt.Errorf("clause %d: unknown op %d", i, c.Op)
		}
		if !c.String && (c.Width < 1 || c.Width > MaxWidth) {
			return fmt.Errorf("clause %d: width %d out of range 1..64", i, c.Width)
		}
		if c.String && c.Op == OpRange {
			return fmt.Errorf("clause %d: strings cannot be ordered", i)
		}
		if (c.Op == OpIn || c.Op == OpNotIn) && c.Mask == 0 {
			return fmt.Errorf("clause %d: equality clause without constants", i)
		}
		if c.Op != OpIn && c.Op != OpNotIn && c.Mask != 0 {
			return fmt.Errorf("clause %d: mask on a non-equality clause", i)
		}
		switch {
		case c.Op == OpRange:
		case (c.Op == OpIn || c.Op == OpNotIn) && !c.String:
			if c.Lo != 0 || c.Hi > widthMax(c.Width) {
				return fmt.Errorf("clause %d: domain [%d, %d] beyond width %d", i, c.Lo, c.Hi, c.Width)
			}
		case c.Lo != 0 || c.Hi != 0:
			return fmt.Errorf("clause %d: bounds on a string or neutral clause", i)
		}
	}
	return nil
}

// widthMax is 2^width-1, the largest value of a width-bit slot.
func widthMax(width uint8) uint64 {
	if width >= 64 {
		return math.MaxUint64
	}
	return 1<<width - 1
}

// shift is 64-width: the circuit range-checks value<<shift to 64 bits.
func (c Clause) shift() uint64 {
	if c.String {
		return 0
	}
	return uint64(MaxWidth - c.Width)
}

// Header packs every clause header and pool mask into one field element
// (232 bits), in the layout the circuit decomposes.
func (q *Query) Header() *big.Int {
	h := new(big.Int)
	for i, c := range q.Clauses {
		bits := uint64(c.Field) | uint64(c.Op)<<4 | c.shift()<<7
		if c.String {
			bits |= 1 << 6
		}
		h.Or(h, new(big.Int).Lsh(new(big.Int).SetUint64(bits), uint(i*clauseBits)))
		h.Or(h, new(big.Int).Lsh(new(big.Int).SetUint64(uint64(c.Mask)), uint(MaxClauses*clauseBits+i*PoolSize)))
	}
	return h
}

// Bounds packs a clause's bounds as lo + hi*2^64.
func (c Clause) Bounds() *big.Int {
	b := new(big.Int).SetUint64(c.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(c.Lo))
}

// Hash is the query hash: a width-16 sponge over the schema id, the header,
// the packed bounds and the pool. The verifier recomputes it from the text.
func (q *Query) Hash() fr.Element {
	in := make([]fr.Element, 0, 2+MaxClauses+PoolSize)
	var e fr.Element
	in = append(in, q.SchemaID, *e.SetBigInt(q.Header()))
	for _, c := range q.Clauses {
		var b fr.Element
		in = append(in, *b.SetBigInt(c.Bounds()))
	}
	in = append(in, q.Pool[:]...)
	return zkhash.Sponge(queryWidth, tagQuery, in)
}

// ErrOutOfWidth reports a value that does not fit the width a clause
// declares for it: no proof can be made about such a record.
var ErrOutOfWidth = errors.New("value out of its declared width")

// ErrOutOfDomain reports a value above the domain an equality clause
// declares for it (an enum encoding that names no value): no proof can be
// made about such a record.
var ErrOutOfDomain = errors.New("value out of its field's domain")

// Eval evaluates the query on a record's value slots, as the circuit does.
func (q *Query) Eval(values *[MaxFields]fr.Element) (bool, error) {
	result := true
	for i, c := range q.Clauses {
		v := values[c.Field]
		if !c.String {
			if !v.IsUint64() || (c.Width < 64 && v.Uint64()>>c.Width != 0) {
				return false, fmt.Errorf("clause %d, slot %d: %w", i, c.Field, ErrOutOfWidth)
			}
		}
		var ok bool
		switch c.Op {
		case OpTrue:
			ok = true
		case OpIn, OpNotIn:
			if !c.String && v.Uint64() > c.Hi {
				return false, fmt.Errorf("clause %d, slot %d: %w", i, c.Field, ErrOutOfDomain)
			}
			found := false
			for k := 0; k < PoolSize; k++ {
				if c.Mask>>k&1 == 1 && q.Pool[k].Equal(&v) {
					found = true
				}
			}
			ok = found == (c.Op == OpIn)
		case OpRange:
			x := v.Uint64()
			ok = c.Lo <= x && x <= c.Hi
		}
		result = result && ok
	}
	return result, nil
}

// encodingVersion prefixes the canonical binary encoding of a Query.
// Version 2: equality clauses on numbers carry their domain in Hi.
const encodingVersion = 2

// clauseBytes is one clause's encoded size: field, op, flags, width, lo, hi, mask.
const clauseBytes = 1 + 1 + 1 + 1 + 8 + 8 + 2

// EncodedSize is the size of a Query's canonical binary encoding.
const EncodedSize = 1 + fr.Bytes + MaxClauses*clauseBytes + PoolSize*fr.Bytes

// MarshalBinary is the canonical binary encoding of a query.
func (q *Query) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, EncodedSize)
	b = append(b, encodingVersion)
	id := q.SchemaID.Bytes()
	b = append(b, id[:]...)
	for _, c := range q.Clauses {
		var flags byte
		if c.String {
			flags = 1
		}
		b = append(b, c.Field, byte(c.Op), flags, c.Width)
		b = binary.BigEndian.AppendUint64(b, c.Lo)
		b = binary.BigEndian.AppendUint64(b, c.Hi)
		b = binary.BigEndian.AppendUint16(b, c.Mask)
	}
	for i := range q.Pool {
		p := q.Pool[i].Bytes()
		b = append(b, p[:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes and validates the canonical encoding; any other
// bytes (non-canonical field elements, unknown flags) are rejected.
func (q *Query) UnmarshalBinary(b []byte) error {
	if len(b) != EncodedSize {
		return fmt.Errorf("encoded query: %d bytes, want %d", len(b), EncodedSize)
	}
	if b[0] != encodingVersion {
		return fmt.Errorf("encoded query: version %d, want %d", b[0], encodingVersion)
	}
	var out Query
	off := 1
	if err := out.SchemaID.SetBytesCanonical(b[off : off+fr.Bytes]); err != nil {
		return fmt.Errorf("encoded query: schema id: %w", err)
	}
	off += fr.Bytes
	for i := range out.Clauses {
		c := b[off : off+clauseBytes]
		if c[2] > 1 {
			return fmt.Errorf("encoded query: clause %d: unknown flags %#x", i, c[2])
		}
		out.Clauses[i] = Clause{Field: c[0], Op: Op(c[1]), String: c[2] == 1, Width: c[3],
			Lo: binary.BigEndian.Uint64(c[4:12]), Hi: binary.BigEndian.Uint64(c[12:20]), Mask: binary.BigEndian.Uint16(c[20:22])}
		if out.Clauses[i].String && out.Clauses[i].Width != 0 {
			return fmt.Errorf("encoded query: clause %d: string with a width", i)
		}
		off += clauseBytes
	}
	for i := range out.Pool {
		if err := out.Pool[i].SetBytesCanonical(b[off : off+fr.Bytes]); err != nil {
			return fmt.Errorf("encoded query: pool %d: %w", i, err)
		}
		off += fr.Bytes
	}
	if err := out.Validate(); err != nil {
		return fmt.Errorf("encoded query: %w", err)
	}
	*q = out
	return nil
}
