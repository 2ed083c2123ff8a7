package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/receipt"
	"github.com/zkshare/zkshare/records"
	"google.golang.org/protobuf/proto"
)

// Question is a consumer's subject, exists or absent question.
type Question struct {
	// Collection is short (this node's holder's) or HOLDER/NAME.
	Collection string
	// Kind is STATEMENT_KIND_SUBJECT, STATEMENT_KIND_EXISTS or
	// STATEMENT_KIND_ABSENT.
	Kind zkv1.StatementKind
	// Subject is the subject's key (subject statements), or the key asked
	// to have no live record (absent statements).
	Subject string
	// Query is the predicate's text form (none for absent statements).
	Query string
	// Nonce is the asker's 32-byte BN254 scalar, fresh for each question.
	Nonce []byte
	// Blind is the asker's secret 32-byte non-zero scalar that hides the
	// key (subject and absent statements only).
	Blind []byte
}

// Answer is a proven answer: its bundle, a readable statement and the
// opening of its audit entry, for the consumer who asked.
type Answer struct {
	Bundle    *zkv1.Bundle
	Statement string
	Audit     *zkv1.AuditReceipt
}

// Prove answers a consumer's question with a bundle anchored on the ledger,
// and records an audit entry of it. A question answered without a bundle
// (no such subject, no matching record, a key asked absent that has a
// record) is audited too, and fails with the prover's error; a present key
// fails with ErrFailedPrecondition, whose message names neither the key
// nor any value.
func (n *Node) Prove(ctx context.Context, c Caller, q Question) (*Answer, error) {
	coll := n.Qualify(q.Collection)
	kind := q.Kind
	switch q.Kind {
	case zkv1.StatementKind_STATEMENT_KIND_SUBJECT:
		if q.Subject == "" {
			return nil, invalid("subject", "a subject statement needs the subject's key")
		}
	case zkv1.StatementKind_STATEMENT_KIND_EXISTS:
		if q.Subject != "" {
			return nil, invalid("subject", "an exists statement names no subject")
		}
	case zkv1.StatementKind_STATEMENT_KIND_ABSENT:
		if q.Subject == "" {
			return nil, invalid("subject", "an absent statement needs the key asked about")
		}
		if q.Query != "" {
			return nil, invalid("query", "an absent statement has no query")
		}
	default:
		return nil, invalid("kind", "want STATEMENT_KIND_SUBJECT, STATEMENT_KIND_EXISTS or STATEMENT_KIND_ABSENT")
	}
	if kind != bundle.KindAbsent && (q.Query == "" || len(q.Query) > MaxQueryBytes) {
		return nil, invalid("query", "want the question's predicate, 1 to %d bytes", MaxQueryBytes)
	}
	if len(q.Subject) > MaxValueBytes {
		return nil, invalid("subject", "at most %d bytes", MaxValueBytes)
	}
	var nonce fr.Element
	if err := nonce.SetBytesCanonical(q.Nonce); err != nil || len(q.Nonce) != 32 {
		return nil, invalid("nonce", "want 32 bytes, a BN254 scalar (big-endian, below the modulus)")
	}
	var blind fr.Element
	switch {
	case kind == bundle.KindExists && len(q.Blind) != 0:
		return nil, invalid("blind", "an exists statement names no subject to blind")
	case kind != bundle.KindExists && (len(q.Blind) != 32 || blind.SetBytesCanonical(q.Blind) != nil || blind.IsZero()):
		// Without a secret blind, anyone holding the bundle could recover
		// a low-entropy key from the key commitment by trying keys.
		return nil, invalid("blind", "a %s statement needs 32 random bytes (a non-zero BN254 scalar) that the asker keeps", bundle.KindName(kind))
	}
	if _, ok := n.ledger.State().Collections[collectionKey(coll)]; !ok {
		return nil, errorf(ErrNotFound, "collection: %q is not registered", coll)
	}
	if _, err := n.policies.allow(coll, c.ID, question{kind: q.Kind, query: q.Query}); err != nil {
		return nil, err
	}
	if err := n.keysRegistered(keys.NameOf(bundle.KindCircuit(kind))); err != nil {
		return nil, err
	}
	release, err := n.acquireProveSlot()
	if err != nil {
		return nil, err
	}
	defer release()

	if err := n.syncReadings(ctx, coll); err != nil {
		return nil, err
	}
	// The newest anchored version: a running commit is not waited for.
	version, seq, err := n.provable(coll)
	if err != nil && !errors.Is(err, holder.ErrNotFound) {
		return nil, err
	}
	pb, err := n.prover.Prove(ctx, prover.Request{Collection: coll, Kind: kind, Subject: q.Subject, Query: q.Query, Nonce: nonce, Blind: blind, Version: version})
	if errors.Is(err, prover.ErrNoWitness) || errors.Is(err, holder.ErrNotFound) || errors.Is(err, holder.ErrPresent) {
		// "No such subject", "no matching record" and "the key is
		// present" are answers too.
		if aerr := n.auditUnproven(ctx, coll, c.ID, bundle.KindName(kind), q.Query, nonce); aerr != nil {
			return nil, fmt.Errorf("audit entry: %w", aerr)
		}
	}
	if errors.Is(err, holder.ErrPresent) {
		// Only the kind of failure: never the key, nor the record's values.
		return nil, errorf(ErrFailedPrecondition, "subject: the key asked about has a live record in %s: its absence cannot be proven", coll)
	}
	if err != nil {
		return nil, err
	}
	ar, err := n.serve(ctx, c, pb, seq)
	if err != nil {
		return nil, err
	}
	return &Answer{Bundle: pb, Statement: bundle.Statement(pb), Audit: ar}, nil
}

// serve makes a proven bundle an answer, for every statement kind: the
// anchor and offline evidence attached, then the audit entry of the
// question, which binds the bundle's hash. It returns the entry's opening.
func (n *Node) serve(ctx context.Context, c Caller, pb *zkv1.Bundle, seq uint64) (*zkv1.AuditReceipt, error) {
	if err := n.attachAnchor(pb, seq); err != nil {
		return nil, err
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(pb)
	if err != nil {
		return nil, fmt.Errorf("encode the bundle: %w", err)
	}
	bh := sha256.Sum256(raw)
	kind := bundle.KindName(pb.GetKind())
	ar, err := n.recordAudit(ctx, &zkv1.AuditReceipt{CollectionId: pb.GetCollectionId(), Consumer: c.ID, Statement: kind,
		QueryHash: pb.GetQueryHash(), Nonce: pb.GetNonce(), Result: pb.GetResult(), BundleHash: bh[:]})
	if err != nil {
		return nil, fmt.Errorf("audit entry: %w", err)
	}
	n.log.InfoContext(ctx, "answer served", "collection", pb.GetCollection(), "consumer", c.ID, "statement", kind,
		"chunks", len(pb.GetAggregate().GetChunks()), "bundle", hex.EncodeToString(bh[:8]))
	return ar, nil
}

// auditUnproven records a question that was answered without a bundle.
func (n *Node) auditUnproven(ctx context.Context, coll, consumer, kind, text string, nonce fr.Element) error {
	c, err := n.store.Collection(coll)
	if errors.Is(err, holder.ErrNotFound) {
		return nil // not held here: no question was answered
	}
	if err != nil {
		return err
	}
	var queryHash []byte // none for an absent question
	if text != "" {
		prep, err := query.Prepare(text, c.SchemaOf())
		if err != nil {
			return err
		}
		queryHash = elemBytes(prep.Hash)
	}
	id := records.CollectionID(coll)
	_, err = n.recordAudit(ctx, &zkv1.AuditReceipt{CollectionId: elemBytes(id), Consumer: consumer, Statement: kind,
		QueryHash: queryHash, Nonce: elemBytes(nonce), Result: false})
	if err == nil {
		n.log.InfoContext(ctx, "question answered without a bundle", "collection", coll, "consumer", consumer, "statement", kind)
	}
	return err
}

// attachAnchor adds the anchor seq of the bundle's root (0: the last one)
// and the evidence an offline verifier needs (bundle.Attach). Only an
// anchor that counts backs a bundle: one still awaiting its M-of-N
// confirmations is the holder's word alone.
func (n *Node) attachAnchor(pb *zkv1.Bundle, seq uint64) error {
	if err := bundle.Attach(n.ledger, pb, seq); errors.Is(err, bundle.ErrNotAnchored) {
		return errorf(ErrFailedPrecondition, "collection: %v; commit again, or await the confirmations", err)
	} else if err != nil {
		return fmt.Errorf("attach the anchor: %w", err)
	}
	return nil
}

// IssueReceipt gives the holder a subject's receipt to hand to that
// subject: the record, salt and path under the current anchored root. It
// is never for consumers, and nothing of it is logged.
func (n *Node) IssueReceipt(ctx context.Context, c Caller, collection, subject string) (*zkv1.Receipt, error) {
	coll := n.Qualify(collection)
	if subject == "" || len(subject) > MaxValueBytes {
		return nil, invalid("subject", "want the subject's key")
	}
	if err := n.ownsCollection(c, coll); err != nil {
		return nil, err
	}
	version, seq, err := n.provable(coll)
	if err != nil {
		return nil, err
	}
	st := n.store.At(version)
	col, err := st.Collection(coll)
	if err != nil {
		return nil, err
	}
	w, err := st.Record(ctx, coll, subject)
	if err != nil {
		return nil, err
	}
	r := receipt.New(coll, col.Schema, w)
	// The anchor fields make the receipt's proofs complete bundles.
	b := &zkv1.Bundle{CollectionId: r.GetCollectionId(), Root: r.GetRoot()}
	if err := n.attachAnchor(b, seq); err != nil {
		return nil, err
	}
	r.AnchorTx, r.AnchorLogIndex, r.AnchorInclusion, r.Checkpoint = b.AnchorTx, b.AnchorLogIndex, b.AnchorInclusion, b.Checkpoint
	n.log.InfoContext(ctx, "receipt issued", "collection", coll)
	return r, nil
}

// ProveBare runs the bare prover on a subject statement with a fresh
// nonce: no policy, queue, anchor or audit. It is a baseline for
// benchmarks of the full path, never a way to answer a consumer.
func (n *Node) ProveBare(ctx context.Context, collection, subject, q string) error {
	nonce, err := prover.NewNonce()
	if err != nil {
		return err
	}
	_, err = n.prover.Prove(ctx, prover.Request{Collection: n.Qualify(collection), Kind: bundle.KindSubject, Subject: subject, Query: q, Nonce: nonce})
	return err
}
