package verifier

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/zkhash"
)

// Aggregate modes an asker can pin.
const (
	ModeReveal    = zkv1.AggregateMode_AGGREGATE_MODE_REVEAL
	ModeThreshold = zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD
)

// Threshold is an aggregate threshold as asked: "max <= 8.0" is
// {Which: records.AggMax, Relation: records.RelLE, Value: "8.0"}, Value in
// the field's terms (compared in the circuit's, so "8" and "8.0" agree).
type Threshold = records.Threshold

// Expect is what the verifier itself knows and wants checked: the question
// it asked. A holder that answers another question (an exists bundle for a
// subject question, a weaker query, another field or threshold) fails.
// Zero fields are not pinned.
type Expect struct {
	Kind       zkv1.StatementKind // bundle.KindSubject, KindExists, KindAggregate or KindAbsent
	Collection string             // the collection's full name, HOLDER/NAME as on the ledger
	Query      string             // the query text as asked, compared by canonical hash
	QueryHash  *fr.Element        // or its hash
	Nonce      *fr.Element        // the nonce it issued
	// Subject is the key it asked about: it requires a subject bundle about
	// that key, or with Kind KindAbsent an absent bundle about that key.
	Subject string
	Blind   *fr.Element // the blind it sent with a subject or absent question; required with Subject

	// Aggregates.
	Field     string
	Mode      zkv1.AggregateMode // ModeReveal or ModeThreshold
	Threshold *Threshold
}

// statement checks the pins every kind shares against a bundle's kind,
// collection and query hash (the latter already proven to be the hash of
// the bundle's query text under schema). It returns "" or why not.
func (e *Expect) statement(kind zkv1.StatementKind, collection string, schema *records.Schema, queryHash fr.Element) string {
	if e.Kind != 0 && e.Kind != kind {
		return fmt.Sprintf("asked %s question, the bundle answers %s question", aKind(e.Kind), aKind(kind))
	}
	if e.Subject != "" {
		// A pinned key asks a subject question, unless the kind pinned
		// is absent: a bundle of the other kind answers another question.
		want := bundle.KindSubject
		if e.Kind == bundle.KindAbsent {
			want = bundle.KindAbsent
		}
		if kind != want {
			return fmt.Sprintf("asked %s question about a key, the bundle is %s statement", aKind(want), aKind(kind))
		}
	}
	if e.Subject != "" && e.Blind == nil {
		return "a pinned subject needs the blind sent with the question (the key commitment hides the key under it)"
	}
	if e.Collection != "" && e.Collection != collection {
		if !strings.Contains(e.Collection, "/") && strings.Contains(collection, "/") {
			// A short name is any holder's: only the full name pins one.
			return fmt.Sprintf("asked about collection %q, the bundle is about %q (pin the full name HOLDER/NAME)", e.Collection, collection)
		}
		return fmt.Sprintf("asked about collection %q, the bundle is about %q", e.Collection, collection)
	}
	if kind == bundle.KindAbsent {
		if e.Query != "" || e.QueryHash != nil {
			return "asked a query, the bundle is an absent statement (which answers none)"
		}
	} else if e.Query != "" {
		prep, err := query.Prepare(e.Query, schema)
		if err != nil {
			return fmt.Sprintf("the pinned query does not apply to the bundle's schema: %v", err)
		}
		if !prep.Hash.Equal(&queryHash) {
			return fmt.Sprintf("asked %q, the bundle answers another query", prep.Text)
		}
	}
	if kind != bundle.KindAbsent && e.QueryHash != nil && !e.QueryHash.Equal(&queryHash) {
		return "the bundle answers another query than the pinned query hash"
	}
	if kind != bundle.KindAggregate && (e.Field != "" || e.Mode != 0 || e.Threshold != nil) {
		return fmt.Sprintf("asked an aggregate question, the bundle is a %s statement", bundle.KindName(kind))
	}
	return ""
}

// aKind is a statement kind in words with its article: "a subject", "an
// absent".
func aKind(k zkv1.StatementKind) string {
	name := bundle.KindName(k)
	if strings.ContainsAny(name[:1], "aeiou") {
		return "an " + name
	}
	return "a " + name
}

// aggregate checks the aggregate pins: field, mode and threshold, the
// threshold compared in the circuit's terms so that "8" and "8.0" agree.
func (e *Expect) aggregate(b *zkv1.AggregateBody, f *records.Field) string {
	if e.Field != "" && e.Field != b.GetField() {
		return fmt.Sprintf("asked about field %q, the bundle aggregates %q", e.Field, b.GetField())
	}
	mode := ModeReveal
	th := b.GetThreshold()
	if th != nil {
		mode = ModeThreshold
	}
	if e.Mode != 0 && e.Mode != mode {
		return fmt.Sprintf("asked for a %s answer, the bundle gives a %s answer", modeName(e.Mode), modeName(mode))
	}
	if t := e.Threshold; t != nil {
		if mode != ModeThreshold {
			return "asked a threshold question, the bundle reveals the aggregates"
		}
		want, err := f.ThresholdValue(t.Which, t.Value)
		if err != nil {
			return fmt.Sprintf("the pinned threshold: %v", err)
		}
		gotWhich, gotRel, got, err := thresholdOf(f, th.GetWhich(), th.GetRelation(), th.GetThreshold())
		if err != nil || t.Which != gotWhich || t.Relation != gotRel || want.Cmp(got) != 0 {
			return fmt.Sprintf("asked whether %s %s %s, the bundle answers %s %s %s", t.Which, t.Relation, t.Value, th.GetWhich(), th.GetRelation(), th.GetThreshold())
		}
	}
	return ""
}

// nonce parses a bundle's nonce and checks it is the one the asker issued,
// when it pinned one. It returns the failed check and why, or "".
func (e *Expect) nonce(raw []byte, pass func(Check)) (fr.Element, Check, string) {
	n, err := element(raw)
	if err != nil {
		return n, CheckDecode, fmt.Sprintf("nonce: %v", err)
	}
	if e.Nonce != nil {
		if !e.Nonce.Equal(&n) {
			return n, CheckNonce, "the bundle answers another nonce"
		}
		pass(CheckNonce)
	}
	return n, 0, ""
}

// subject checks the pinned key, when there is one: the asker recomputes
// the key commitment from the key and the blind it asked with, under the
// bundle's collection id and nonce. It returns the failed check and why,
// or 0.
func (e *Expect) subject(coll, nonce, kc fr.Element, pass func(Check)) (Check, string) {
	if e.Subject == "" {
		return 0, ""
	}
	if e.Blind == nil { // statement refuses this first; never a nil dereference
		return CheckExpect, "a pinned key needs the blind sent with the question"
	}
	want := zkhash.KeyCommitment(coll, records.KeyDigest(e.Subject), nonce, *e.Blind)
	if !want.Equal(&kc) {
		return CheckSubject, "the bundle is about another key than the one asked about"
	}
	pass(CheckSubject)
	return 0, ""
}

// thresholdOf reads a threshold's text: its aggregate, relation and value
// in the circuit's terms.
func thresholdOf(f *records.Field, which, relation, value string) (records.Aggregate, records.Relation, *big.Int, error) {
	t, err := records.ParseThreshold(which, relation, value)
	if err != nil {
		return 0, 0, nil, err
	}
	v, err := f.ThresholdValue(t.Which, t.Value)
	return t.Which, t.Relation, v, err
}

// modeName is a mode in words, as --mode spells it.
func modeName(m zkv1.AggregateMode) string {
	switch m {
	case ModeReveal:
		return "reveal"
	case ModeThreshold:
		return "threshold"
	}
	return m.String()
}
