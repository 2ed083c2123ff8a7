package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/verifier"
)

func TestLocalNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                              Prefix,
		"/console/audit":                "/console/audit",
		"/console/audit?consumer=a":     "/console/audit?consumer=a",
		"https://evil.example/console/": Prefix,
		"//evil.example/console/":       Prefix,
		"/\\evil.example":               Prefix,
		"/other":                        Prefix,
		"javascript:alert(1)":           Prefix,
		"/console/../metrics":           Prefix,
		"/console":                      Prefix,
		"/console/ledger/../audit":      "/console/audit",
		"%":                             Prefix,
	} {
		if got := localNext(in); got != want {
			t.Errorf("localNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzLocalNext(f *testing.F) {
	for _, s := range []string{"/console/", "//x", "https://x/console/", "/console/a?b=c", "\\\\x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := localNext(s)
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(got, Prefix) || strings.HasPrefix(got, "//") {
			t.Fatalf("localNext(%q) = %q: not a path on this console", s, got)
		}
	})
}

func TestBarChart(t *testing.T) {
	c := barChart("x", []point{{Label: "a", Value: 3}, {Label: "b", Value: 7}, {Label: "c", Value: 0}})
	if len(c.Bars) != 3 || len(c.Ticks) != chartTicks+1 {
		t.Fatalf("bars %d ticks %d", len(c.Bars), len(c.Ticks))
	}
	// The axis tops out at 8 (four steps of 2): the bar of 7 is 7/8 of the plot.
	plot := c.Bottom - c.Top
	if got := c.Bars[1].H / plot; got < 0.87 || got > 0.88 {
		t.Errorf("bar of 7 of 8 is %.3f of the plot", got)
	}
	if c.Bars[2].H != 0 || c.Bars[2].Y != c.Bottom {
		t.Errorf("bar of 0: %+v", c.Bars[2])
	}
	if c.Ticks[len(c.Ticks)-1].Label != "8" {
		t.Errorf("top tick %q", c.Ticks[len(c.Ticks)-1].Label)
	}
	for i := 1; i < len(c.Bars); i++ {
		if c.Bars[i].X <= c.Bars[i-1].X+c.Bars[i-1].W-0.01 {
			t.Errorf("bars %d and %d overlap", i-1, i)
		}
	}
	if e := barChart("empty", nil); len(e.Bars) != 0 {
		t.Error("an empty chart has bars")
	}
	many := make([]point, 100)
	if c := barChart("many", many); len(c.XLabels) > chartMaxXLabels {
		t.Errorf("%d x labels", len(c.XLabels))
	}
}

func TestNiceStepAndCompact(t *testing.T) {
	for _, tc := range []struct{ v, step float64 }{{0, 0}, {0.3, 1}, {1, 1}, {1.75, 2}, {3, 5}, {2500, 2500}, {2600, 5000}, {12, 20}} {
		if got := niceStep(tc.v); got != tc.step {
			t.Errorf("niceStep(%v) = %v, want %v", tc.v, got, tc.step)
		}
	}
	for v, want := range map[float64]string{0: "0", 2.5: "2.5", 1500: "1.5k", 20000: "20k", 2e6: "2M"} {
		if got := compact(v); got != want {
			t.Errorf("compact(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestCheckRows(t *testing.T) {
	valid := checkRows(&verifier.Verdict{Valid: true, Passed: []verifier.Check{verifier.CheckRegistry, verifier.CheckProof}}, false)
	if len(valid) != 2 || valid[1].Result != "pass" {
		t.Errorf("valid: %+v", valid)
	}
	failed := checkRows(&verifier.Verdict{Passed: []verifier.Check{verifier.CheckRegistry}, Failed: verifier.CheckAnchor, Reason: "not anchored"}, false)
	if failed[0].Result != "pass" || failed[1].Result != "fail" || failed[1].Reason != "not anchored" {
		t.Fatalf("failed: %+v", failed)
	}
	for _, r := range failed[2:] {
		if r.Result != "not reached" || r.Name == "decode" || r.Name == "key registry" {
			t.Errorf("after the failure: %+v", r)
		}
	}
	if last := failed[len(failed)-1]; last.Name != "proof" {
		t.Errorf("last check %q, want proof", last.Name)
	}
}

func TestTxKind(t *testing.T) {
	b := &zkv1.TxBody{Kind: &zkv1.TxBody_RegisterCollection{RegisterCollection: &zkv1.RegisterCollection{}}}
	if got := txKind(b); got != "register collection" {
		t.Errorf("txKind = %q", got)
	}
	if got := txKind(&zkv1.TxBody{}); got != "unknown" {
		t.Errorf("empty body: %q", got)
	}
}

// TestSessions: a session lasts its TTL; a participant's oldest session
// makes room for its new one (at most maxPerParticipant each); a full table
// refuses a sign-in rather than signing others out; a CSRF token is bound
// to the visitor's cookie and session.
func TestSessions(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s, err := newSessions(time.Hour, 3, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	start := func(id string) (*http.Cookie, error) {
		now = now.Add(time.Second)
		w := httptest.NewRecorder()
		if err := s.start(w, httptest.NewRequest(http.MethodPost, "/console/signin", nil), node.Caller{ID: id, Role: zkv1.Role_ROLE_HOLDER}); err != nil {
			return nil, err
		}
		c := w.Result().Cookies()[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != Prefix {
			t.Fatalf("session cookie %+v", c)
		}
		return c, nil
	}
	must := func(c *http.Cookie, err error) *http.Cookie {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	live := func(c *http.Cookie) *session {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.m[hashOf(c.Value)]
	}
	a, b := must(start("a")), must(start("b"))
	m1 := must(start("m"))
	// The table (3) is full: m signing in again replaces its own oldest.
	m2 := must(start("m"))
	if live(a) == nil || live(b) == nil || live(m1) != nil || live(m2) == nil {
		t.Error("a full table: the new session did not replace its own participant's oldest")
	}
	// c has no session to give up: refused; a and b stay.
	if _, err := start("c"); err == nil {
		t.Error("a full table of others' sessions let c in")
	}
	if live(a) == nil || live(b) == nil {
		t.Error("c's sign-in signed someone out")
	}
	// Expired sessions make room.
	now = now.Add(2 * time.Hour)
	must(start("c"))
	if live(a) != nil {
		t.Error("an expired session is still kept")
	}
	// One participant keeps at most maxPerParticipant.
	big, err := newSessions(time.Hour, 1000, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	s = big
	for range maxPerParticipant + 5 {
		must(start("m"))
	}
	if len(s.m) != maxPerParticipant {
		t.Errorf("one participant holds %d sessions, want %d", len(s.m), maxPerParticipant)
	}
	// CSRF: another cookie, or the same cookie with a session, signs another token.
	var se *session
	for _, v := range s.m {
		se = v
	}
	if s.sign("v1", nil) == s.sign("v2", nil) || s.sign("v1", nil) == s.sign("v1", se) {
		t.Error("CSRF tokens do not depend on the cookie and the session")
	}
}

// TestSmallCounts: a chart of small counts has whole-number ticks.
func TestSmallCounts(t *testing.T) {
	for _, v := range []float64{1, 2, 3} {
		c := barChart("x", []point{{Value: v}})
		for _, tk := range c.Ticks {
			if strings.Contains(tk.Label, ".") {
				t.Errorf("max %v: tick %q", v, tk.Label)
			}
		}
	}
	if c := barChart("zero", []point{{Value: 0}}); c.Bars[0].H != 0 {
		t.Errorf("a zero bar has height %v", c.Bars[0].H)
	}
}

// TestPinsExpectation: every pin reaches the verifier's expectation, a key
// as typed; incomplete or malformed pins are refused.
func TestPinsExpectation(t *testing.T) {
	blind := strings.Repeat("0", 63) + "1"
	e, err := pins{Kind: "aggregate", Collection: "h/c", Query: "a == 1", Field: "co2_kg", Mode: "threshold",
		Which: "sum", Relation: "<=", Value: "10.5", Nonce: blind}.expectation()
	if err != nil {
		t.Fatal(err)
	}
	if e.GetKind() != zkv1.StatementKind_STATEMENT_KIND_AGGREGATE || e.GetCollection() != "h/c" || e.GetQuery() != "a == 1" ||
		e.GetField() != "co2_kg" || e.GetMode() != verifier.ModeThreshold || len(e.GetNonce()) != 32 ||
		e.GetThreshold().GetAggregate() != "sum" || e.GetThreshold().GetRelation() != "<=" || e.GetThreshold().GetValue() != "10.5" {
		t.Errorf("aggregate pins: %v", e)
	}
	e, err = pins{Subject: "C00005 ", Blind: blind}.expectation()
	if err != nil || e.GetSubject() != "C00005 " || len(e.GetBlind()) != 32 {
		t.Errorf("subject pins: %v, %v", e, err)
	}
	for name, p := range map[string]pins{
		"subject without blind":   {Subject: "C00005"},
		"unknown kind":            {Kind: "everything"},
		"unknown mode":            {Mode: "guess"},
		"threshold without value": {Which: "sum", Relation: "<="},
		"unknown relation":        {Which: "sum", Relation: "<", Value: "1"},
		"short nonce":             {Nonce: "abcd"},
		"blind not hex":           {Subject: "x", Blind: strings.Repeat("z", 64)},
	} {
		if _, err := p.expectation(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if !(pins{Field: "x"}).statement() || (pins{Nonce: blind, Blind: blind}).statement() {
		t.Error("statement(): a nonce or blind alone pins no statement; a field does")
	}
}
