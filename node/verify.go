package node

import (
	"context"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
	"google.golang.org/protobuf/proto"
)

// Request limits: a schema's JSON, a query's text and any single value (a
// record's field, a subject, a pinned name, a threshold).
const (
	MaxSchemaBytes = 16 << 10
	MaxQueryBytes  = 2 << 10
	MaxValueBytes  = 1 << 10
)

// checkValues refuses records with a value too long for any field.
func checkValues(recs []records.Record) error {
	for i, r := range recs {
		for _, v := range r.Values {
			if len(v) > MaxValueBytes {
				return invalid("records", "record #%d: a value is longer than %d bytes", i+1, MaxValueBytes)
			}
		}
	}
	return nil
}

// VerifyRequest is a verifier's question about a bundle.
type VerifyRequest struct {
	Bundle *zkv1.Bundle
	// Expect is what the asker pinned.
	Expect *zkv1.Expectation
	// Nonce and Subject are older top-level forms of Expect's; they must
	// agree with it.
	Nonce   []byte
	Subject string
	// FreshnessSeconds is the window asked for (0: the node's default).
	FreshnessSeconds uint32
}

// Verify checks a bundle of any kind with the verifier against this node's
// ledger. A bundle that fails a check is a verdict (Valid false, the check
// and the reason), not an error; a malformed request is ErrInvalidArgument.
func (n *Node) Verify(ctx context.Context, r VerifyRequest) (*verifier.Verdict, error) {
	// The documented bundle size limit holds on the wire too.
	if size := proto.Size(r.Bundle); size > bundle.MaxSize {
		return nil, invalid("bundle", "%d bytes, limit %d", size, bundle.MaxSize)
	}
	exp, err := expectation(r.Expect, r.Nonce, r.Subject)
	if err != nil {
		return nil, err
	}
	freshness, err := n.freshness(r.FreshnessSeconds)
	if err != nil {
		return nil, err
	}
	return n.verifier.Verify(ctx, verifier.Local{L: n.ledger}, r.Bundle, exp, verifier.Options{Freshness: freshness}), nil
}

// freshness is the window a verifier asked for (0: the node's default),
// refused beyond the node's maximum.
func (n *Node) freshness(seconds uint32) (time.Duration, error) {
	if seconds == 0 {
		return n.cfg.Freshness, nil
	}
	d := time.Duration(seconds) * time.Second
	if d > n.cfg.MaxFreshness {
		return 0, invalid("freshness_seconds", "at most %d (this node's maximum window)", int64(n.cfg.MaxFreshness/time.Second))
	}
	return d, nil
}

// expectation reads what the asker pinned. nonce and subject are the
// request's older top-level fields; they must agree with expect's.
func expectation(pe *zkv1.Expectation, nonce []byte, subject string) (verifier.Expect, error) {
	exp := verifier.Expect{Collection: pe.GetCollection(), Query: pe.GetQuery(), Subject: pe.GetSubject(), Field: pe.GetField()}
	if len(exp.Query) > MaxQueryBytes || len(exp.Collection) > MaxValueBytes || len(exp.Subject) > MaxValueBytes || len(exp.Field) > MaxValueBytes {
		return exp, invalid("expect", "a pinned value is too long")
	}
	switch pe.GetKind() {
	case zkv1.StatementKind_STATEMENT_KIND_UNSPECIFIED:
	case bundle.KindSubject, bundle.KindExists, bundle.KindAggregate, bundle.KindAbsent:
		exp.Kind = pe.GetKind()
	default:
		return exp, invalid("expect.kind", "unknown statement kind %d", pe.GetKind())
	}
	switch pe.GetMode() {
	case zkv1.AggregateMode_AGGREGATE_MODE_UNSPECIFIED, verifier.ModeReveal, verifier.ModeThreshold:
		exp.Mode = pe.GetMode()
	default:
		return exp, invalid("expect.mode", "unknown aggregate mode %d", pe.GetMode())
	}
	if t := pe.GetThreshold(); t != nil {
		if len(t.GetValue()) > MaxValueBytes {
			return exp, invalid("expect.threshold.value", "too long")
		}
		th, err := threshold("expect.threshold", t)
		if err != nil {
			return exp, err
		}
		exp.Threshold = th
	}
	var err error
	if exp.QueryHash, err = scalar("expect.query_hash", pe.GetQueryHash()); err != nil {
		return exp, err
	}
	if exp.Blind, err = scalar("expect.blind", pe.GetBlind()); err != nil {
		return exp, err
	}
	if exp.Nonce, err = scalar("expect.nonce", pe.GetNonce()); err != nil {
		return exp, err
	}
	n, err := scalar("nonce", nonce)
	if err != nil {
		return exp, err
	}
	if n != nil && exp.Nonce != nil && !n.Equal(exp.Nonce) {
		return exp, invalid("nonce", "differs from expect.nonce")
	}
	if exp.Nonce == nil {
		exp.Nonce = n
	}
	if subject != "" && exp.Subject != "" && subject != exp.Subject {
		return exp, invalid("subject", "differs from expect.subject")
	}
	if exp.Subject == "" {
		exp.Subject = subject
	}
	if len(exp.Subject) > MaxValueBytes {
		return exp, invalid("subject", "too long")
	}
	return exp, nil
}

// scalar reads an optional 32-byte BN254 scalar.
func scalar(field string, b []byte) (*fr.Element, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var e fr.Element
	if len(b) != 32 || e.SetBytesCanonical(b) != nil {
		return nil, invalid(field, "want 32 bytes, a BN254 scalar (big-endian, below the modulus)")
	}
	return &e, nil
}
