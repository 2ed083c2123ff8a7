package bundle

import (
	"encoding/hex"
	"errors"
	"fmt"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"google.golang.org/protobuf/proto"
)

// The proto form (zkv1.Bundle) is what the service sends and what bundle
// files hold (as protojson). It adds the anchor, its inclusion proof and
// a signed checkpoint to the statement and proof.

var kinds = map[string]zkv1.StatementKind{KindSubject: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, KindExists: zkv1.StatementKind_STATEMENT_KIND_EXISTS}

// ToProto converts a bundle to its proto form, without the anchor fields.
func (b *Bundle) ToProto() (*zkv1.Bundle, error) {
	p := &zkv1.Bundle{Version: uint32(b.Version), Kind: kinds[b.Kind], Collection: b.Collection, Schema: b.Schema,
		Query: b.Query, Result: b.Result, Circuit: b.Circuit, Proof: b.Proof}
	for _, f := range []struct {
		name string
		hex  string
		dst  *[]byte
	}{
		{"collection_id", b.CollectionID, &p.CollectionId}, {"query_hash", b.QueryHash, &p.QueryHash},
		{"root", b.Root, &p.Root}, {"key_commitment", b.KeyCommitment, &p.KeyCommitment},
		{"nonce", b.Nonce, &p.Nonce}, {"circuit_id", b.CircuitID, &p.CircuitId}, {"vk_sha256", b.VKSHA256, &p.VkSha256},
	} {
		v, err := hex.DecodeString(f.hex)
		if err != nil {
			return nil, fmt.Errorf("bundle: %s: %w", f.name, err)
		}
		if len(v) > 0 {
			*f.dst = v
		}
	}
	return p, nil
}

// FromProto converts and validates a bundle's proto form. Field lengths are
// checked here so that nothing downstream sees an oversized value.
func FromProto(p *zkv1.Bundle) (*Bundle, error) {
	if p == nil {
		return nil, errors.New("bundle: missing")
	}
	if n := proto.Size(p); n > MaxSize {
		return nil, fmt.Errorf("bundle: %d bytes, limit %d", n, MaxSize)
	}
	b := &Bundle{Version: int(p.GetVersion()), Collection: p.GetCollection(), Schema: p.GetSchema(), Query: p.GetQuery(),
		Result: p.GetResult(), Circuit: p.GetCircuit(), Proof: p.GetProof()}
	for k, v := range kinds {
		if v == p.GetKind() {
			b.Kind = k
		}
	}
	for _, f := range []struct {
		name     string
		src      []byte
		dst      *string
		optional bool
	}{
		{"collection_id", p.GetCollectionId(), &b.CollectionID, false}, {"query_hash", p.GetQueryHash(), &b.QueryHash, false},
		{"root", p.GetRoot(), &b.Root, false}, {"key_commitment", p.GetKeyCommitment(), &b.KeyCommitment, true},
		{"nonce", p.GetNonce(), &b.Nonce, false}, {"circuit_id", p.GetCircuitId(), &b.CircuitID, false}, {"vk_sha256", p.GetVkSha256(), &b.VKSHA256, false},
	} {
		if len(f.src) == 0 && f.optional {
			continue
		}
		if len(f.src) != 32 {
			return nil, fmt.Errorf("bundle: %s must be 32 bytes, got %d", f.name, len(f.src))
		}
		*f.dst = hex.EncodeToString(f.src)
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	return b, nil
}
