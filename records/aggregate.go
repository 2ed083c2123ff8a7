package records

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/zkshare/zkshare/circuits"
)

// Offset is what the field's encoding adds to a value: 2^(w-1) for signed
// integers and decimals, 0 for the others. A sum of n encoded values is the
// real sum plus n*Offset.
func (f *Field) Offset() uint64 {
	if f.Type == Int || f.Type == Decimal {
		return 1 << (f.BitWidth() - 1)
	}
	return 0
}

// Summable says whether SUM of the field means something: numbers do,
// dates, timestamps, enums and strings do not.
func (f *Field) Summable() bool {
	return f.Type == Uint || f.Type == Int || f.Type == Decimal || f.Type == Bool
}

// Decode is the text of an encoded (non-string) value: the inverse of
// EncodeUint for numbers, bools, enums, dates (YYYY-MM-DD) and timestamps
// (RFC 3339, UTC). An encoding no value of the field has (an enum's beyond
// its values, a date beyond year 9999) is shown as the number with
// "(encoded)".
func (f *Field) Decode(v uint64) string {
	switch f.Type {
	case Int, Decimal:
		return f.formatReal(new(big.Int).Sub(new(big.Int).SetUint64(v), new(big.Int).SetUint64(f.Offset())))
	case Bool:
		if v <= 1 {
			return strconv.FormatBool(v == 1)
		}
	case Enum:
		if v < uint64(len(f.Values)) {
			return f.Values[v]
		}
	case Date:
		if v < 1<<32 {
			if t := time.Unix((int64(v)-1<<31)*86400, 0).UTC(); t.Year() >= 0 && t.Year() <= 9999 {
				return t.Format(time.DateOnly)
			}
		}
	case Timestamp:
		if t := time.Unix(int64(v^1<<63), 0).UTC(); t.Year() >= 0 && t.Year() <= 9999 {
			return t.Format(time.RFC3339)
		}
	default:
		return strconv.FormatUint(v, 10)
	}
	return strconv.FormatUint(v, 10) + " (encoded)"
}

// RealSum is the text of a sum of count encoded values.
func (f *Field) RealSum(sum *big.Int, count uint64) string {
	v := new(big.Int).Sub(sum, new(big.Int).Mul(new(big.Int).SetUint64(count), new(big.Int).SetUint64(f.Offset())))
	return f.formatReal(v)
}

// formatReal writes an integer count of the field's smallest unit.
func (f *Field) formatReal(v *big.Int) string {
	if f.Type != Decimal || f.Scale == 0 {
		return v.String()
	}
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if len(s) <= f.Scale {
		s = strings.Repeat("0", f.Scale-len(s)+1) + s
	}
	out := s[:len(s)-f.Scale] + "." + s[len(s)-f.Scale:]
	if neg {
		out = "-" + out
	}
	return out
}

// Aggregate is what a threshold is about. Its values are the circuits'
// (circuits.AggCount...); its text form ("count", "sum", "min", "max") is
// for flags, requests and bundles, parsed at those edges (ParseAggregate).
type Aggregate int

// Aggregates a threshold can be about.
const (
	AggCount Aggregate = circuits.AggCount
	AggSum   Aggregate = circuits.AggSum
	AggMin   Aggregate = circuits.AggMin
	AggMax   Aggregate = circuits.AggMax
)

var aggregateNames = [...]string{AggCount: "count", AggSum: "sum", AggMin: "min", AggMax: "max"}

// Valid says whether a is one of the four aggregates.
func (a Aggregate) Valid() bool { return a >= 0 && int(a) < len(aggregateNames) }

// String is the aggregate's word.
func (a Aggregate) String() string {
	if !a.Valid() {
		return fmt.Sprintf("aggregate(%d)", int(a))
	}
	return aggregateNames[a]
}

// ParseAggregate reads an aggregate's word.
func ParseAggregate(s string) (Aggregate, error) {
	for a, name := range aggregateNames {
		if name == s {
			return Aggregate(a), nil
		}
	}
	return 0, fmt.Errorf("aggregate %q: want count, sum, min or max", s)
}

// Relation is how a threshold compares: aggregate <= T, >= T or == T. Its
// values are the circuits' (circuits.RelLE...); its text form is the
// operator, parsed at the edges (ParseRelation).
type Relation int

// Relations a threshold can use.
const (
	RelLE Relation = circuits.RelLE
	RelGE Relation = circuits.RelGE
	RelEQ Relation = circuits.RelEQ
)

var relationNames = [...]string{RelLE: "<=", RelGE: ">=", RelEQ: "=="}

// Valid says whether r is one of the three relations.
func (r Relation) Valid() bool { return r >= 0 && int(r) < len(relationNames) }

// String is the relation's operator.
func (r Relation) String() string {
	if !r.Valid() {
		return fmt.Sprintf("relation(%d)", int(r))
	}
	return relationNames[r]
}

// ParseRelation reads a relation's operator.
func ParseRelation(s string) (Relation, error) {
	for r, name := range relationNames {
		if name == s {
			return Relation(r), nil
		}
	}
	return 0, fmt.Errorf("relation %q: want <=, >= or ==", s)
}

// ThresholdValue turns a threshold's text into the circuit's terms: a count
// for COUNT, the field's encoding for MIN and MAX, and the real value in the
// field's smallest unit (signed) for SUM. Prover and verifier both derive it
// from the text, so the words a verifier reads are what was proven.
func (f *Field) ThresholdValue(which Aggregate, text string) (*big.Int, error) {
	switch which {
	case AggCount:
		n, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			return nil, errors.New("a count threshold is a whole number")
		}
		return new(big.Int).SetUint64(n), nil
	case AggMin, AggMax:
		if f.Type == String {
			return nil, errors.New("strings have no minimum or maximum")
		}
		v, err := f.EncodeUint(text)
		if err != nil {
			return nil, fmt.Errorf("threshold %q: %w", text, err)
		}
		return new(big.Int).SetUint64(v), nil
	case AggSum:
		if !f.Summable() {
			return nil, fmt.Errorf("%s values cannot be summed", f.Type)
		}
		switch f.Type {
		case Decimal:
			v, err := parseDecimal(text, f.Scale)
			if err != nil {
				return nil, fmt.Errorf("threshold %q: %w", text, err)
			}
			return big.NewInt(v), nil
		default:
			v, ok := new(big.Int).SetString(text, 10)
			if !ok {
				return nil, fmt.Errorf("threshold %q: not an integer", text)
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("%v: want count, sum, min or max", which)
}

// Threshold is an aggregate compared with a value: "max <= 8.0" is
// {Which: AggMax, Relation: RelLE, Value: "8.0"}, Value in the field's
// terms (Field.ThresholdValue puts it in the circuit's).
type Threshold struct {
	Which    Aggregate
	Relation Relation
	Value    string
}

// ParseThreshold reads a threshold's text parts.
func ParseThreshold(which, relation, value string) (*Threshold, error) {
	w, err := ParseAggregate(which)
	if err != nil {
		return nil, err
	}
	r, err := ParseRelation(relation)
	if err != nil {
		return nil, err
	}
	return &Threshold{Which: w, Relation: r, Value: value}, nil
}
