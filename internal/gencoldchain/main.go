// Command gencoldchain writes testdata/coldchain: a shipment schema and
// 20,000 synthetic cold-chain shipments (deterministic: a fixed seed), with
// lots that comply with the 8.0 °C limit and lots that do not, and the
// expected aggregates per lot computed directly from the generated data.
//
//	go run ./internal/gencoldchain -out testdata/coldchain
package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
)

const schema = `{
  "name": "coldchain",
  "key": "shipment_id",
  "fields": [
    {"name": "lot", "type": "string"},
    {"name": "supplier", "type": "string"},
    {"name": "origin", "type": "enum", "values": ["NL", "DE", "FR", "ES", "IT", "PL", "BR", "CN", "XX"]},
    {"name": "max_temp", "type": "decimal", "scale": 1, "width": 16},
    {"name": "hours", "type": "uint", "width": 16},
    {"name": "co2_kg", "type": "decimal", "scale": 2, "width": 40},
    {"name": "certified", "type": "bool"}
  ]
}
`

// lot is a production lot and how its shipments behave.
type lot struct {
	name     string
	complies bool // every shipment at or below 8.0 °C
	banned   bool // some shipments from the banned origin XX
}

// Expected is the ground truth for one lot, for tests and the demo.
type Expected struct {
	Lot          string `json:"lot"`
	Shipments    int    `json:"shipments"`
	OverLimit    int    `json:"over_limit"` // count(max_temp > 8.0)
	MaxTempTenth int    `json:"max_temp_tenths"`
	CO2Cents     int64  `json:"co2_cents"`
	FromBanned   int    `json:"from_banned"` // count(origin == "XX")
}

func main() {
	out := flag.String("out", "testdata/coldchain", "output directory")
	n := flag.Int("n", 20000, "shipments")
	flag.Parse()
	if err := write(*out, *n); err != nil {
		fmt.Fprintln(os.Stderr, "gencoldchain:", err)
		os.Exit(1)
	}
}

func write(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "schema.json"), []byte(schema), 0o644); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(2026, 11))
	lots := []lot{
		{"L-2026-Q1", true, false}, {"L-2026-Q2", true, false}, {"L-2026-Q3", false, false},
		{"L-2026-Q4", true, true}, {"L-2027-Q1", false, true}, {"L-2027-Q2", true, false},
	}
	suppliers := []string{"Frostline BV", "Kühlhaus GmbH", "Glacier SA", "Polar Foods", "Norte Frío SL"}
	origins := []string{"NL", "DE", "FR", "ES", "IT", "PL", "BR", "CN"}
	f, err := os.Create(filepath.Join(dir, "shipments.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.Write([]string{"shipment_id", "lot", "supplier", "origin", "max_temp", "hours", "co2_kg", "certified"}); err != nil {
		return errors.Join(err, f.Close())
	}
	exp := map[string]*Expected{}
	for i := 0; i < n; i++ {
		l := lots[r.IntN(len(lots))]
		e := exp[l.name]
		if e == nil {
			e = &Expected{Lot: l.name, MaxTempTenth: -1 << 15}
			exp[l.name] = e
		}
		// Tenths of a degree: compliant lots stay in [-25.0, 8.0]; the
		// others exceed 8.0 now and then.
		temp := -250 + r.IntN(331)
		if !l.complies && r.IntN(40) == 0 {
			temp = 81 + r.IntN(60)
		}
		origin := origins[r.IntN(len(origins))]
		if l.banned && r.IntN(100) == 0 {
			origin = "XX"
		}
		hours := 2 + r.IntN(200)
		co2 := int64(1000 + r.IntN(250000)) // cents of a kg
		e.Shipments++
		if temp > 80 {
			e.OverLimit++
		}
		e.MaxTempTenth = max(e.MaxTempTenth, temp)
		e.CO2Cents += co2
		if origin == "XX" {
			e.FromBanned++
		}
		if err := w.Write([]string{
			fmt.Sprintf("S%06d", i+1), l.name, suppliers[r.IntN(len(suppliers))], origin,
			fmt.Sprintf("%.1f", float64(temp)/10), fmt.Sprint(hours), fmt.Sprintf("%d.%02d", co2/100, co2%100),
			fmt.Sprint(r.IntN(10) != 0),
		}); err != nil {
			return errors.Join(err, f.Close())
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	var list []*Expected
	for _, e := range exp {
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Lot < list[j].Lot })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "expected.json"), append(b, '\n'), 0o644)
}
