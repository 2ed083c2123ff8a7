package bundle_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"google.golang.org/protobuf/proto"
)

func h(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func subject() *zkv1.Bundle {
	return &zkv1.Bundle{Version: bundle.Version, Kind: bundle.KindSubject, Collection: "holder/c", CollectionId: h(1),
		Schema: []byte(`{}`), Query: "a < 1", QueryHash: h(2), Root: h(3), KeyCommitment: h(4), Result: true, Nonce: h(5),
		Circuit: zkv1.Circuit_CIRCUIT_SUBJECT, CircuitId: h(6), VkSha256: h(7), Proof: []byte{1}}
}

func absent() *zkv1.Bundle {
	b := subject()
	b.Kind, b.Circuit, b.Query, b.QueryHash, b.Result = bundle.KindAbsent, zkv1.Circuit_CIRCUIT_ABSENT, "", nil, false
	return b
}

func aggregate() *zkv1.Bundle {
	b := subject()
	b.Kind, b.KeyCommitment, b.Circuit = bundle.KindAggregate, nil, zkv1.Circuit_CIRCUIT_AGGREGATE_TOTAL
	b.Aggregate = &zkv1.AggregateBody{Field: "f", ChunkCircuitId: h(9), ChunkVkSha256: h(10), ChunkRows: 512, ChunkInners: 768,
		Chunks: []*zkv1.AggregateChunk{{Partial: h(11), Proof: []byte{2}, Depth: 1, Prefix: 1 << 63, Root: h(8)}},
		Answer: &zkv1.AggregateBody_Reveal{Reveal: &zkv1.AggregateReveal{Count: 3, Sum: "12", Min: 1, Max: 7}}}
	return b
}

func TestRoundTrip(t *testing.T) {
	for name, b := range map[string]*zkv1.Bundle{"subject": subject(), "aggregate": aggregate(), "absent": absent()} {
		data, err := bundle.Marshal(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := bundle.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !proto.Equal(b, back) {
			t.Fatalf("%s: round trip changed the bundle", name)
		}
	}
}

// TestOldFormat: version-1 JSON bundles (subject/exists and aggregate) are
// refused, saying they are the old format.
func TestOldFormat(t *testing.T) {
	for _, old := range []string{
		`{"version":1,"kind":"subject","collection":"c","collection_id":"00","schema":{},"query":"q","circuit":"subject","proof":"AA=="}`,
		`{"version":1,"kind":"aggregate","collection":"c","chunk_rows":1024,"chunks":[],"circuit":"aggregate-total"}`,
		`{"version":1}`,
	} {
		if _, err := bundle.Parse([]byte(old)); !errors.Is(err, bundle.ErrOldFormat) || !strings.Contains(err.Error(), "old") {
			t.Errorf("%s: %v", old, err)
		}
	}
}

func TestRejects(t *testing.T) {
	for name, mut := range map[string]func(*zkv1.Bundle){
		"short root":              func(b *zkv1.Bundle) { b.Root = h(3)[:31] },
		"long nonce":              func(b *zkv1.Bundle) { b.Nonce = append(h(5), 0) },
		"no query hash":           func(b *zkv1.Bundle) { b.QueryHash = nil },
		"no kind":                 func(b *zkv1.Bundle) { b.Kind = 0 },
		"other version":           func(b *zkv1.Bundle) { b.Version = 9 },
		"subject without key":     func(b *zkv1.Bundle) { b.KeyCommitment = nil },
		"exists with key":         func(b *zkv1.Bundle) { b.Kind, b.Circuit = bundle.KindExists, zkv1.Circuit_CIRCUIT_EXISTS },
		"circuit of another kind": func(b *zkv1.Bundle) { b.Circuit = zkv1.Circuit_CIRCUIT_EXISTS },
		"no proof":                func(b *zkv1.Bundle) { b.Proof = nil },
		"huge proof":              func(b *zkv1.Bundle) { b.Proof = make([]byte, 5000) },
		"subject with aggregate":  func(b *zkv1.Bundle) { b.Aggregate = aggregate().Aggregate },
		"exists with false result": func(b *zkv1.Bundle) {
			b.Kind, b.Circuit, b.KeyCommitment, b.Result = bundle.KindExists, zkv1.Circuit_CIRCUIT_EXISTS, nil, false
		},
		"many confirmations": func(b *zkv1.Bundle) {
			b.Confirmations = make([]*zkv1.LedgerEvidence, 65)
		},
	} {
		b := subject()
		mut(b)
		if _, err := bundle.FromWire(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, mut := range map[string]func(*zkv1.Bundle){
		"no answer":                     func(b *zkv1.Bundle) { b.Aggregate.Answer = nil },
		"no chunks":                     func(b *zkv1.Bundle) { b.Aggregate.Chunks = nil },
		"reveal with threshold circuit": func(b *zkv1.Bundle) { b.Circuit = zkv1.Circuit_CIRCUIT_AGGREGATE_THRESHOLD },
		"small with values":             func(b *zkv1.Bundle) { b.Aggregate.GetReveal().Small, b.Aggregate.GetReveal().MinGroup = true, 4 },
		"short chunk root":              func(b *zkv1.Bundle) { b.Aggregate.Chunks[0].Root = h(8)[:3] },
		"chunk deeper than the tree":    func(b *zkv1.Bundle) { b.Aggregate.Chunks[0].Depth = 65 },
	} {
		b := aggregate()
		mut(b)
		if _, err := bundle.FromWire(b); err == nil {
			t.Errorf("aggregate %s: accepted", name)
		}
	}
	for name, mut := range map[string]func(*zkv1.Bundle){
		"no key commitment":  func(b *zkv1.Bundle) { b.KeyCommitment = nil },
		"short key":          func(b *zkv1.Bundle) { b.KeyCommitment = h(4)[:31] },
		"a query":            func(b *zkv1.Bundle) { b.Query = "a < 1" },
		"a query hash":       func(b *zkv1.Bundle) { b.QueryHash = h(2) },
		"a result":           func(b *zkv1.Bundle) { b.Result = true },
		"subject circuit":    func(b *zkv1.Bundle) { b.Circuit = zkv1.Circuit_CIRCUIT_SUBJECT },
		"with aggregate":     func(b *zkv1.Bundle) { b.Aggregate = aggregate().Aggregate },
		"kind subject":       func(b *zkv1.Bundle) { b.Kind = bundle.KindSubject },
		"no collection":      func(b *zkv1.Bundle) { b.Collection = "" },
		"kind exists":        func(b *zkv1.Bundle) { b.Kind = bundle.KindExists },
		"subject relabelled": func(b *zkv1.Bundle) { b.Kind, b.Query, b.QueryHash = bundle.KindSubject, "a < 1", h(2) },
	} {
		b := absent()
		mut(b)
		if _, err := bundle.FromWire(b); err == nil {
			t.Errorf("absent %s: accepted", name)
		}
	}
	// A subject bundle relabelled absent is refused too.
	b := subject()
	b.Kind = bundle.KindAbsent
	if _, err := bundle.FromWire(b); err == nil {
		t.Error("a subject bundle relabelled absent: accepted")
	}
	if _, err := bundle.FromWire(nil); err == nil {
		t.Error("nil accepted")
	}
	// The size limit is checked before decoding.
	if _, err := bundle.Parse(make([]byte, bundle.MaxSize+1)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized: %v", err)
	}
}

// FuzzParse: Parse never panics; what it accepts re-encodes to bytes that
// parse to the same bundle and encode to the same bytes again.
func FuzzParse(f *testing.F) {
	for _, b := range []*zkv1.Bundle{subject(), aggregate(), absent()} {
		data, _ := bundle.Marshal(b)
		f.Add(data)
	}
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := bundle.Parse(data)
		if err != nil {
			return
		}
		again, err := bundle.Marshal(b)
		if err != nil {
			t.Fatalf("a parsed bundle does not encode: %v", err)
		}
		b2, err := bundle.Parse(again)
		if err != nil || !proto.Equal(b, b2) {
			t.Fatalf("re-encoded bundle differs: %v", err)
		}
		third, _ := bundle.Marshal(b2)
		if !bytes.Equal(again, third) {
			t.Fatal("encoding is not stable")
		}
	})
}

// TestAbsentStatement: the statement of an absent bundle names the
// collection and the key only by its commitment.
func TestAbsentStatement(t *testing.T) {
	b := absent()
	b.KeyCommitment = append([]byte{0xab, 0xcd, 0xef, 0x01}, h(4)[4:]...)
	got := bundle.Statement(b)
	for _, want := range []string{"abcdef01", "no live record", "holder/c"} {
		if !strings.Contains(got, want) {
			t.Errorf("statement %q lacks %q", got, want)
		}
	}
	if bundle.KindName(bundle.KindAbsent) != "absent" || bundle.KindCircuit(bundle.KindAbsent) != zkv1.Circuit_CIRCUIT_ABSENT {
		t.Error("absent's name or circuit")
	}
}
