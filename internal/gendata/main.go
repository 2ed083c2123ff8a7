// Command gendata writes testdata/benefits: a schema, 10,000 synthetic
// citizen records (deterministic: a fixed seed), and sample queries whose
// expected answers it computes directly from the generated data, without
// zkshare's query engine.
//
//	go run ./internal/gendata -out testdata/benefits
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
	"time"
)

const schema = `{
  "name": "benefits",
  "key": "citizen_id",
  "fields": [
    {"name": "income", "type": "uint", "width": 32},
    {"name": "age", "type": "uint", "width": 8},
    {"name": "household", "type": "uint", "width": 8},
    {"name": "region", "type": "enum", "values": ["north", "east", "south", "west"]},
    {"name": "status", "type": "string"},
    {"name": "disabled", "type": "bool"},
    {"name": "born", "type": "date"},
    {"name": "savings", "type": "decimal", "scale": 2, "width": 40},
    {"name": "balance", "type": "int", "width": 32}
  ]
}
`

type citizen struct {
	id        string
	income    int
	age       int
	household int
	region    string
	status    string
	disabled  bool
	born      time.Time
	savings   int // cents
	balance   int
}

// Query is one sample question and its expected answer.
type Query struct {
	Kind     string `json:"kind"`
	Subject  string `json:"subject,omitempty"`
	Query    string `json:"query"`
	Expected bool   `json:"expected"`
}

func main() {
	out := flag.String("out", "testdata/benefits", "output directory")
	n := flag.Int("n", 10000, "records")
	flag.Parse()
	if err := run(*out, *n); err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		os.Exit(1)
	}
}

func run(out string, n int) error {
	rng := rand.New(rand.NewPCG(2026, 11))
	regions := []string{"north", "east", "south", "west"}
	statuses := []string{"active", "active", "active", "pending", "suspended"}
	ref := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	people := make([]citizen, n)
	for i := range people {
		age := 18 + rng.IntN(82)
		people[i] = citizen{
			id:        fmt.Sprintf("C%05d", i+1),
			income:    rng.IntN(120001),
			age:       age,
			household: 1 + rng.IntN(8),
			region:    regions[rng.IntN(4)],
			status:    statuses[rng.IntN(len(statuses))],
			disabled:  rng.IntN(10) == 0,
			born:      ref.AddDate(-age, 0, -rng.IntN(365)),
			savings:   rng.IntN(5_000_000),
			balance:   rng.IntN(20001) - 10000,
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "schema.json"), []byte(schema), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, "records.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.Write([]string{"citizen_id", "income", "age", "household", "region", "status", "disabled", "born", "savings", "balance"}); err != nil {
		return errors.Join(err, f.Close())
	}
	for _, c := range people {
		if err := w.Write([]string{c.id, fmt.Sprint(c.income), fmt.Sprint(c.age), fmt.Sprint(c.household), c.region, c.status,
			fmt.Sprint(c.disabled), c.born.Format(time.DateOnly), fmt.Sprintf("%d.%02d", c.savings/100, c.savings%100), fmt.Sprint(c.balance)}); err != nil {
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

	find := func(pred func(c citizen) bool, want bool) citizen {
		for _, c := range people {
			if pred(c) == want {
				return c
			}
		}
		panic("no citizen for a sample query")
	}
	exists := func(pred func(c citizen) bool) bool {
		for _, c := range people {
			if pred(c) {
				return true
			}
		}
		return false
	}
	eligible := func(c citizen) bool {
		return c.income <= 30000 && c.age >= 65 && (c.region == "north" || c.region == "east") && c.status != "suspended"
	}
	var qs []Query
	add := func(kind, text string, pred func(c citizen) bool, subject *citizen) {
		q := Query{Kind: kind, Query: text}
		if subject != nil {
			q.Subject, q.Expected = subject.id, pred(*subject)
		} else {
			q.Expected = exists(pred)
		}
		qs = append(qs, q)
	}
	yes, no := find(eligible, true), find(eligible, false)
	const elig = `income <= 30000 AND age >= 65 AND region in ("north","east") AND status != "suspended"`
	add("subject", elig, eligible, &yes)
	add("subject", elig, eligible, &no)
	neg := func(c citizen) bool { return c.balance < 0 && c.disabled }
	s := find(neg, true)
	add("subject", `balance < 0 AND disabled == true`, neg, &s)
	sav := func(c citizen) bool { return c.savings <= 1000000 && c.household >= 4 } // cents
	s2 := find(sav, false)
	add("subject", `savings <= 10000.00 AND household >= 4`, sav, &s2)
	born := func(c citizen) bool { return c.born.Before(time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)) }
	s3 := find(born, true)
	add("subject", `born < "1950-01-01"`, born, &s3)
	add("exists", `age >= 90 AND income < 5000`, func(c citizen) bool { return c.age >= 90 && c.income < 5000 }, nil)
	add("exists", `status == "suspended" AND region == "west" AND disabled == true`, func(c citizen) bool {
		return c.status == "suspended" && c.region == "west" && c.disabled
	}, nil)
	add("exists", `income > 120000`, func(c citizen) bool { return c.income > 120000 }, nil)
	qf, err := os.Create(filepath.Join(out, "queries.json"))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(qf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(qs); err != nil {
		return err
	}
	return qf.Close()
}
