package bundle_test

import (
	"strings"
	"testing"

	"github.com/zkshare/zkshare/bundle"
)

// revealJSON is a reveal-mode aggregate bundle's JSON with the given extra
// fields (the proofs are not checked here).
func revealJSON(extra string) string {
	return `{"version":1,"kind":"aggregate","collection":"c","collection_id":"00","schema":{},"query":"q","query_hash":"00",` +
		`"field":"f","slot":0,"root":"00","columns":"00","chunk_rows":1024,"chunks":[],` +
		`"circuit":"aggregate-total","circuit_id":"","vk_sha256":"","chunk_circuit_id":"","chunk_vk_sha256":"","proof":""` + extra + `}`
}

func TestParseAggregateGroups(t *testing.T) {
	const nonce = `,"nonce":"01"`
	const values = `,"count":3,"sum":"12","min":1,"max":7`
	const zeros = `,"count":0,"sum":"0","min":0,"max":0`
	for _, tc := range []struct {
		name, extra string
		ok          bool
	}{
		{"revealed", nonce + values, true},
		{"revealed with a min group", nonce + values + `,"min_group":3`, true},
		{"small, zeros", nonce + zeros + `,"min_group":4,"small":true`, true},
		{"small, values", nonce + values + `,"min_group":4,"small":true`, false},
		{"small, sum 00", nonce + `,"count":0,"sum":"00","min":0,"max":0,"min_group":4,"small":true`, false},
		{"small without a min group", nonce + zeros + `,"small":true`, false},
		{"no nonce", values, false},
	} {
		a, err := bundle.ParseAggregate([]byte(revealJSON(tc.extra)))
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if err == nil && a.Small && !strings.Contains(a.Statement(), "fewer than 4 records match") {
			t.Errorf("%s: statement %q", tc.name, a.Statement())
		}
	}
	threshold := strings.Replace(revealJSON(nonce+`,"which":"count","relation":"==","threshold":"0","holds":true`), "aggregate-total", "aggregate-threshold", 1)
	if _, err := bundle.ParseAggregate([]byte(threshold)); err != nil {
		t.Fatalf("threshold bundle: %v", err)
	}
	withGroup := strings.Replace(threshold, `"holds":true`, `"holds":true,"min_group":2`, 1)
	if _, err := bundle.ParseAggregate([]byte(withGroup)); err == nil {
		t.Fatal("a threshold bundle with a min group parsed")
	}
}
