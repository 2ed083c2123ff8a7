package service

import (
	"context"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/verifier"
	"google.golang.org/protobuf/proto"
)

// Check names, as VerifyResponse.failed_check has them.
var (
	CheckAnchor    = verifier.CheckName(verifier.CheckAnchor)
	CheckFreshness = verifier.CheckName(verifier.CheckFreshness)
)

type verifierService struct{ s *Server }

// Verify checks a bundle of any kind with the verifier against this node's
// ledger. A bundle that fails a check is a valid answer (valid=false, the
// check and the reason), not an error.
// An aggregate bundle takes VerifyAggregate's bound here too.
func (v *verifierService) Verify(ctx context.Context, req *zkv1.VerifyRequest) (*zkv1.VerifyResponse, error) {
	if req.GetBundle().GetKind() == bundle.KindAggregate || req.GetBundle().GetAggregate() != nil {
		release, err := v.s.aggVerify.acquire(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	return v.verify(ctx, req.GetBundle(), req.GetExpect(), req.GetNonce(), req.GetSubject(), req.GetFreshnessSeconds())
}

func (v *verifierService) verify(ctx context.Context, b *zkv1.Bundle, pe *zkv1.Expectation, nonce []byte, subject string, seconds uint32) (*zkv1.VerifyResponse, error) {
	// The documented bundle size limit holds on the wire too.
	if n := proto.Size(b); n > bundle.MaxSize {
		return nil, invalid("bundle", "%d bytes, limit %d", n, bundle.MaxSize)
	}
	exp, err := expectation(pe, nonce, subject)
	if err != nil {
		return nil, err
	}
	freshness, err := v.s.freshness(seconds)
	if err != nil {
		return nil, err
	}
	verdict := v.s.verifier.Verify(ctx, verifier.Local{L: v.s.ledger}, b, exp, verifier.Options{Freshness: freshness})
	return verdict.Proto(), nil
}

// freshness is the window a verifier asked for (0: the node's default),
// refused beyond the node's maximum.
func (s *Server) freshness(seconds uint32) (time.Duration, error) {
	if seconds == 0 {
		return s.cfg.Freshness, nil
	}
	d := time.Duration(seconds) * time.Second
	if d > s.cfg.MaxFreshness {
		return 0, invalid("freshness_seconds", "at most %d (this node's maximum window)", int64(s.cfg.MaxFreshness/time.Second))
	}
	return d, nil
}

// expectation reads what the asker pinned. nonce and subject are the
// request's older top-level fields; they must agree with expect's.
func expectation(pe *zkv1.Expectation, nonce []byte, subject string) (verifier.Expect, error) {
	exp := verifier.Expect{Collection: pe.GetCollection(), Query: pe.GetQuery(), Subject: pe.GetSubject(), Field: pe.GetField()}
	if len(exp.Query) > maxQueryBytes || len(exp.Collection) > maxValueBytes || len(exp.Subject) > maxValueBytes || len(exp.Field) > maxValueBytes {
		return exp, invalid("expect", "a pinned value is too long")
	}
	switch pe.GetKind() {
	case zkv1.StatementKind_STATEMENT_KIND_UNSPECIFIED:
	case bundle.KindSubject, bundle.KindExists, bundle.KindAggregate:
		exp.Kind = pe.GetKind()
	default:
		return exp, invalid("expect.kind", "unknown statement kind %d", pe.GetKind())
	}
	switch pe.GetMode() {
	case zkv1.AggregateMode_AGGREGATE_MODE_UNSPECIFIED:
	case zkv1.AggregateMode_AGGREGATE_MODE_REVEAL:
		exp.Mode = verifier.ModeReveal
	case zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD:
		exp.Mode = verifier.ModeThreshold
	default:
		return exp, invalid("expect.mode", "unknown aggregate mode %d", pe.GetMode())
	}
	if t := pe.GetThreshold(); t != nil {
		if len(t.GetValue()) > maxValueBytes {
			return exp, invalid("expect.threshold.value", "too long")
		}
		exp.Threshold = &verifier.Threshold{Which: t.GetAggregate(), Relation: t.GetRelation(), Value: t.GetValue()}
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
	if len(exp.Subject) > maxValueBytes {
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
