package verifier_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/verifier"
	"google.golang.org/protobuf/proto"
)

// absentKey is a key with no record in setup's collection; low entropy on
// purpose: only the blind keeps it from being guessed from the bundle.
const absentKey = "CANARY-ABSENT-0042"

// TestAbsentBundle: an absent bundle verifies with every pin its asker
// holds (kind, collection, key and blind, nonce), and each tampered field
// or wrong pin fails the check that names it.
func TestAbsentBundle(t *testing.T) {
	_, p, v := setup(t)
	ctx := context.Background()
	nonce, _ := prover.NewNonce()
	blind, _ := prover.NewNonce()
	b, err := p.ProveAbsent(ctx, "people", absentKey, nonce, blind)
	if err != nil {
		t.Fatal(err)
	}
	if b.GetKind() != bundle.KindAbsent || b.GetCircuit() != zkv1.Circuit_CIRCUIT_ABSENT || b.GetQuery() != "" {
		t.Fatalf("bundle: kind %v, circuit %v, query %q", b.GetKind(), b.GetCircuit(), b.GetQuery())
	}
	data := marshal(t, b)
	pins := verifier.Expect{Kind: bundle.KindAbsent, Collection: "people", Subject: absentKey, Blind: &blind, Nonce: &nonce}
	verdict := v.VerifyBytes(data, pins)
	if !verdict.Valid {
		t.Fatalf("valid absent bundle rejected: %v", verdict.Err())
	}
	for _, c := range []verifier.Check{verifier.CheckKey, verifier.CheckCollection, verifier.CheckExpect, verifier.CheckNonce, verifier.CheckSubject, verifier.CheckProof} {
		if !slices.Contains(verdict.Passed, c) {
			t.Errorf("check %s did not run", verifier.CheckName(c))
		}
	}
	if slices.Contains(verdict.Passed, verifier.CheckQuery) {
		t.Error("an absent bundle passed a query hash check: it has no query")
	}
	if !strings.Contains(verdict.Statement, "has no live record in people") {
		t.Errorf("statement %q", verdict.Statement)
	}
	// Through Parse and the Go prover's request form too.
	b2, err := p.Prove(ctx, prover.Request{Collection: "people", Kind: bundle.KindAbsent, Subject: absentKey, Nonce: nonce, Blind: blind})
	if err != nil {
		t.Fatal(err)
	}
	if verdict := v.VerifyProto(b2, pins); !verdict.Valid {
		t.Fatalf("Prove with kind absent: %v", verdict.Err())
	}

	other, _ := prover.NewNonce()
	one := make([]byte, 32)
	one[31] = 1
	subjectOf := func(m *zkv1.Bundle) { // relabelled as a subject answer
		m.Kind, m.Circuit, m.Query, m.QueryHash, m.Result = bundle.KindSubject, zkv1.Circuit_CIRCUIT_SUBJECT, "income <= 1", one, true
	}
	for _, tc := range []struct {
		name   string
		tamper func(*zkv1.Bundle)
		exp    verifier.Expect
		want   verifier.Check
	}{
		{"key commitment", func(m *zkv1.Bundle) { m.KeyCommitment = one }, verifier.Expect{}, verifier.CheckProof},
		{"key commitment, key pinned", func(m *zkv1.Bundle) { m.KeyCommitment = one }, pins, verifier.CheckSubject},
		{"other nonce", nil, verifier.Expect{Kind: bundle.KindAbsent, Nonce: &other}, verifier.CheckNonce},
		{"nonce changed", func(m *zkv1.Bundle) { m.Nonce = one }, verifier.Expect{}, verifier.CheckProof},
		{"other root", func(m *zkv1.Bundle) { m.Root = one }, verifier.Expect{}, verifier.CheckProof},
		{"other collection name", func(m *zkv1.Bundle) { m.Collection = "other" }, verifier.Expect{}, verifier.CheckCollection},
		{"other collection id", func(m *zkv1.Bundle) { m.CollectionId = one }, verifier.Expect{}, verifier.CheckCollection},
		{"other collection pinned", nil, verifier.Expect{Kind: bundle.KindAbsent, Collection: "holder/elsewhere"}, verifier.CheckExpect},
		{"kind swapped to subject", func(m *zkv1.Bundle) { m.Kind = bundle.KindSubject }, verifier.Expect{}, verifier.CheckDecode},
		{"relabelled a subject bundle", subjectOf, verifier.Expect{}, verifier.CheckKey},
		{"wrong pinned key", nil, verifier.Expect{Kind: bundle.KindAbsent, Subject: "b", Blind: &blind, Nonce: &nonce}, verifier.CheckSubject},
		{"wrong blind", nil, verifier.Expect{Kind: bundle.KindAbsent, Subject: absentKey, Blind: &other, Nonce: &nonce}, verifier.CheckSubject},
		{"key pinned without blind", nil, verifier.Expect{Kind: bundle.KindAbsent, Subject: absentKey}, verifier.CheckExpect},
		{"asked a subject question", nil, verifier.Expect{Kind: bundle.KindSubject}, verifier.CheckExpect},
		{"key pinned, kind not: a subject question", nil, verifier.Expect{Subject: absentKey, Blind: &blind}, verifier.CheckExpect},
		{"asked an exists question", nil, verifier.Expect{Kind: bundle.KindExists}, verifier.CheckExpect},
		{"a query pinned", nil, verifier.Expect{Query: "income <= 1"}, verifier.CheckExpect},
		{"an aggregate pinned", nil, verifier.Expect{Field: "income"}, verifier.CheckExpect},
		{"vk", func(m *zkv1.Bundle) { m.VkSha256 = one }, verifier.Expect{}, verifier.CheckKey},
	} {
		m := proto.CloneOf(b)
		if tc.tamper != nil {
			tc.tamper(m)
		}
		verdict := v.VerifyProto(m, tc.exp)
		if verdict.Valid || verdict.Failed != tc.want {
			t.Errorf("%s: valid %v, failed %q (%s), want %q", tc.name, verdict.Valid, verifier.CheckName(verdict.Failed), verdict.Reason, verifier.CheckName(tc.want))
		}
	}
}

// TestAbsentNotSubject: a subject bundle does not pass as an absent
// answer, whatever the asker pinned alongside.
func TestAbsentNotSubject(t *testing.T) {
	_, p, v := setup(t)
	nonce, _ := prover.NewNonce()
	blind, _ := prover.NewNonce()
	b, err := p.Prove(context.Background(), prover.Request{Collection: "people", Kind: bundle.KindSubject, Subject: "b", Query: "income <= 30000", Nonce: nonce, Blind: blind})
	if err != nil {
		t.Fatal(err)
	}
	for name, exp := range map[string]verifier.Expect{
		"kind":           {Kind: bundle.KindAbsent},
		"kind and key":   {Kind: bundle.KindAbsent, Subject: "b", Blind: &blind, Nonce: &nonce},
		"kind and nonce": {Kind: bundle.KindAbsent, Nonce: &nonce},
	} {
		if verdict := v.VerifyProto(b, exp); verdict.Valid || verdict.Failed != verifier.CheckExpect {
			t.Errorf("%s: a subject bundle as absent: failed %q", name, verifier.CheckName(verdict.Failed))
		}
	}
	// A subject bundle relabelled absent fails before any cryptography.
	m := proto.CloneOf(b)
	m.Kind = bundle.KindAbsent
	if verdict := v.VerifyProto(m, verifier.Expect{}); verdict.Failed != verifier.CheckDecode {
		t.Errorf("relabelled subject bundle: failed %q", verifier.CheckName(verdict.Failed))
	}
}

// TestAbsentPrivacy: the raw key appears nowhere in an absent bundle, its
// statement or its verdicts; a present key fails with holder.ErrPresent,
// naming neither the key nor any value.
func TestAbsentPrivacy(t *testing.T) {
	_, p, v := setup(t)
	ctx := context.Background()
	nonce, _ := prover.NewNonce()
	blind, _ := prover.NewNonce()
	b, err := p.ProveAbsent(ctx, "people", absentKey, nonce, blind)
	if err != nil {
		t.Fatal(err)
	}
	data := marshal(t, b)
	wrong := verifier.Expect{Kind: bundle.KindAbsent, Subject: "someone-else", Blind: &blind}
	texts := []string{string(data), bundle.Statement(b), v.VerifyBytes(data, verifier.Expect{}).Reason, v.VerifyBytes(data, wrong).Reason}
	for _, s := range texts {
		if strings.Contains(s, absentKey) {
			t.Fatalf("the absent key leaks: %q", s)
		}
	}
	_, err = p.ProveAbsent(ctx, "people", canaryKey, nonce, blind)
	if !errors.Is(err, holder.ErrPresent) {
		t.Fatalf("absent for a present key: %v, want ErrPresent", err)
	}
	for _, canary := range []string{canaryKey, canaryStatus, canaryIncome} {
		if strings.Contains(err.Error(), canary) {
			t.Fatalf("the error %q leaks %q", err, canary)
		}
	}
	if _, err := p.ProveAbsent(ctx, "nosuch", absentKey, nonce, blind); !errors.Is(err, holder.ErrNotFound) {
		t.Fatalf("unknown collection: %v", err)
	}
	if _, err := p.Prove(ctx, prover.Request{Collection: "people", Kind: bundle.KindAbsent, Subject: absentKey, Query: "income <= 1", Nonce: nonce, Blind: blind}); err == nil {
		t.Fatal("an absent question with a query was proven")
	}
}
