package service

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
)

// Ledger checks, run before the statement and proof checks.
const (
	CheckRegistry  = "key registry"
	CheckAnchor    = "anchor"
	CheckFreshness = "freshness"
	CheckSchema    = "schema"
)

type verifierService struct{ s *Server }

// Verify checks a bundle against this node's ledger, then its statement and
// proof. A bundle that fails a check is a valid answer (valid=false, the
// check and the reason), not an error.
func (v *verifierService) Verify(ctx context.Context, req *zkv1.VerifyRequest) (*zkv1.VerifyResponse, error) {
	s := v.s
	resp := &zkv1.VerifyResponse{}
	fail := func(check, format string, args ...any) (*zkv1.VerifyResponse, error) {
		resp.FailedCheck, resp.Reason = check, fmt.Sprintf(format, args...)
		return resp, nil
	}
	pb := req.GetBundle()
	b, err := bundle.FromProto(pb)
	if err != nil {
		return fail(verifier.CheckDecode, "%v", err)
	}
	resp.Statement = b.Statement()
	exp, err := expectation(req.GetExpect(), req.GetNonce(), req.GetSubject())
	if err != nil {
		return nil, err
	}
	freshness, err := s.freshness(req.GetFreshnessSeconds())
	if err != nil {
		return nil, err
	}
	st := s.ledger.State()

	// The verifying key is pinned by the ledger's circuit registry.
	circ, ok := st.Circuits[hex.EncodeToString(pb.GetCircuitId())]
	if !ok || !bytes.Equal(circ.VKSHA256, pb.GetVkSha256()) || circ.Name != pb.GetCircuit() {
		return fail(CheckRegistry, "circuit %x with verifying key %x is not registered on the ledger", pb.GetCircuitId(), pb.GetVkSha256())
	}
	resp.Warnings = setupWarnings(circ)
	resp.Checks = append(resp.Checks, CheckRegistry)

	// The root is anchored on this ledger by the collection's holder.
	coll, ok := st.Collections[hex.EncodeToString(pb.GetCollectionId())]
	if !ok {
		return fail(CheckAnchor, "collection %x is not registered on the ledger", pb.GetCollectionId())
	}
	anchor, err := s.checkAnchor(pb, &coll)
	if err != nil {
		return fail(CheckAnchor, "%v", err)
	}
	resp.AnchorHeight = anchor.Height
	if t, err := s.ledger.BlockTime(anchor.Height); err == nil {
		resp.AnchorTimeUnixMs = t
	}
	resp.Checks = append(resp.Checks, CheckAnchor)

	// The root is the latest, or was replaced within the freshness window.
	a := anchor.Tx.Body.GetAnchor()
	if err := s.checkFresh(&coll, a, freshness); err != nil {
		return fail(CheckFreshness, "%v", err)
	}
	resp.Checks = append(resp.Checks, CheckFreshness)

	// The schema is the one registered for the collection.
	if err := checkSchema(b.Schema, &coll); err != nil {
		return fail(CheckSchema, "%v", err)
	}
	resp.Checks = append(resp.Checks, CheckSchema)

	verdict := s.verifier.Verify(b, exp)
	resp.Checks = append(resp.Checks, verdict.Checked...)
	if !verdict.Valid {
		return fail(verdict.Failed, "%s", verdict.Reason)
	}
	resp.Valid = true
	return resp, nil
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

// checkFresh: the anchor is the collection's latest that counts, or was
// replaced within the freshness window. Only an anchor that counts (one
// confirmed by M of N where the collection requires it) replaces another:
// an unconfirmed successor neither replaces a root nor starts its clock.
func (s *Server) checkFresh(coll *ledger.Collection, a *zkv1.Anchor, freshness time.Duration) error {
	if coll.Latest != nil && coll.Latest.Sequence == a.GetSequence() {
		return nil
	}
	if !coll.Counts(a.GetSequence()) {
		return errors.New("the root's anchor does not count yet")
	}
	for seq := a.GetSequence() + 1; seq <= coll.Latest.Sequence; seq++ {
		if !coll.Counts(seq) {
			continue
		}
		next, err := s.ledger.AnchorBySequence(a.GetCollectionId(), seq)
		if err != nil {
			return fmt.Errorf("the root's anchor is not the collection's latest, and its successor %d is not found", seq)
		}
		// The successor's own time: it counted from then or later, so the
		// window never runs longer than asked.
		replaced := time.UnixMilli(next.Tx.Body.GetTimeUnixMs())
		if t, err := s.ledger.BlockTime(next.Height); err == nil {
			replaced = time.UnixMilli(t)
		}
		if age := time.Since(replaced); age > freshness {
			return fmt.Errorf("the root was replaced %s ago (anchor %d); the window is %s", age.Round(time.Second), seq, freshness)
		}
		return nil
	}
	return errors.New("the root's anchor is not the collection's latest, and no successor counts")
}

// setupWarnings says what a verdict on this circuit's keys does not rule out.
func setupWarnings(c ledger.Circuit) []string {
	if c.Setup == zkv1.SetupKind_SETUP_KIND_CEREMONY {
		return nil
	}
	return []string{fmt.Sprintf("the %s keys come from a single-party development setup: whoever ran it can forge proofs; production keys come from a ceremony", c.Name)}
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
	case zkv1.StatementKind_STATEMENT_KIND_SUBJECT:
		exp.Kind = bundle.KindSubject
	case zkv1.StatementKind_STATEMENT_KIND_EXISTS:
		exp.Kind = bundle.KindExists
	case zkv1.StatementKind_STATEMENT_KIND_AGGREGATE:
		exp.Kind = bundle.KindAggregate
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

// checkSchema: the bundle's schema is the one registered for the collection.
func checkSchema(raw []byte, coll *ledger.Collection) error {
	sc, err := records.ParseSchema(raw)
	if err != nil {
		return err
	}
	if !bytes.Equal(elemBytes(sc.ID()), coll.SchemaHash) {
		return errors.New("the bundle's schema is not the one registered for the collection")
	}
	return nil
}

// checkAnchor checks the bundle's anchor transaction: an anchor of this
// collection and root, sent by its holder, in this ledger at the stated
// index, included under the bundle's checkpoint signed by this ledger, and
// confirmed where the collection requires confirmations.
func (s *Server) checkAnchor(pb *zkv1.Bundle, coll *ledger.Collection) (*ledger.Entry, error) {
	tx, err := ledger.DecodeTx(pb.GetAnchorTx())
	if err != nil {
		return nil, fmt.Errorf("anchor transaction: %w", err)
	}
	a := tx.Body.GetAnchor()
	if a == nil || !bytes.Equal(a.GetCollectionId(), pb.GetCollectionId()) || !bytes.Equal(a.GetRoot(), pb.GetRoot()) {
		return nil, fmt.Errorf("the anchor transaction does not anchor this collection's root")
	}
	if tx.Body.GetSender() != coll.Holder {
		return nil, fmt.Errorf("anchored by %q, not by the collection's holder %q", tx.Body.GetSender(), coll.Holder)
	}
	// Any validator of this ledger may have signed the checkpoint: under a
	// consortium, a bundle made on one organisation's node verifies on all.
	var inclErr error = errors.New("no active validator")
	for _, p := range s.ledger.Participants() {
		if p.Role != zkv1.Role_ROLE_VALIDATOR || p.Revoked {
			continue
		}
		v, err := ledger.NoteVerifier(s.ledger.Origin(), p.Key)
		if err != nil {
			continue
		}
		if _, inclErr = ledger.VerifyInclusion(pb.GetCheckpoint(), s.ledger.Origin(), v, pb.GetAnchorTx(), pb.GetAnchorLogIndex(), pb.GetAnchorInclusion()); inclErr == nil {
			break
		}
	}
	if inclErr != nil {
		return nil, inclErr
	}
	e, err := s.ledger.Transaction(tx.Hash[:])
	if err != nil || e.LogIndex != pb.GetAnchorLogIndex() {
		return nil, fmt.Errorf("the anchor transaction is not on this ledger")
	}
	// Only an anchor that counts: one awaiting (or that never got) its
	// confirmations is the holder's word alone.
	if !coll.Counts(a.GetSequence()) {
		return nil, fmt.Errorf("anchor %d does not count: it awaits (or never got) its confirmations", a.GetSequence())
	}
	return e, nil
}
