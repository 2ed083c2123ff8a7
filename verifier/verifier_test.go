package verifier_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"

	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/internal/logging"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
)

var keyDir string

func TestMain(m *testing.M) {
	logging.QuietGnark(nil)
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, cleanup, err := testkeys.Dir(context.Background(), append(append([]string{}, keys.Core...), keys.Aggregates...)...)
	if err != nil {
		panic(err)
	}
	keyDir = dir
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// Canary values: unique strings that must never leave the holder.
const (
	canaryKey    = "CANARY-KEY-7f3a9"
	canaryStatus = "CANARY-STATUS-c41d"
	canaryIncome = "987654321"
)

func setup(t *testing.T) (*holder.Store, *prover.Prover, *verifier.Verifier) {
	if testing.Short() {
		t.Skip("needs Groth16 keys")
	}
	ctx := context.Background()
	st, err := holder.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sc, err := records.ParseSchema([]byte(`{"name":"people","key":"id","fields":[
	 {"name":"income","type":"uint","width":32},{"name":"status","type":"string"},{"name":"balance","type":"int","width":16}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateCollection(ctx, "people", sc); err != nil {
		t.Fatal(err)
	}
	recs := []records.Record{
		{Key: canaryKey, Values: []string{canaryIncome, canaryStatus, "-7"}},
		{Key: "b", Values: []string{"20000", "active", "3"}},
		{Key: "c", Values: []string{"40000", "suspended", "0"}},
	}
	if _, err := st.Commit(ctx, "people", recs, nil); err != nil {
		t.Fatal(err)
	}
	p, err := prover.New(st, keyDir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.FromDir(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	return st, p, v
}

func TestSubjectBundles(t *testing.T) {
	_, p, v := setup(t)
	ctx := context.Background()
	nonce, _ := prover.NewNonce()
	blind, _ := prover.NewNonce()
	for _, tc := range []struct {
		subject, q string
		want       bool
	}{
		{"b", `income <= 30000 AND status == "active"`, true},
		{"c", `income <= 30000 AND status == "active"`, false},
		{canaryKey, `balance < 0`, true},
	} {
		b, err := p.Prove(ctx, prover.Request{Collection: "people", Kind: bundle.KindSubject, Subject: tc.subject, Query: tc.q, Nonce: nonce, Blind: blind})
		if err != nil {
			t.Fatal(err)
		}
		if b.Result != tc.want {
			t.Fatalf("%s %q: result %v, want %v", tc.subject, tc.q, b.Result, tc.want)
		}
		data := marshal(t, b)
		verdict := v.VerifyBytes(data, verifier.Expect{Nonce: &nonce, Subject: tc.subject, Blind: &blind})
		if !verdict.Valid {
			t.Fatalf("valid bundle rejected: %v", verdict.Err())
		}
		// Another subject, another nonce: rejected.
		if v.VerifyBytes(data, verifier.Expect{Subject: "a-different-subject", Blind: &blind}).Failed != verifier.CheckSubject {
			t.Fatal("bundle accepted for another subject")
		}
		other, _ := prover.NewNonce()
		if v.VerifyBytes(data, verifier.Expect{Nonce: &other}).Failed != verifier.CheckNonce {
			t.Fatal("bundle accepted for another nonce")
		}
		for _, canary := range []string{canaryKey, canaryStatus, canaryIncome} {
			if strings.Contains(string(data), canary) {
				t.Fatalf("bundle leaks %q", canary)
			}
		}
	}
}

// TestTamperedBundle changes one field at a time; each must fail a check.
func TestTamperedBundle(t *testing.T) {
	_, p, v := setup(t)
	nonce, _ := prover.NewNonce()
	b, err := p.Prove(context.Background(), prover.Request{Collection: "people", Kind: bundle.KindSubject, Subject: "b", Query: `income <= 30000`, Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	good := marshal(t, b)
	zero := make([]byte, 32)
	zero[31] = 1
	cases := map[string]func(m *zkv1.Bundle){
		"result":         func(m *zkv1.Bundle) { m.Result = false },
		"query":          func(m *zkv1.Bundle) { m.Query = "income <= 30001" },
		"query hash":     func(m *zkv1.Bundle) { m.QueryHash = zero },
		"root":           func(m *zkv1.Bundle) { m.Root = zero },
		"nonce":          func(m *zkv1.Bundle) { m.Nonce = zero },
		"key commitment": func(m *zkv1.Bundle) { m.KeyCommitment = zero },
		"collection":     func(m *zkv1.Bundle) { m.Collection = "other" },
		"collection id":  func(m *zkv1.Bundle) { m.CollectionId = zero },
		"vk":             func(m *zkv1.Bundle) { m.VkSha256 = zero },
		"circuit":        func(m *zkv1.Bundle) { m.Circuit = zkv1.Circuit_CIRCUIT_EXISTS },
		"kind": func(m *zkv1.Bundle) {
			m.Kind, m.Circuit, m.KeyCommitment = bundle.KindExists, zkv1.Circuit_CIRCUIT_EXISTS, nil
		},
		"proof":      func(m *zkv1.Bundle) { m.Proof = []byte{0, 0, 0} },
		"proof bits": func(m *zkv1.Bundle) { m.Proof[40] ^= 1 },
		"schema": func(m *zkv1.Bundle) {
			m.Schema = []byte(`{"name":"people","key":"id","fields":[{"name":"income","type":"uint","width":33}]}`)
		},
		"version": func(m *zkv1.Bundle) { m.Version = 1 },
	}
	for name, tamper := range cases {
		m, err := bundle.Parse(good)
		if err != nil {
			t.Fatal(err)
		}
		tamper(m)
		if verdict := v.VerifyProto(m, verifier.Expect{}); verdict.Valid {
			t.Errorf("%s: tampered bundle verified", name)
		}
	}
	unknown := strings.Replace(string(good), "{", `{"extra": 1,`, 1)
	if v.VerifyBytes([]byte(unknown), verifier.Expect{}).Failed != verifier.CheckDecode {
		t.Error("a bundle with an unknown field decoded")
	}
	if verdict := v.VerifyBytes(good, verifier.Expect{}); !verdict.Valid {
		t.Fatal("untampered bundle rejected", verdict.Err())
	}
}

func TestExistsBundle(t *testing.T) {
	_, p, v := setup(t)
	nonce, _ := prover.NewNonce()
	b, err := p.Prove(context.Background(), prover.Request{Collection: "people", Kind: bundle.KindExists, Query: `status == "suspended" AND income > 30000`, Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	data := marshal(t, b)
	if verdict := v.VerifyBytes(data, verifier.Expect{Nonce: &nonce}); !verdict.Valid {
		t.Fatal(verdict.Err())
	}
	if strings.Contains(string(data), `"c"`) {
		t.Fatal("exists bundle names its witness")
	}
	_, err = p.Prove(context.Background(), prover.Request{Collection: "people", Kind: bundle.KindExists, Query: `income > 999999999`, Nonce: nonce})
	if !errors.Is(err, prover.ErrNoWitness) {
		t.Fatalf("impossible exists: %v", err)
	}
}

func TestStaleRootAfterUpdate(t *testing.T) {
	st, p, v := setup(t)
	nonce, _ := prover.NewNonce()
	b, err := p.Prove(context.Background(), prover.Request{Collection: "people", Kind: bundle.KindSubject, Subject: "b", Query: `income <= 30000`, Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(context.Background(), "people", []records.Record{{Key: "b", Values: []string{"50000", "active", "3"}}}, nil); err != nil {
		t.Fatal(err)
	}
	c, _ := st.Collection("people")
	if c.Root == hex.EncodeToString(b.Root) {
		t.Fatal("update did not change the root")
	}
	// The old bundle still verifies against its own (old) root; pinning the
	// current root is the ledger's job. Moving it to the new root fails.
	b.Root, _ = hex.DecodeString(c.Root)
	data := marshal(t, b)

	if v.VerifyBytes(data, verifier.Expect{}).Failed != verifier.CheckProof {
		t.Fatal("bundle re-pointed at the new root verified")
	}
}

func FuzzVerifyBytes(f *testing.F) {
	f.Add([]byte(`{"version":2,"kind":"STATEMENT_KIND_EXISTS","circuit":"CIRCUIT_EXISTS","result":true,"proof":"AAAA"}`))
	f.Add([]byte(`{`))
	v := verifier.New(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		if v.VerifyBytes(data, verifier.Expect{}).Valid {
			t.Fatal("random bytes verified")
		}
	})
}

// TestSubjectBlind: a subject bundle made with the verifier's blind names
// its subject to that verifier (key and blind), and to no one checking the
// key alone: without the blind, or with another, the subject check fails.
func TestSubjectBlind(t *testing.T) {
	_, p, v := setup(t)
	nonce, _ := prover.NewNonce()
	blind, _ := prover.NewNonce() // any random scalar
	b, err := p.Prove(context.Background(), prover.Request{Collection: "people", Kind: bundle.KindSubject, Subject: "b", Query: `income <= 30000`, Nonce: nonce, Blind: blind})
	if err != nil {
		t.Fatal(err)
	}
	data := marshal(t, b)
	if verdict := v.VerifyBytes(data, verifier.Expect{Nonce: &nonce, Subject: "b", Blind: &blind}); !verdict.Valid {
		t.Fatalf("blinded bundle rejected: %v", verdict.Err())
	}
	other, _ := prover.NewNonce()
	if verdict := v.VerifyBytes(data, verifier.Expect{Nonce: &nonce, Subject: "b"}); verdict.Failed != verifier.CheckExpect {
		t.Errorf("a pinned subject without its blind: failed %q, want %q", verdict.Failed, verifier.CheckExpect)
	}
	for name, exp := range map[string]verifier.Expect{
		"another blind": {Nonce: &nonce, Subject: "b", Blind: &other},
		"another key":   {Nonce: &nonce, Subject: "c", Blind: &blind},
	} {
		if verdict := v.VerifyBytes(data, exp); verdict.Failed != verifier.CheckSubject {
			t.Errorf("%s: failed %q, want %q", name, verdict.Failed, verifier.CheckSubject)
		}
	}
	// Without a subject to check, the proof still verifies: the blind is
	// private to the proof.
	if verdict := v.VerifyBytes(data, verifier.Expect{Nonce: &nonce}); !verdict.Valid {
		t.Fatalf("blinded bundle without a subject check: %v", verdict.Err())
	}
}

// marshal encodes the prover's bundle as a bundle file.
func marshal(t *testing.T, b *zkv1.Bundle) []byte {
	t.Helper()
	data, err := bundle.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func marshalAgg(t *testing.T, b *zkv1.Bundle) []byte {
	t.Helper()
	data, err := bundle.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fakeID is a stand-in 32-byte id for a kind's circuit or key.
func fakeID(prefix string, kind zkv1.StatementKind) []byte {
	h := sha256.Sum256([]byte(prefix + bundle.KindName(kind)))
	return h[:]
}
