package console

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/internal/clientlimit"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
)

// allChecks are the verifier's checks in the order they run.
var allChecks = []verifier.Check{
	verifier.CheckDecode, verifier.CheckRegistry, verifier.CheckAnchor, verifier.CheckFreshness, verifier.CheckSchema,
	verifier.CheckKey, verifier.CheckCollection, verifier.CheckQuery, verifier.CheckExpect, verifier.CheckNonce,
	verifier.CheckSubject, verifier.CheckCompleteness, verifier.CheckProof,
}

// checkRow is one check of a verdict: "pass", "fail" (with the reason)
// or "not reached" (a check before it failed).
type checkRow struct {
	Name   string
	Result string
	Reason string
	Note   string // what a pass does not say
}

// kindOptions are the statement kinds a verifier may pin, by form value.
var kindOptions = []struct{ Value, Label string }{
	{"", "any (not pinned)"}, {"subject", "about a subject's record"}, {"exists", "some record matches"},
	{"absent", "a key has no record"}, {"aggregate", "an aggregate over every record"},
}

var kindByValue = map[string]zkv1.StatementKind{
	"subject": bundle.KindSubject, "exists": bundle.KindExists, "absent": bundle.KindAbsent, "aggregate": bundle.KindAggregate,
}

// pins are what the asker pinned, as typed. An aggregate's pins are its
// field, its mode, and in threshold mode the threshold (which aggregate,
// the relation, the value).
type pins struct {
	Kind, Collection, Query, Subject, Blind, Nonce string
	Field, Mode, Which, Relation, Value            string
}

// statement says whether anything about the statement (not only the
// nonce or the blind) was pinned: else the expectation check checks
// nothing.
func (p pins) statement() bool {
	return p.Kind != "" || p.Collection != "" || p.Query != "" || p.Subject != "" || p.Field != "" || p.Mode != "" || p.Which != ""
}

// Aggregate modes, relations and aggregates a verifier may pin.
var (
	modeOptions     = []string{"reveal", "threshold"}
	whichOptions    = []string{"count", "sum", "min", "max"}
	relationOptions = []string{"<=", ">=", "=="}
)

type verifyData struct {
	Bundle    string // the pasted text, to edit and send again
	Pins      pins
	Kinds     []struct{ Value, Label string }
	Modes     []string
	Whichs    []string
	Relations []string
	Checked   bool
	Valid     bool
	Statement string
	Checks    []checkRow
	Warnings  []string
	Anchor    uint64
	AnchorAt  time.Time
}

func (c *Console) verifyForm(*request) (*view, error) {
	return &view{Page: "verify", Title: "Verify a bundle", Data: newVerifyData()}, nil
}

func newVerifyData() verifyData {
	return verifyData{Kinds: kindOptions, Modes: modeOptions, Whichs: whichOptions, Relations: relationOptions}
}

// verify checks a pasted or attached bundle against this node's ledger,
// as the Connect API's Verify does, with what the asker pinned, and lists
// every check in order. Aggregate bundles take the API's own limit.
func (c *Console) verify(r *request) (*view, error) {
	d := newVerifyData()
	f := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	// A key is compared as typed, as the API does: "C00005 " is another key.
	d.Bundle, d.Pins = r.PostFormValue("bundle"), pins{Kind: f("kind"), Collection: f("collection"), Query: f("query"),
		Subject: r.PostFormValue("subject"), Blind: f("blind"), Nonce: f("nonce"),
		Field: f("field"), Mode: f("mode"), Which: f("which"), Relation: f("relation"), Value: f("value")}
	data := []byte(d.Bundle)
	if f, _, err := r.FormFile("bundle_file"); err == nil {
		defer func() { _ = f.Close() }() // an in-memory part: closing cannot fail
		b, err := io.ReadAll(io.LimitReader(f, bundle.MaxSize+1))
		if err != nil {
			return nil, badRequest("the attached file could not be read")
		}
		if len(b) > 0 {
			data, d.Bundle = b, ""
		}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, badRequest("paste a bundle or attach its file")
	}
	exp, err := d.Pins.expectation()
	if err != nil {
		return nil, err
	}
	d.Checked = true
	b, err := bundle.Parse(data)
	if err != nil {
		d.Checks = checkRows(&verifier.Verdict{Failed: verifier.CheckDecode, Reason: err.Error()}, false)
		return &view{Page: "verify", Title: "Verify a bundle", Data: d}, nil
	}
	release, err := c.admitVerify(r, b)
	if err != nil {
		return nil, err
	}
	defer release()
	v, err := c.n.Verify(r.ctx(), node.VerifyRequest{Bundle: b, Expect: exp})
	if errors.Is(err, node.ErrInvalidArgument) {
		return nil, badRequest("%v", err) // about the pinned values, as typed
	}
	if err != nil {
		return nil, err
	}
	d.Valid, d.Statement, d.Warnings, d.Anchor = v.Valid, v.Statement, v.Warnings, v.AnchorHeight
	if d.Statement == "" {
		d.Statement = bundle.Statement(b)
	}
	if v.AnchorTimeUnixMs > 0 {
		d.AnchorAt = time.UnixMilli(v.AnchorTimeUnixMs).UTC()
	}
	d.Checks = checkRows(v, d.Pins.statement())
	if v.Valid {
		d.Warnings = append(d.Pins.unpinned(b.GetKind()), d.Warnings...)
	}
	return &view{Page: "verify", Title: "Verify a bundle", Data: d}, nil
}

// admitVerify bounds the bundles checked at once; an aggregate bundle (up
// to 129 Groth16 verifications) also counts against the client's calls a
// minute, under the limit the Connect API applies to the same call.
func (c *Console) admitVerify(r *request, b *zkv1.Bundle) (release func(), err error) {
	if bundle.IsAggregate(b) {
		id := ""
		if r.session != nil {
			id = r.session.caller.ID
		}
		release, err := c.aggregates.Acquire(clientlimit.Key(id, r.RemoteAddr))
		switch {
		case errors.Is(err, clientlimit.ErrRate):
			return nil, &pageError{http.StatusTooManyRequests, fmt.Sprintf("at most %d aggregate bundles a minute: try again in a minute", c.aggregates.PerMinute())}
		case err != nil:
			return nil, &pageError{http.StatusServiceUnavailable, "the node is checking as many bundles as it can: try again in a moment"}
		}
		return release, nil
	}
	select {
	case c.verifying <- struct{}{}:
		return func() { <-c.verifying }, nil
	default:
		return nil, &pageError{http.StatusServiceUnavailable, "the node is checking as many bundles as it can: try again in a moment"}
	}
}

// expectation is the pins as the verifier takes them.
func (p pins) expectation() (*zkv1.Expectation, error) {
	e := &zkv1.Expectation{Collection: p.Collection, Query: p.Query, Subject: p.Subject, Field: p.Field}
	if p.Kind != "" {
		k, ok := kindByValue[p.Kind]
		if !ok {
			return nil, badRequest("kind: not a statement kind")
		}
		e.Kind = k
	}
	switch p.Mode {
	case "":
	case "reveal":
		e.Mode = verifier.ModeReveal
	case "threshold":
		e.Mode = verifier.ModeThreshold
	default:
		return nil, badRequest("mode: reveal or threshold")
	}
	if p.Which != "" || p.Relation != "" || p.Value != "" {
		if _, err := records.ParseThreshold(p.Which, p.Relation, p.Value); err != nil || p.Value == "" {
			return nil, badRequest("threshold: pin its aggregate, relation and value together")
		}
		e.Threshold = &zkv1.AggregateThreshold{Aggregate: p.Which, Relation: p.Relation, Value: p.Value}
	}
	var err error
	if e.Blind, err = scalarField("blind", p.Blind); err != nil {
		return nil, err
	}
	if e.Nonce, err = scalarField("nonce", p.Nonce); err != nil {
		return nil, err
	}
	if p.Subject != "" && p.Blind == "" {
		return nil, badRequest("subject: pin the blind you sent with it too (without it the bundle does not name the key)")
	}
	return e, nil
}

func scalarField(name, h string) ([]byte, error) {
	if h == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return nil, badRequest("%s: want the 64 hex digits you sent, or nothing", name)
	}
	return b, nil
}

// unpinned says what a valid verdict does not show because it was not
// pinned.
func (p pins) unpinned(kind zkv1.StatementKind) []string {
	var w []string
	if p.Collection == "" {
		w = append(w, "No collection was pinned: another collection with the same schema (another holder's, say) gives such a bundle. Pin the HOLDER/NAME you asked.")
	}
	if kind == bundle.KindAggregate && (p.Field == "" || p.Mode == "" || (p.Mode == "threshold" && p.Which == "")) {
		w = append(w, "The aggregate was not pinned in full: another field, mode or threshold gives such a bundle. Pin the field, the mode and, in threshold mode, the threshold you asked for.")
	}
	if (kind == bundle.KindSubject || kind == bundle.KindAbsent) && p.Subject == "" {
		w = append(w, "No subject was pinned: this bundle does not say whose record it is (any record that satisfies the question gives such a bundle). Pin the key and the blind you sent to check that it is about them.")
	}
	if p.Nonce == "" {
		w = append(w, "No nonce was pinned: this may be an answer to someone else's question, or an old one. Pin the nonce you sent.")
	}
	if p.Query == "" && kind != bundle.KindAbsent {
		w = append(w, "No question was pinned: the statement above is the question this bundle answers, which may not be the one you asked.")
	}
	return w
}

// checkRows lists a verdict's checks in order: those that passed, the one
// that failed with its reason, then the checks that run after it, which it
// never reached. A valid
// verdict lists only the checks its bundle's kind runs.
func checkRows(v *verifier.Verdict, pinned bool) []checkRow {
	var rows []checkRow
	for _, ch := range v.Passed {
		r := checkRow{Name: verifier.CheckName(ch), Result: "pass"}
		if ch == verifier.CheckExpect && !pinned {
			r.Note = "nothing was pinned"
		}
		rows = append(rows, r)
	}
	if v.Valid {
		return rows
	}
	rows = append(rows, checkRow{Name: verifier.CheckName(v.Failed), Result: "fail", Reason: v.Reason})
	if i := slices.Index(allChecks, v.Failed); i >= 0 {
		for _, ch := range allChecks[i+1:] {
			if !slices.Contains(v.Passed, ch) {
				rows = append(rows, checkRow{Name: verifier.CheckName(ch), Result: "not reached"})
			}
		}
	}
	return rows
}
