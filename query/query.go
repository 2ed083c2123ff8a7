// Package query parses zkshare's predicate language, type-checks it against
// a schema and compiles it to the circuits' encoded form, whose hash binds a
// proof to exactly one question.
//
//	income <= 30000 AND age >= 65 AND region in ("north","east") AND status != "suspended"
//
// Clauses are joined by AND; ops are == != < <= > >= between(a, b), in(...)
// and not in(...).
package query

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/records"
)

// Clause is one parsed clause: field OP constants.
type Clause struct {
	Field  string
	Op     string    // == != < <= > >= between in "not in"
	Values []Literal // 1 for comparisons, 2 for between, 1..8 for in lists
	Pos    int       // byte offset of the field name
}

// Literal is a constant as written: a number, a quoted string or a bare word.
type Literal struct {
	Text   string
	Quoted bool
	Pos    int
}

func (l Literal) String() string {
	if l.Quoted {
		return strconv.Quote(l.Text)
	}
	return l.Text
}

// Query is a parsed predicate.
type Query struct {
	Clauses []Clause
}

// String is the canonical text: single spaces, lowercase keywords, quoted
// strings.
func (q *Query) String() string {
	parts := make([]string, len(q.Clauses))
	for i, c := range q.Clauses {
		vals := make([]string, len(c.Values))
		for j, v := range c.Values {
			vals[j] = v.String()
		}
		switch c.Op {
		case "between", "in", "not in":
			parts[i] = fmt.Sprintf("%s %s (%s)", c.Field, c.Op, strings.Join(vals, ", "))
		default:
			parts[i] = fmt.Sprintf("%s %s %s", c.Field, c.Op, vals[0])
		}
	}
	return strings.Join(parts, " AND ")
}

// SyntaxError points at the offending token.
type SyntaxError struct {
	Pos   int
	Token string
	Msg   string
}

func (e *SyntaxError) Error() string {
	if e.Token == "" {
		return fmt.Sprintf("query: at %d (end of input): %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("query: at %d (%q): %s", e.Pos, e.Token, e.Msg)
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tOp
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string // for tString, the unquoted value
	raw  string
	pos  int
}

func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ',':
			k := map[byte]tokKind{'(': tLParen, ')': tRParen, ',': tComma}[c]
			toks = append(toks, token{kind: k, text: string(c), raw: string(c), pos: i})
			i++
		case strings.ContainsRune("=!<>", rune(c)):
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			op := s[i:j]
			switch op {
			case "==", "!=", "<", "<=", ">", ">=":
			default:
				return nil, &SyntaxError{Pos: i, Token: op, Msg: "unknown operator (want == != < <= > >=)"}
			}
			toks = append(toks, token{kind: tOp, text: op, raw: op, pos: i})
			i = j
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, &SyntaxError{Pos: i, Token: s[i:min(len(s), i+10)], Msg: "unterminated string"}
			}
			raw := s[i : j+1]
			v, err := strconv.Unquote(raw)
			if err != nil {
				return nil, &SyntaxError{Pos: i, Token: raw, Msg: "bad string escape"}
			}
			toks = append(toks, token{kind: tString, text: v, raw: raw, pos: i})
			i = j + 1
		case c == '-' || c == '.' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && (s[j] == '.' || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			toks = append(toks, token{kind: tNumber, text: s[i:j], raw: s[i:j], pos: i})
			i = j
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i + 1
			for j < len(s) && (s[j] == '_' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			toks = append(toks, token{kind: tIdent, text: s[i:j], raw: s[i:j], pos: i})
			i = j
		default:
			return nil, &SyntaxError{Pos: i, Token: string(c), Msg: "unexpected character"}
		}
	}
	return append(toks, token{kind: tEOF, pos: len(s)}), nil
}

// MaxLength bounds a query's text.
const MaxLength = 4096

// Parse parses query text. It checks syntax and limits, not the schema.
func Parse(text string) (*Query, error) {
	if len(text) > MaxLength {
		return nil, fmt.Errorf("query: longer than %d bytes", MaxLength)
	}
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &Query{}
	for {
		c, err := p.clause()
		if err != nil {
			return nil, err
		}
		q.Clauses = append(q.Clauses, c)
		if len(q.Clauses) > circuits.MaxClauses {
			return nil, &SyntaxError{Pos: c.Pos, Token: c.Field, Msg: fmt.Sprintf("more than %d clauses", circuits.MaxClauses)}
		}
		t := p.next()
		if t.kind == tEOF {
			return q, nil
		}
		if t.kind != tIdent || !strings.EqualFold(t.text, "and") {
			return nil, &SyntaxError{Pos: t.pos, Token: t.raw, Msg: "expected AND or end of query"}
		}
	}
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) clause() (Clause, error) {
	f := p.next()
	if f.kind != tIdent {
		return Clause{}, &SyntaxError{Pos: f.pos, Token: f.raw, Msg: "expected a field name"}
	}
	c := Clause{Field: f.text, Pos: f.pos}
	op := p.next()
	switch {
	case op.kind == tOp:
		c.Op = op.text
		v, err := p.literal()
		if err != nil {
			return c, err
		}
		c.Values = []Literal{v}
		return c, nil
	case op.kind == tIdent && strings.EqualFold(op.text, "between"):
		c.Op = "between"
		vs, err := p.list(2, 2)
		c.Values = vs
		return c, err
	case op.kind == tIdent && strings.EqualFold(op.text, "in"):
		c.Op = "in"
		vs, err := p.list(1, circuits.MaxInValues)
		c.Values = vs
		return c, err
	case op.kind == tIdent && strings.EqualFold(op.text, "not"):
		in := p.next()
		if in.kind != tIdent || !strings.EqualFold(in.text, "in") {
			return c, &SyntaxError{Pos: in.pos, Token: in.raw, Msg: "expected in after not"}
		}
		c.Op = "not in"
		vs, err := p.list(1, circuits.MaxInValues)
		c.Values = vs
		return c, err
	}
	return c, &SyntaxError{Pos: op.pos, Token: op.raw, Msg: "expected an operator (== != < <= > >= between in not in)"}
}

func (p *parser) literal() (Literal, error) {
	t := p.next()
	switch t.kind {
	case tNumber, tIdent:
		return Literal{Text: t.text, Pos: t.pos}, nil
	case tString:
		return Literal{Text: t.text, Quoted: true, Pos: t.pos}, nil
	}
	return Literal{}, &SyntaxError{Pos: t.pos, Token: t.raw, Msg: "expected a value"}
}

func (p *parser) list(minN, maxN int) ([]Literal, error) {
	open := p.next()
	if open.kind != tLParen {
		return nil, &SyntaxError{Pos: open.pos, Token: open.raw, Msg: "expected ("}
	}
	var vs []Literal
	for {
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
		if len(vs) > maxN {
			return nil, &SyntaxError{Pos: v.Pos, Token: v.String(), Msg: fmt.Sprintf("more than %d values", maxN)}
		}
		t := p.next()
		if t.kind == tRParen {
			break
		}
		if t.kind != tComma {
			return nil, &SyntaxError{Pos: t.pos, Token: t.raw, Msg: "expected , or )"}
		}
	}
	if len(vs) < minN {
		return nil, &SyntaxError{Pos: open.pos, Token: "(", Msg: fmt.Sprintf("want %d values", minN)}
	}
	return vs, nil
}

// TypeError is a clause that does not fit the schema. It names the field
// and never repeats a record value (constants are the verifier's own).
type TypeError struct {
	Pos   int
	Field string
	Msg   string
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("query: at %d, field %s: %s", e.Pos, e.Field, e.Msg)
}

// Compile type-checks q against a schema and encodes it for the circuits.
func Compile(q *Query, s *records.Schema) (*circuits.Query, error) {
	out := &circuits.Query{SchemaID: s.ID()}
	for i := range out.Clauses {
		out.Clauses[i] = circuits.NeutralClause()
	}
	var pool []fr.Element
	poolIndex := func(e fr.Element) (int, error) {
		for i := range pool {
			if pool[i].Equal(&e) {
				return i, nil
			}
		}
		if len(pool) == circuits.PoolSize {
			return 0, fmt.Errorf("more than %d equality constants in one query", circuits.PoolSize)
		}
		pool = append(pool, e)
		return len(pool) - 1, nil
	}
	for i, c := range q.Clauses {
		f, slot, ok := s.Field(c.Field)
		if !ok {
			if c.Field == s.Key {
				return nil, &TypeError{c.Pos, c.Field, "the key is not a value field; prove about a subject instead"}
			}
			return nil, &TypeError{c.Pos, c.Field, "no such field in schema " + s.Name}
		}
		enc := circuits.Clause{Field: uint8(slot), String: f.Type == records.String, Width: uint8(f.BitWidth())}
		if enc.String {
			enc.Width = 0
		}
		bad := func(l Literal, err error) error {
			return &TypeError{l.Pos, c.Field, fmt.Sprintf("constant %s: %v", l, err)}
		}
		switch c.Op {
		case "==", "!=", "in", "not in":
			for _, l := range c.Values {
				e, err := literalElement(f, l)
				if err != nil {
					return nil, bad(l, err)
				}
				k, err := poolIndex(e)
				if err != nil {
					return nil, &TypeError{l.Pos, c.Field, err.Error()}
				}
				enc.Mask |= 1 << k
			}
			enc.Op = circuits.OpIn
			if c.Op == "!=" || c.Op == "not in" {
				enc.Op = circuits.OpNotIn
			}
			if !enc.String {
				// The domain: the circuits refuse a record whose value is
				// above it (an enum encoding that names no value).
				enc.Hi = f.DomainMax()
			}
		default:
			if !f.Ordered() {
				return nil, &TypeError{c.Pos, c.Field, fmt.Sprintf("%s values have no order: use == != in or not in", f.Type)}
			}
			vals := make([]uint64, len(c.Values))
			for j, l := range c.Values {
				u, err := literalUint(f, l)
				if err != nil {
					return nil, bad(l, err)
				}
				vals[j] = u
			}
			enc.Op = circuits.OpRange
			// Ranges stay within the domain (for ordered types, the width).
			maxV := f.DomainMax()
			lo, hi, empty := uint64(0), maxV, false
			switch c.Op {
			case "<":
				empty = vals[0] == 0
				hi = vals[0] - 1
			case "<=":
				hi = vals[0]
			case ">":
				empty = vals[0] == maxV
				lo = vals[0] + 1
			case ">=":
				lo = vals[0]
			case "between":
				if vals[0] > vals[1] {
					return nil, &TypeError{c.Values[0].Pos, c.Field, "between bounds are reversed"}
				}
				lo, hi = vals[0], vals[1]
			}
			if empty {
				lo, hi = 1, 0
			}
			enc.Lo, enc.Hi = lo, hi
		}
		out.Clauses[i] = enc
	}
	copy(out.Pool[:], pool)
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return out, nil
}

func literalElement(f *records.Field, l Literal) (fr.Element, error) {
	if f.Type == records.String || f.Type == records.Enum || f.Type == records.Date || f.Type == records.Timestamp {
		if !l.Quoted {
			return fr.Element{}, fmt.Errorf("%s constants are quoted", f.Type)
		}
	} else if l.Quoted {
		return fr.Element{}, fmt.Errorf("%s constants are not quoted", f.Type)
	}
	return f.Encode(l.Text)
}

func literalUint(f *records.Field, l Literal) (uint64, error) {
	e, err := literalElement(f, l)
	if err != nil {
		return 0, err
	}
	return e.Uint64(), nil
}

// Prepared is a query compiled against a schema, with its hash.
type Prepared struct {
	Text    string // canonical text
	Encoded *circuits.Query
	Hash    fr.Element
}

// HashHex is the query hash in hex.
func (p *Prepared) HashHex() string { b := p.Hash.Bytes(); return hex.EncodeToString(b[:]) }

// Prepare parses, type-checks and hashes query text.
func Prepare(text string, s *records.Schema) (*Prepared, error) {
	q, err := Parse(text)
	if err != nil {
		return nil, err
	}
	enc, err := Compile(q, s)
	if err != nil {
		return nil, err
	}
	return &Prepared{Text: q.String(), Encoded: enc, Hash: enc.Hash()}, nil
}
