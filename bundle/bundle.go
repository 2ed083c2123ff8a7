// Package bundle is the one proof bundle format, for every statement kind:
// the zkv1.Bundle message, protojson on disk, proto on the wire. It is the
// one place that encodes (Marshal) and decodes (Parse, FromWire) bundles. A
// bundle carries no record value, salt or raw key: a subject (or an absent
// key) appears only as a key commitment bound to the verifier's nonce and
// blind.
package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/zkshare/zkshare/circuits"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Version is the bundle format version: 2 is the one zkv1.Bundle for every
// kind. Version 1 (JSON subject/exists and aggregate bundles) is refused.
const Version = 2

// MaxSize bounds an encoded bundle, protojson or proto: 1 MiB, room for an
// aggregate's 256 chunk proofs (about 110 KB) and the anchor evidence. It is checked
// before anything is decoded.
const MaxSize = 1 << 20

// Limits on what a bundle may carry.
const (
	maxProof     = 4096 // one Groth16 proof
	maxEvidence  = 64   // collection and confirmation transactions
	maxInclusion = 64   // hashes in one inclusion proof
	maxText      = 4096 // collection name, query, field and the like
)

// Kinds of statement, as the StatementKind enum and in words.
const (
	KindSubject   = zkv1.StatementKind_STATEMENT_KIND_SUBJECT
	KindExists    = zkv1.StatementKind_STATEMENT_KIND_EXISTS
	KindAggregate = zkv1.StatementKind_STATEMENT_KIND_AGGREGATE
	KindAbsent    = zkv1.StatementKind_STATEMENT_KIND_ABSENT
)

// ErrOldFormat means the bundle is a version-1 JSON bundle. Prove again with this
// zkshare to get a version-2 bundle.
var ErrOldFormat = errors.New("bundle: an old (version 1) JSON bundle; this zkshare reads only version 2 bundles: prove again to get one")

// IsAggregate says whether b is, or claims to be, an aggregate bundle:
// one that costs up to 129 Groth16 verifications to check, so callers
// bound it before checking it.
func IsAggregate(b *zkv1.Bundle) bool {
	return b.GetAggregate() != nil || b.GetKind() == KindAggregate
}

// KindName is a statement kind in words: subject, exists, aggregate,
// absent.
func KindName(k zkv1.StatementKind) string {
	switch k {
	case KindAbsent:
		return "absent"
	case KindSubject:
		return "subject"
	case KindExists:
		return "exists"
	case KindAggregate:
		return "aggregate"
	}
	return fmt.Sprintf("kind(%d)", int32(k))
}

// KindCircuit is the circuit that proves a subject, exists or absent
// statement (CIRCUIT_UNSPECIFIED for other kinds: an aggregate takes
// several).
func KindCircuit(k zkv1.StatementKind) zkv1.Circuit {
	switch k {
	case KindAbsent:
		return zkv1.Circuit_CIRCUIT_ABSENT
	case KindSubject:
		return zkv1.Circuit_CIRCUIT_SUBJECT
	case KindExists:
		return zkv1.Circuit_CIRCUIT_EXISTS
	}
	return zkv1.Circuit_CIRCUIT_UNSPECIFIED
}

// Marshal encodes a bundle as indented protojson, the on-disk form. It
// checks the bundle first.
func Marshal(b *zkv1.Bundle) ([]byte, error) {
	if err := Check(b); err != nil {
		return nil, err
	}
	out, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	return append(out, '\n'), nil
}

// Parse decodes a protojson bundle strictly: at most MaxSize bytes (checked
// before decoding), no unknown fields, then Check. A version-1 JSON bundle
// fails with ErrOldFormat.
func Parse(data []byte) (*zkv1.Bundle, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("bundle: %d bytes, limit %d", len(data), MaxSize)
	}
	var b zkv1.Bundle
	if err := (protojson.UnmarshalOptions{}).Unmarshal(data, &b); err != nil {
		if old(data) {
			return nil, ErrOldFormat
		}
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if b.GetVersion() == 1 {
		return nil, ErrOldFormat
	}
	if err := Check(&b); err != nil {
		return nil, err
	}
	return &b, nil
}

// old says whether data looks like a version-1 JSON bundle.
func old(data []byte) bool {
	var v struct {
		Version json.Number `json:"version"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(&v) == nil && v.Version == "1"
}

// FromWire checks a bundle that arrived in a request: its encoded size,
// then Check.
func FromWire(b *zkv1.Bundle) (*zkv1.Bundle, error) {
	if b == nil {
		return nil, errors.New("bundle: missing")
	}
	if n := proto.Size(b); n > MaxSize {
		return nil, fmt.Errorf("bundle: %d bytes, limit %d", n, MaxSize)
	}
	if b.GetVersion() == 1 {
		return nil, ErrOldFormat
	}
	return b, Check(b)
}

// Check is the structural validation every bundle passes before any
// cryptography: version, kind and circuit agree, every hash and scalar is
// 32 bytes, sizes are bounded. An absent statement has no query, query
// hash or result. It never decodes a proof.
func Check(b *zkv1.Bundle) error {
	if b == nil {
		return errors.New("bundle: missing")
	}
	if b.GetVersion() != Version {
		return fmt.Errorf("bundle: version %d, want %d", b.GetVersion(), Version)
	}
	absent := b.GetKind() == KindAbsent
	for _, f := range []struct {
		name string
		v    []byte
		opt  bool
	}{
		{"collection_id", b.GetCollectionId(), false}, {"query_hash", b.GetQueryHash(), absent}, {"root", b.GetRoot(), false},
		{"nonce", b.GetNonce(), false}, {"circuit_id", b.GetCircuitId(), false}, {"vk_sha256", b.GetVkSha256(), false},
		{"key_commitment", b.GetKeyCommitment(), true}, {"genesis_hash", b.GetGenesisHash(), true},
	} {
		if len(f.v) == 0 && f.opt {
			continue
		}
		if len(f.v) != 32 {
			return fmt.Errorf("bundle: %s must be 32 bytes, got %d", f.name, len(f.v))
		}
	}
	for _, s := range []struct {
		name, v string
		opt     bool
	}{{"collection", b.GetCollection(), false}, {"query", b.GetQuery(), absent}} {
		if s.v == "" && s.opt {
			continue
		}
		if s.v == "" || len(s.v) > maxText {
			return fmt.Errorf("bundle: %s: want 1 to %d bytes", s.name, maxText)
		}
	}
	if len(b.GetProof()) == 0 || len(b.GetProof()) > maxProof {
		return fmt.Errorf("bundle: proof: want 1 to %d bytes", maxProof)
	}
	agg := b.GetAggregate()
	switch b.GetKind() {
	case KindSubject:
		if len(b.GetKeyCommitment()) == 0 || b.GetCircuit() != zkv1.Circuit_CIRCUIT_SUBJECT || agg != nil {
			return errors.New("bundle: a subject statement has a key_commitment, the subject circuit and no aggregate")
		}
	case KindExists:
		if len(b.GetKeyCommitment()) != 0 || !b.GetResult() || b.GetCircuit() != zkv1.Circuit_CIRCUIT_EXISTS || agg != nil {
			return errors.New("bundle: an exists statement has no key commitment, a true result, the exists circuit and no aggregate")
		}
	case KindAbsent:
		if len(b.GetKeyCommitment()) == 0 || b.GetQuery() != "" || len(b.GetQueryHash()) != 0 || b.GetResult() ||
			b.GetCircuit() != zkv1.Circuit_CIRCUIT_ABSENT || agg != nil {
			return errors.New("bundle: an absent statement has a key_commitment, the absent circuit, and no query, query hash, result or aggregate")
		}
	case KindAggregate:
		if len(b.GetKeyCommitment()) != 0 || agg == nil {
			return errors.New("bundle: an aggregate statement has an aggregate body and no key commitment")
		}
		if err := checkAggregate(b.GetCircuit(), agg); err != nil {
			return err
		}
	default:
		return fmt.Errorf("bundle: kind %d, want subject, exists, aggregate or absent", b.GetKind())
	}
	evidence := append([]*zkv1.LedgerEvidence{{Tx: b.GetAnchorTx(), Inclusion: b.GetAnchorInclusion()}, b.GetHolderKeyTx()}, b.GetCollectionTxs()...)
	evidence = append(evidence, b.GetConfirmations()...)
	if len(b.GetCollectionTxs()) > maxEvidence || len(b.GetConfirmations()) > maxEvidence {
		return fmt.Errorf("bundle: at most %d collection and %d confirmation transactions", maxEvidence, maxEvidence)
	}
	for _, e := range evidence {
		if len(e.GetInclusion()) > maxInclusion {
			return fmt.Errorf("bundle: an inclusion proof of %d hashes, at most %d", len(e.GetInclusion()), maxInclusion)
		}
	}
	return nil
}

func checkAggregate(c zkv1.Circuit, a *zkv1.AggregateBody) error {
	if a.GetField() == "" || len(a.GetField()) > maxText {
		return errors.New("bundle: aggregate: no field")
	}
	if len(a.GetChunkCircuitId()) != 32 || len(a.GetChunkVkSha256()) != 32 {
		return errors.New("bundle: aggregate: chunk_circuit_id and chunk_vk_sha256 must be 32 bytes")
	}
	if len(a.GetChunks()) == 0 || len(a.GetChunks()) > circuits.AggMaxChunks {
		return fmt.Errorf("bundle: aggregate: %d chunks, want 1 to %d", len(a.GetChunks()), circuits.AggMaxChunks)
	}
	for i, ch := range a.GetChunks() {
		if len(ch.GetPartial()) != 32 || len(ch.GetRoot()) != 32 || len(ch.GetProof()) == 0 || len(ch.GetProof()) > maxProof {
			return fmt.Errorf("bundle: aggregate: chunk %d: a 32-byte partial and root and a proof of at most %d bytes", i, maxProof)
		}
		if ch.GetDepth() > circuits.Depth {
			return fmt.Errorf("bundle: aggregate: chunk %d: depth %d, at most %d", i, ch.GetDepth(), circuits.Depth)
		}
	}
	switch ans := a.GetAnswer().(type) {
	case *zkv1.AggregateBody_Reveal:
		r := ans.Reveal
		if c != zkv1.Circuit_CIRCUIT_AGGREGATE_TOTAL {
			return errors.New("bundle: aggregate: revealed aggregates come from aggregate-total")
		}
		if r.GetSum() == "" || len(r.GetSum()) > 80 {
			return errors.New("bundle: aggregate: no sum")
		}
		if r.GetSmall() && (r.GetMinGroup() == 0 || r.GetCount() != 0 || r.GetSum() != "0" || r.GetMin() != 0 || r.GetMax() != 0) {
			return errors.New("bundle: aggregate: a small group has a min_group and zero aggregates")
		}
	case *zkv1.AggregateBody_Threshold:
		t := ans.Threshold
		if c != zkv1.Circuit_CIRCUIT_AGGREGATE_THRESHOLD {
			return errors.New("bundle: aggregate: a threshold answer comes from aggregate-threshold")
		}
		if t.GetWhich() == "" || t.GetRelation() == "" || t.GetThreshold() == "" || len(t.GetThreshold()) > maxText {
			return errors.New("bundle: aggregate: a threshold answer names the aggregate, relation and threshold")
		}
	default:
		return errors.New("bundle: aggregate: want a reveal or a threshold answer")
	}
	return nil
}

// Statement renders a bundle's claim in words.
func Statement(b *zkv1.Bundle) string {
	switch b.GetKind() {
	case KindSubject:
		verdict := "satisfies"
		if !b.GetResult() {
			verdict = "does not satisfy"
		}
		return fmt.Sprintf("the subject's record in %s %s: %s", b.GetCollection(), verdict, b.GetQuery())
	case KindExists:
		return fmt.Sprintf("some record in %s satisfies: %s", b.GetCollection(), b.GetQuery())
	case KindAbsent:
		// The key is named only by its commitment: whoever holds the key
		// and the blind recognises it.
		return fmt.Sprintf("the key committed as %.8x… has no live record in %s", b.GetKeyCommitment(), b.GetCollection())
	case KindAggregate:
		a := b.GetAggregate()
		if t := a.GetThreshold(); t != nil {
			verdict := "holds"
			if !t.GetHolds() {
				verdict = "does not hold"
			}
			what := t.GetWhich() + "(" + a.GetField() + ")"
			if t.GetWhich() == "count" {
				what = "count"
			}
			return fmt.Sprintf("over every record of %s where %s: %s %s %s %s", b.GetCollection(), b.GetQuery(), what, t.GetRelation(), t.GetThreshold(), verdict)
		}
		r := a.GetReveal()
		if r.GetSmall() {
			return fmt.Sprintf("over every record of %s where %s: fewer than %d records match (aggregates of %s withheld)", b.GetCollection(), b.GetQuery(), r.GetMinGroup(), a.GetField())
		}
		return fmt.Sprintf("over every record of %s where %s: count %d, sum %s, min %d, max %d of %s (encoded)", b.GetCollection(), b.GetQuery(), r.GetCount(), r.GetSum(), r.GetMin(), r.GetMax(), a.GetField())
	}
	return "an unknown statement"
}
