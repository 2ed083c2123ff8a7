// Command vulngate reads govulncheck's JSON output (-format json) on stdin,
// lists the vulnerabilities the code calls, and fails when one of them is in
// a module we can upgrade. Those in the standard library are fixed by a newer
// Go toolchain, which the CI machine provides: they fail only with -stdlib.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// message is the part of govulncheck's JSON stream that the gate reads.
type message struct {
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Function string `json:"function"`
		} `json:"trace"`
	} `json:"finding"`
}

func main() {
	stdlib := flag.Bool("stdlib", false, "fail on vulnerabilities in the standard library too")
	flag.Parse()
	n, err := gate(os.Stdin, os.Stdout, *stdlib)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	if n > 0 {
		fmt.Fprintf(os.Stderr, "vulngate: %d called vulnerabilities to fix (upgrade the modules above)\n", n)
		os.Exit(1)
	}
}

// gate prints the called vulnerabilities and returns how many fail the gate.
func gate(r io.Reader, w io.Writer, stdlib bool) (int, error) {
	type key struct{ osv, module string }
	called := map[key]string{}
	found := map[key]string{}
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return 0, fmt.Errorf("reading govulncheck JSON: %w", err)
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 {
			continue
		}
		// Symbol-level findings (a function in the first frame) are the
		// vulnerabilities the code calls; the others are only imported or
		// required.
		if f.Trace[0].Function == "" {
			continue
		}
		k := key{f.OSV, f.Trace[0].Module}
		called[k] = f.FixedVersion
		found[k] = f.Trace[0].Version
	}
	keys := make([]key, 0, len(called))
	for k := range called {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].module != keys[j].module {
			return keys[i].module < keys[j].module
		}
		return keys[i].osv < keys[j].osv
	})
	failing := 0
	for _, k := range keys {
		note := ""
		if k.module == "stdlib" && !stdlib {
			note = " (standard library: needs a newer Go; not gated)"
		} else {
			failing++
		}
		if _, err := fmt.Fprintf(w, "%s %s@%s fixed in %s%s\n", k.osv, k.module, found[k], called[k], note); err != nil {
			return 0, err
		}
	}
	return failing, nil
}
