package records_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/zkshare/zkshare/records"
)

const schemaJSON = `{"name":"people","key":"id","fields":[
 {"name":"income","type":"uint","width":32},
 {"name":"balance","type":"int","width":16},
 {"name":"score","type":"decimal","width":32,"scale":2},
 {"name":"born","type":"date"},
 {"name":"seen","type":"timestamp"},
 {"name":"active","type":"bool"},
 {"name":"region","type":"enum","values":["north","east","south"]},
 {"name":"status","type":"string"}]}`

func schema(t testing.TB) *records.Schema {
	s, err := records.ParseSchema([]byte(schemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEncodeOrder(t *testing.T) {
	s := schema(t)
	ordered := map[string][]string{
		"income":  {"0", "1", "30000", "4294967295"},
		"balance": {"-32768", "-1", "0", "1", "32767"},
		"score":   {"-1.5", "-0.01", "0", "0.5", "1", "12.34"},
		"born":    {"1900-01-01", "1969-12-31", "1970-01-01", "2026-11-23"},
		"seen":    {"1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2026-11-23T10:00:00+01:00", "2026-11-23T10:00:00Z"},
	}
	for name, vals := range ordered {
		f, _, _ := s.Field(name)
		var prev uint64
		for i, v := range vals {
			u, err := f.EncodeUint(v)
			if err != nil {
				t.Fatalf("%s %s: %v", name, v, err)
			}
			if w := f.BitWidth(); w < 64 && u>>w != 0 {
				t.Fatalf("%s %s: encoding %d exceeds width %d", name, v, u, w)
			}
			if i > 0 && u <= prev {
				t.Fatalf("%s: %s does not encode above its predecessor", name, v)
			}
			prev = u
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	s := schema(t)
	cases := []struct{ field, value, want string }{
		{"income", "-1", "not an unsigned integer"},
		{"income", "4294967296", "out of range for uint32"},
		{"income", "1.5", "not an unsigned integer"},
		{"balance", "32768", "out of range for int16"},
		{"balance", "-32769", "out of range for int16"},
		{"score", "1.234", "more than 2 decimal places"},
		{"score", "abc", "not a decimal"},
		{"score", "21474836.48", "out of range"},
		{"born", "2026-13-01", "not a date"},
		{"seen", "2026-11-23T10:00:00.5Z", "fractional seconds"},
		{"active", "yes", "not a bool"},
		{"region", "west", "unknown enum value"},
	}
	for _, tc := range cases {
		f, _, _ := s.Field(tc.field)
		_, err := f.Encode(tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: got %v, want %q", tc.field, tc.value, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), tc.value) {
			t.Errorf("%s: error repeats the value: %v", tc.field, err)
		}
	}
}

func TestSchemaErrors(t *testing.T) {
	for _, bad := range []string{
		`{"name":"x","key":"id","fields":[]}`,
		`{"name":"x","key":"id","fields":[{"name":"a","type":"uint","width":65}]}`,
		`{"name":"x","key":"id","fields":[{"name":"a","type":"float"}]}`,
		`{"name":"x","key":"id","fields":[{"name":"a","type":"enum","values":["a","a"]}]}`,
		`{"name":"x","key":"id","fields":[{"name":"a","type":"bool"},{"name":"a","type":"bool"}]}`,
		`{"name":"x","key":"id","fields":[{"name":"id","type":"bool"}]}`,
		`{"name":"X Y","key":"id","fields":[{"name":"a","type":"bool"}]}`,
		`{"name":"x","key":"id","fields":[{"name":"a","type":"bool"}],"extra":1}`,
	} {
		if _, err := records.ParseSchema([]byte(bad)); err == nil {
			t.Errorf("accepted bad schema %s", bad)
		}
	}
	s := schema(t)
	s2 := schema(t)
	if s.ID() != s2.ID() {
		t.Fatal("schema id not deterministic")
	}
}

const header = "id,income,balance,score,born,seen,active,region,status\n"

func TestReadCSV(t *testing.T) {
	s := schema(t)
	good := header + "a,1,-2,3.5,1980-02-03,2026-01-01T00:00:00Z,true,north,ok\nb,2,3,0,1990-01-01,2026-01-01T00:00:00Z,false,south,\"x, y\"\n"
	recs, err := s.ReadCSV(strings.NewReader(good))
	if err != nil || len(recs) != 2 || recs[1].Values[7] != "x, y" {
		t.Fatalf("got %v, %+v", err, recs)
	}
	cases := []struct{ name, csv, want string }{
		{"bad value", header + "a,1,-2,3.5,1980-02-03,2026-01-01T00:00:00Z,maybe,north,ok\n", "row 1, field active: not a bool"},
		{"second row", header + "a,1,-2,3.5,1980-02-03,2026-01-01T00:00:00Z,true,north,ok\nb,1,-2,3.5,1980-02-03,2026-01-01T00:00:00Z,true,west,ok\n", "row 2, field region: unknown enum value"},
		{"duplicate key", header + "a,1,-2,3.5,1980-02-03,2026-01-01T00:00:00Z,true,north,ok\na,1,-2,3.5,1980-02-03,2026-01-01T00:00:00Z,true,north,ok\n", "row 2, field id: duplicate key (first on row 1)"},
		{"missing key", header + ",1,-2,3.5,1980-02-03,2026-01-01T00:00:00Z,true,north,ok\n", "row 1, field id: missing key"},
		{"missing column", "id,income\n", `column "balance" missing`},
		{"unknown column", "id,wage\n", `"wage" is not in schema`},
		{"short row", header + "a,1\n", "row 1"},
	}
	for _, tc := range cases {
		_, err := s.ReadCSV(strings.NewReader(tc.csv))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestReadJSONL(t *testing.T) {
	s := schema(t)
	good := `{"id":"a","income":1,"balance":-2,"score":"3.50","born":"1980-02-03","seen":"2026-01-01T00:00:00Z","active":true,"region":"north","status":"ok"}` + "\n"
	recs, err := s.ReadJSONL(strings.NewReader(good))
	if err != nil || len(recs) != 1 || recs[0].Values[5] != "true" {
		t.Fatalf("got %v %+v", err, recs)
	}
	for name, tc := range map[string]struct{ line, want string }{
		"missing field": {`{"id":"a"}`, "row 1, field income: missing"},
		"wrong type":    {strings.Replace(good, `"income":1`, `"income":[1]`, 1), "field income: wrong type"},
		"unknown field": {strings.Replace(good, `"income"`, `"wage"`, 1), "field wage: not in the schema"},
		"not json":      {"{", "row 1: not a JSON object"},
		"out of range":  {strings.Replace(good, `"balance":-2`, `"balance":99999`, 1), "field balance: out of range"},
	} {
		_, err := s.ReadJSONL(strings.NewReader(tc.line))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, records.ErrInvalidBatch) {
			t.Errorf("%s: got %v, want %q", name, err, tc.want)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	s := schema(f)
	f.Add(header + "a,1,-2,3.5,1980-02-03,2026-01-01T00:00:00Z,true,north,ok\n")
	f.Add("id\n\"")
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := s.ReadCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		for i := range recs {
			if _, _, err := s.Encode(&recs[i]); err != nil {
				t.Fatalf("accepted batch holds a record that does not encode: %v", err)
			}
		}
	})
}

func FuzzReadJSONL(f *testing.F) {
	s := schema(f)
	f.Add(`{"id":"a","income":1,"balance":-2,"score":"3.50","born":"1980-02-03","seen":"2026-01-01T00:00:00Z","active":true,"region":"north","status":"ok"}`)
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := s.ReadJSONL(strings.NewReader(in))
		if err != nil {
			return
		}
		for i := range recs {
			if _, _, err := s.Encode(&recs[i]); err != nil {
				t.Fatalf("accepted batch holds a record that does not encode: %v", err)
			}
		}
	})
}
