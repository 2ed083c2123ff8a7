package verifier_test

import (
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
)

const pinSchema = `{"name":"people","key":"id","fields":[{"name":"income","type":"uint","width":32},{"name":"age","type":"uint","width":8}]}`

// skeleton is a bundle whose statement checks pass and whose proof is
// junk: a verdict on it fails either the expectation check (the pins) or,
// past it, the proof.
func skeleton(t *testing.T, kind zkv1.StatementKind, text string) *zkv1.Bundle {
	t.Helper()
	sc, err := records.ParseSchema([]byte(pinSchema))
	if err != nil {
		t.Fatal(err)
	}
	prep, err := query.Prepare(text, sc)
	if err != nil {
		t.Fatal(err)
	}
	b := &zkv1.Bundle{Version: bundle.Version, Kind: kind, Collection: "people", CollectionId: elem(records.CollectionID("people")),
		Schema: []byte(pinSchema), Query: prep.Text, QueryHash: elem(prep.Hash), Root: elem(fr.NewElement(7)),
		Nonce: elem(fr.NewElement(9)), Circuit: bundle.KindCircuit(kind), CircuitId: fakeID("id-", kind), VkSha256: fakeID("vk-", kind), Proof: []byte{1, 2, 3}, Result: true}
	if kind == bundle.KindSubject {
		b.KeyCommitment = elem(fr.NewElement(11))
	}
	return b
}

// elem is a field element as a bundle carries it.
func elem(e fr.Element) []byte { b := e.Bytes(); return b[:] }

// TestExpectPins: each pinned value that the bundle does not answer fails
// the expectation check; pins it does answer pass on to the proof.
func TestExpectPins(t *testing.T) {
	v := verifier.New(map[zkv1.Circuit]verifier.Key{
		zkv1.Circuit_CIRCUIT_SUBJECT: {VKSHA256: fakeID("vk-", bundle.KindSubject), CircuitID: fakeID("id-", bundle.KindSubject)},
		zkv1.Circuit_CIRCUIT_EXISTS:  {VKSHA256: fakeID("vk-", bundle.KindExists), CircuitID: fakeID("id-", bundle.KindExists)},
	})
	qh := func(text string) *fr.Element {
		sc, _ := records.ParseSchema([]byte(pinSchema))
		p, err := query.Prepare(text, sc)
		if err != nil {
			t.Fatal(err)
		}
		return &p.Hash
	}
	subject := skeleton(t, bundle.KindSubject, "income <= 30000")
	exists := skeleton(t, bundle.KindExists, "income <= 30000")
	for _, tc := range []struct {
		name string
		b    *zkv1.Bundle
		exp  verifier.Expect
		pass bool // the pins hold (the junk proof then fails)
	}{
		{"nothing pinned", subject, verifier.Expect{}, true},
		{"all that was asked", subject, verifier.Expect{Kind: bundle.KindSubject, Collection: "people", Query: "income<=30000", QueryHash: qh("income <= 30000")}, true},
		{"exists bundle for a subject question", exists, verifier.Expect{Kind: bundle.KindSubject}, false},
		{"exists bundle for a pinned subject", exists, verifier.Expect{Subject: "C05821"}, false},
		{"subject bundle for an exists question", subject, verifier.Expect{Kind: bundle.KindExists}, false},
		{"weaker query", subject, verifier.Expect{Query: "income <= 20000"}, false},
		{"another query hash", subject, verifier.Expect{QueryHash: qh("age >= 65")}, false},
		{"query for another schema", subject, verifier.Expect{Query: "weight <= 3"}, false},
		{"another collection", subject, verifier.Expect{Collection: "people-b"}, false},
		{"aggregate pins on a subject bundle", subject, verifier.Expect{Field: "income"}, false},
		{"threshold pin on an exists bundle", exists, verifier.Expect{Threshold: &verifier.Threshold{Which: records.AggCount, Relation: records.RelEQ, Value: "0"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verdict := v.VerifyProto(tc.b, tc.exp)
			if verdict.Valid {
				t.Fatal("a junk proof verified")
			}
			if failedPins := verdict.Failed == verifier.CheckExpect; failedPins == tc.pass {
				t.Fatalf("failed %q (%s); want the pins to pass=%v", verdict.Failed, verdict.Reason, tc.pass)
			}
		})
	}
}

// TestExpectQualifiedCollection: collections are named HOLDER/NAME, and a
// bundle about "holder/x" fails a pin of another holder's "mallory/x", or
// of the short "x" (any holder's); the full name passes.
func TestExpectQualifiedCollection(t *testing.T) {
	v := verifier.New(map[zkv1.Circuit]verifier.Key{zkv1.Circuit_CIRCUIT_EXISTS: {VKSHA256: fakeID("vk-", bundle.KindExists), CircuitID: fakeID("id-", bundle.KindExists)}})
	b := skeleton(t, bundle.KindExists, "income <= 30000")
	b.Collection, b.CollectionId = "holder/x", elem(records.CollectionID("holder/x"))
	for pin, pass := range map[string]bool{"holder/x": true, "mallory/x": false, "x": false} {
		verdict := v.VerifyProto(b, verifier.Expect{Collection: pin})
		if verdict.Valid {
			t.Fatal("a junk proof verified")
		}
		if failedPins := verdict.Failed == verifier.CheckExpect; failedPins == pass {
			t.Fatalf("pin %q: failed %q (%s); want the pins to pass=%v", pin, verdict.Failed, verdict.Reason, pass)
		}
	}
}
