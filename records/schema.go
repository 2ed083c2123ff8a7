// Package records holds collection schemas, the encoding of typed values
// into the field elements that commitments and circuits take, and the CSV
// and JSONL loaders that turn a holder's files into records.
package records

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"regexp"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/zkhash"
)

// Type is a field's type.
type Type string

// The field types a schema may declare.
const (
	Uint      Type = "uint"      // unsigned integer, width 1..64 bits
	Int       Type = "int"       // signed integer, width 2..64 bits
	Decimal   Type = "decimal"   // signed fixed-point number with Scale digits, width 2..64
	Date      Type = "date"      // YYYY-MM-DD
	Timestamp Type = "timestamp" // RFC 3339, whole seconds
	Bool      Type = "bool"      // true or false
	Enum      Type = "enum"      // one of Values
	String    Type = "string"    // any text: equality and set membership only
)

// Field is one typed field of a schema.
type Field struct {
	Name   string   `json:"name"`
	Type   Type     `json:"type"`
	Width  int      `json:"width,omitempty"`
	Scale  int      `json:"scale,omitempty"`
	Values []string `json:"values,omitempty"`
}

// Schema describes a collection's records: a key field and up to 16 typed
// value fields, which take value slots in order.
type Schema struct {
	Name   string  `json:"name"`
	Key    string  `json:"key"`
	Fields []Field `json:"fields"`

	id    fr.Element
	index map[string]int
}

var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)

// ParseSchema decodes and validates a schema from JSON.
func ParseSchema(data []byte) (*Schema, error) {
	var s Schema
	dec := json.NewDecoder(bytesReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if err := s.init(); err != nil {
		return nil, err
	}
	return &s, nil
}

// LoadSchema reads a schema file.
func LoadSchema(path string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseSchema(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (s *Schema) init() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("schema: name %q: use lowercase letters, digits and _", s.Name)
	}
	if !nameRE.MatchString(s.Key) {
		return fmt.Errorf("schema: key %q: use lowercase letters, digits and _", s.Key)
	}
	if len(s.Fields) == 0 || len(s.Fields) > circuits.MaxFields {
		return fmt.Errorf("schema: %d fields, want 1..%d", len(s.Fields), circuits.MaxFields)
	}
	s.index = map[string]int{}
	for i := range s.Fields {
		f := &s.Fields[i]
		if err := f.check(); err != nil {
			return fmt.Errorf("schema: field %q: %w", f.Name, err)
		}
		if _, dup := s.index[f.Name]; dup || f.Name == s.Key {
			return fmt.Errorf("schema: field %q declared twice", f.Name)
		}
		s.index[f.Name] = i
	}
	canon, err := json.Marshal(struct {
		Name   string  `json:"name"`
		Key    string  `json:"key"`
		Fields []Field `json:"fields"`
	}{s.Name, s.Key, s.Fields})
	if err != nil {
		return err
	}
	s.id = zkhash.Digest("zkshare/schema/v1", canon, 248)
	return nil
}

func (f *Field) check() error {
	if !nameRE.MatchString(f.Name) {
		return errors.New("name: use lowercase letters, digits and _")
	}
	switch f.Type {
	case Uint:
		if f.Width < 1 || f.Width > 64 {
			return fmt.Errorf("uint width %d, want 1..64", f.Width)
		}
	case Int:
		if f.Width < 2 || f.Width > 64 {
			return fmt.Errorf("int width %d, want 2..64", f.Width)
		}
	case Decimal:
		if f.Width < 2 || f.Width > 64 {
			return fmt.Errorf("decimal width %d, want 2..64", f.Width)
		}
		if f.Scale < 0 || f.Scale > 18 {
			return fmt.Errorf("decimal scale %d, want 0..18", f.Scale)
		}
	case Date, Timestamp, Bool, String:
		if f.Width != 0 {
			return fmt.Errorf("%s takes no width", f.Type)
		}
	case Enum:
		if len(f.Values) == 0 || len(f.Values) > 1<<16 {
			return fmt.Errorf("enum needs 1..65536 values, has %d", len(f.Values))
		}
		seen := map[string]bool{}
		for _, v := range f.Values {
			if seen[v] {
				return fmt.Errorf("enum value %q listed twice", v)
			}
			seen[v] = true
		}
	default:
		return fmt.Errorf("unknown type %q (want uint, int, decimal, date, timestamp, bool, enum or string)", f.Type)
	}
	if f.Type != Decimal && f.Scale != 0 {
		return fmt.Errorf("%s takes no scale", f.Type)
	}
	if f.Type != Enum && len(f.Values) != 0 {
		return fmt.Errorf("%s takes no values", f.Type)
	}
	return nil
}

// ID is the schema id: a digest of its canonical JSON.
func (s *Schema) ID() fr.Element { return s.id }

// IDHex is the schema id in hex.
func (s *Schema) IDHex() string { b := s.id.Bytes(); return hex.EncodeToString(b[:]) }

// Field returns a field by name and its slot.
func (s *Schema) Field(name string) (*Field, int, bool) {
	i, ok := s.index[name]
	if !ok {
		return nil, 0, false
	}
	return &s.Fields[i], i, true
}

// BitWidth is the width in bits of the field's encoded value; 0 for strings,
// whose encoding is a digest.
func (f *Field) BitWidth() int {
	switch f.Type {
	case Uint, Int, Decimal:
		return f.Width
	case Date:
		return 32
	case Timestamp:
		return 64
	case Bool:
		return 1
	case Enum:
		return max(1, bits.Len(uint(len(f.Values)-1)))
	}
	return 0
}

// DomainMax is the largest valid encoding of a non-string field: n-1 for an
// n-value enum (its bit width admits encodings that name no value), else
// MaxUint. Equality clauses carry it, so the circuits refuse the others.
func (f *Field) DomainMax() uint64 {
	if f.Type == Enum {
		return uint64(len(f.Values) - 1)
	}
	return f.MaxUint()
}

// Ordered reports whether <, <=, >, >= and between apply to the field.
func (f *Field) Ordered() bool {
	switch f.Type {
	case Uint, Int, Decimal, Date, Timestamp:
		return true
	}
	return false
}

// Raw returns the schema's JSON.
func (s *Schema) Raw() ([]byte, error) { return json.MarshalIndent(s, "", "  ") }
