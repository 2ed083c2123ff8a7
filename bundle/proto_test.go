package bundle

import (
	"bytes"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"google.golang.org/protobuf/proto"
)

func h(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func goodProto() *zkv1.Bundle {
	return &zkv1.Bundle{Version: Version, Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Collection: "c", CollectionId: h(1),
		Schema: []byte(`{}`), Query: "a < 1", QueryHash: h(2), Root: h(3), KeyCommitment: h(4), Result: true, Nonce: h(5),
		Circuit: KindSubject, CircuitId: h(6), VkSha256: h(7), Proof: []byte{1}}
}

func TestProtoRoundTrip(t *testing.T) {
	b, err := FromProto(goodProto())
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.ToProto()
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(p, goodProto()) {
		t.Fatalf("round trip changed the bundle:\n%v\n%v", p, goodProto())
	}
}

func TestFromProtoRejects(t *testing.T) {
	for name, mut := range map[string]func(*zkv1.Bundle){
		"short root":              func(b *zkv1.Bundle) { b.Root = h(3)[:31] },
		"long nonce":              func(b *zkv1.Bundle) { b.Nonce = append(h(5), 0) },
		"no query hash":           func(b *zkv1.Bundle) { b.QueryHash = nil },
		"no kind":                 func(b *zkv1.Bundle) { b.Kind = 0 },
		"other version":           func(b *zkv1.Bundle) { b.Version = 9 },
		"subject without key":     func(b *zkv1.Bundle) { b.KeyCommitment = nil },
		"exists with key":         func(b *zkv1.Bundle) { b.Kind, b.Circuit = zkv1.StatementKind_STATEMENT_KIND_EXISTS, KindExists },
		"circuit of another kind": func(b *zkv1.Bundle) { b.Circuit = KindExists },
		"oversized":               func(b *zkv1.Bundle) { b.Proof = make([]byte, MaxSize) },
		"exists with false result": func(b *zkv1.Bundle) {
			b.Kind, b.Circuit, b.KeyCommitment, b.Result = zkv1.StatementKind_STATEMENT_KIND_EXISTS, KindExists, nil, false
		},
	} {
		p := goodProto()
		mut(p)
		if _, err := FromProto(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := FromProto(nil); err == nil {
		t.Error("nil accepted")
	}
}

func FuzzFromProto(f *testing.F) {
	good, _ := proto.Marshal(goodProto())
	f.Add(good)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var p zkv1.Bundle
		if proto.Unmarshal(raw, &p) != nil {
			return
		}
		b, err := FromProto(&p)
		if err != nil {
			return
		}
		again, err := b.ToProto()
		if err != nil {
			t.Fatalf("a valid bundle does not convert back: %v", err)
		}
		if _, err := FromProto(again); err != nil {
			t.Fatalf("converted bundle invalid: %v", err)
		}
	})
}
