package records

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/circuits"
)

// Record is one record of a collection: its key and its values' text in
// schema order.
type Record struct {
	Key    string
	Values []string
}

// Encode returns the record's key digest and value slots; unused slots are 0.
func (s *Schema) Encode(r *Record) (key fr.Element, slots [circuits.MaxFields]fr.Element, err error) {
	if len(r.Values) != len(s.Fields) {
		return key, slots, fmt.Errorf("record has %d values, schema %d fields", len(r.Values), len(s.Fields))
	}
	for i := range s.Fields {
		if slots[i], err = s.Fields[i].Encode(r.Values[i]); err != nil {
			return key, slots, &FieldError{Field: s.Fields[i].Name, Err: err}
		}
	}
	return KeyDigest(r.Key), slots, nil
}

// FieldError is a problem with one field of one record. Row counts data
// rows from 1 (a CSV header is not a row) and is 0 when unknown.
type FieldError struct {
	Row   int
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	if e.Row > 0 {
		return fmt.Sprintf("row %d, field %s: %v", e.Row, e.Field, e.Err)
	}
	return fmt.Sprintf("field %s: %v", e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// ErrInvalidBatch reports a batch with at least one bad record; the batch is
// rejected whole. The joined errors name each row and field.
var ErrInvalidBatch = errors.New("invalid records")

// maxReported bounds the errors one batch reports.
const maxReported = 20

// Validate checks a batch: every value encodes, every key is present and
// unique. It returns nil or an error wrapping ErrInvalidBatch.
func (s *Schema) Validate(recs []Record) error {
	_, err := s.EncodeBatch(recs)
	return err
}

// Encoded is a record's key digest and value slots.
type Encoded struct {
	Key   fr.Element
	Slots [circuits.MaxFields]fr.Element
}

// EncodeBatch validates a batch as Validate does and returns every record's
// encoding, so callers that hash records encode them only once. Records
// are encoded on all cores; errors are reported in row order.
func (s *Schema) EncodeBatch(recs []Record) ([]Encoded, error) {
	out := make([]Encoded, len(recs))
	rowErr := make([]error, len(recs))
	seen := make(map[string]int, len(recs))
	for i := range recs {
		row := i + 1
		if k := recs[i].Key; k == "" {
			rowErr[i] = &FieldError{Row: row, Field: s.Key, Err: errors.New("missing key")}
		} else if first, dup := seen[k]; dup {
			rowErr[i] = &FieldError{Row: row, Field: s.Key, Err: fmt.Errorf("duplicate key (first on row %d)", first)}
		} else {
			seen[k] = row
		}
	}
	parallel(len(recs), func(i int) {
		if rowErr[i] != nil {
			return
		}
		var err error
		if out[i].Key, out[i].Slots, err = s.Encode(&recs[i]); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				fe.Row = i + 1
			}
			rowErr[i] = err
		}
	})
	var errs []error
	for _, err := range rowErr {
		if err != nil {
			if errs = append(errs, err); len(errs) == maxReported {
				break
			}
		}
	}
	if len(errs) == 0 {
		return out, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrInvalidBatch, errors.Join(errs...))
}

// parallel runs f(0..n-1) in contiguous chunks on all cores.
func parallel(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 1024 || workers == 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				f(i)
			}
		})
	}
	wg.Wait()
}

// ReadCSV reads records from CSV with a header row naming the key and every
// field (in any order, nothing else), then validates the batch.
func (s *Schema) ReadCSV(r io.Reader) ([]Record, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		if h != s.Key {
			if _, _, ok := s.Field(h); !ok {
				return nil, fmt.Errorf("csv header: column %d %q is not in schema %s", i+1, h, s.Name)
			}
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("csv header: column %q repeated", h)
		}
		col[h] = i
	}
	if _, ok := col[s.Key]; !ok {
		return nil, fmt.Errorf("csv header: key column %q missing", s.Key)
	}
	for _, f := range s.Fields {
		if _, ok := col[f.Name]; !ok {
			return nil, fmt.Errorf("csv header: column %q missing", f.Name)
		}
	}
	var recs []Record
	for row := 1; ; row++ {
		line, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: row %d: %w", ErrInvalidBatch, row, err)
		}
		rec := Record{Key: line[col[s.Key]], Values: make([]string, len(s.Fields))}
		for i, f := range s.Fields {
			rec.Values[i] = line[col[f.Name]]
		}
		recs = append(recs, rec)
	}
	return recs, s.Validate(recs)
}

// ReadJSONL reads one JSON object per line, with the key and every field.
// Numbers, bools and strings are all accepted where they spell a valid value.
func (s *Schema) ReadJSONL(r io.Reader) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var recs []Record
	row := 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		row++
		rec, err := s.decodeJSON(line)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				fe.Row = row
				return nil, fmt.Errorf("%w: %w", ErrInvalidBatch, fe)
			}
			return nil, fmt.Errorf("%w: row %d: %w", ErrInvalidBatch, row, err)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: row %d: %w", ErrInvalidBatch, row+1, err)
	}
	return recs, s.Validate(recs)
}

func (s *Schema) decodeJSON(line []byte) (Record, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return Record{}, errors.New("not a JSON object")
	}
	text := func(name string) (string, error) {
		raw, ok := obj[name]
		if !ok {
			return "", &FieldError{Field: name, Err: errors.New("missing")}
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return "", &FieldError{Field: name, Err: errors.New("not a JSON value")}
		}
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		}
		return "", &FieldError{Field: name, Err: errors.New("wrong type (want a string, number or bool)")}
	}
	for name := range obj {
		if _, _, ok := s.Field(name); !ok && name != s.Key {
			return Record{}, &FieldError{Field: name, Err: errors.New("not in the schema")}
		}
	}
	key, err := text(s.Key)
	if err != nil {
		return Record{}, err
	}
	rec := Record{Key: key, Values: make([]string, len(s.Fields))}
	for i, f := range s.Fields {
		if rec.Values[i], err = text(f.Name); err != nil {
			return Record{}, err
		}
	}
	return rec, nil
}
