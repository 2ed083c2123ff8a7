// Package prover turns a holder's records and a consumer's query into
// Groth16 proofs and bundles, with bounded concurrency so load cannot
// exhaust memory.
package prover

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/circuits"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
)

// Prover proves statements about one holder store's collections.
type Prover struct {
	store *holder.Store
	keys  map[zkv1.Circuit]*keys.Proving
	slots chan struct{}
	log   *slog.Logger
}

// Option configures a Prover.
type Option func(*Prover)

// WithConcurrency bounds how many proofs run at once (default: cores).
func WithConcurrency(n int) Option {
	return func(p *Prover) { p.slots = make(chan struct{}, max(1, n)) }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(p *Prover) { p.log = l } }

// New loads the proving keys in keyDir for every circuit.
func New(store *holder.Store, keyDir string, opts ...Option) (*Prover, error) {
	p := &Prover{store: store, keys: map[zkv1.Circuit]*keys.Proving{}, log: slog.New(slog.DiscardHandler)}
	p.slots = make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, o := range opts {
		o(p)
	}
	if err := keys.CheckCurrent(keyDir); err != nil {
		return nil, err
	}
	present, err := keys.Present(keyDir)
	if err != nil {
		return nil, err
	}
	for _, name := range present {
		k, err := keys.LoadProving(keyDir, name)
		if err != nil {
			return nil, err
		}
		p.keys[k.Circuit] = k
	}
	return p, nil
}

// Constraints returns a circuit's constraint count.
func (p *Prover) Constraints(c zkv1.Circuit) int { return p.keys[c].CS.GetNbConstraints() }

// NewNonce draws a fresh verifier nonce.
func NewNonce() (fr.Element, error) {
	var b [31]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fr.Element{}, err
	}
	var e fr.Element
	e.SetBytes(b[:])
	return e, nil
}

// Request is a consumer's question.
type Request struct {
	Collection string
	Kind       zkv1.StatementKind // bundle.KindSubject, KindExists or KindAbsent
	Subject    string             // the subject's key (subject), or the key asked to be absent (absent)
	Query      string             // the predicate (none for absent)
	Nonce      fr.Element
	// Blind is the asking verifier's random key blind for subject and
	// absent statements (circuits.KeyCommitment): it keeps a low-entropy key from
	// being recovered from the bundle by trying every key.
	Blind fr.Element
	// Version is the store version to prove against (0: the latest), so a
	// proof reads an anchored tree while a commit writes the next one.
	Version holder.Version
}

// ErrNoWitness means an exists statement with no satisfying record cannot be
// proven. The answer is "not shown", never a false proof.
var ErrNoWitness = errors.New("no record satisfies the query")

// Prove answers a request with a checked bundle, without anchor evidence
// (see bundle.Attach).
func (p *Prover) Prove(ctx context.Context, req Request) (*zkv1.Bundle, error) {
	if req.Kind == bundle.KindAbsent {
		if req.Query != "" {
			return nil, errors.New("an absent statement has no query")
		}
		return p.proveAbsent(ctx, p.store.At(req.Version), req.Collection, req.Subject, req.Nonce, req.Blind)
	}
	st := p.store.At(req.Version)
	c, err := st.Collection(req.Collection)
	if err != nil {
		return nil, err
	}
	schema := c.SchemaOf()
	prep, err := query.Prepare(req.Query, schema)
	if err != nil {
		return nil, err
	}
	collID := records.CollectionID(req.Collection)
	var assignment frontend.Circuit
	b := header(req.Kind, req.Collection, collID, c.Schema, prep, req.Nonce)
	switch req.Kind {
	case bundle.KindSubject:
		w, err := st.Record(ctx, req.Collection, req.Subject)
		if err != nil {
			return nil, err
		}
		if assignment, err = subject(b, collID, req.Nonce, req.Blind, prep, w); err != nil {
			return nil, err
		}
	case bundle.KindExists:
		w, err := st.Find(ctx, req.Collection, prep.Encoded)
		if errors.Is(err, holder.ErrNotFound) {
			return nil, ErrNoWitness
		}
		if err != nil {
			return nil, err
		}
		a, err := circuits.ExistsAssignment(collID, w.Root, req.Nonce, prep.Encoded, &w.Record)
		if err != nil {
			return nil, fmt.Errorf("exists witness: %w", err)
		}
		assignment = a
		b.Circuit, b.Root, b.Result = bundle.KindCircuit(bundle.KindExists), elem(w.Root), true
	default:
		return nil, fmt.Errorf("statement kind %s: want subject, exists or absent", bundle.KindName(req.Kind))
	}
	return p.finish(ctx, b, assignment)
}

// elem is a field element as the bundle carries it: 32 bytes, big-endian.
func elem(e fr.Element) []byte { b := e.Bytes(); return b[:] }

// header starts a bundle: the statement's header, without circuit or proof.
func header(kind zkv1.StatementKind, collection string, collID fr.Element, schema []byte, prep *query.Prepared, nonce fr.Element) *zkv1.Bundle {
	return &zkv1.Bundle{Version: bundle.Version, Kind: kind, Collection: collection, CollectionId: elem(collID),
		Schema: schema, Query: prep.Text, QueryHash: elem(prep.Hash), Nonce: elem(nonce)}
}

// finish proves the assignment with the circuit the bundle names and
// completes and checks the bundle.
func (p *Prover) finish(ctx context.Context, b *zkv1.Bundle, assignment frontend.Circuit) (*zkv1.Bundle, error) {
	k := p.keys[b.Circuit]
	if k == nil {
		return nil, fmt.Errorf("no proving key for circuit %s: run `zkshare keys setup` on the key directory", keys.NameOf(b.Circuit))
	}
	b.CircuitId, b.VkSha256 = k.CircuitID, k.VKSHA256
	proof, err := p.proveBytes(ctx, k, assignment)
	if err != nil {
		return nil, err
	}
	b.Proof = proof
	return b, bundle.Check(b)
}

func subject(b *zkv1.Bundle, collID, nonce, blind fr.Element, prep *query.Prepared, w *holder.Witness) (frontend.Circuit, error) {
	a, result, err := circuits.SubjectAssignment(collID, w.Root, nonce, blind, prep.Encoded, &w.Record)
	if err != nil {
		return nil, fmt.Errorf("subject witness: %w", err)
	}
	kc, ok := a.KeyCommitment.(fr.Element)
	if !ok {
		return nil, fmt.Errorf("subject witness: key commitment is a %T, not a field element", a.KeyCommitment)
	}
	b.Circuit, b.Root, b.Result = bundle.KindCircuit(bundle.KindSubject), elem(w.Root), result
	b.KeyCommitment = elem(kc)
	return a, nil
}

// ProveAbsent proves that key has no live record in collection under the
// collection's current root: the key's walk down the tree ends on an empty
// slot or on another key's leaf. nonce and blind are the asking verifier's;
// the bundle names the key only by its commitment to them (as a subject's).
// A key with a live record fails with an error wrapping holder.ErrPresent
// (which never quotes the key), an unknown collection with
// holder.ErrNotFound.
func (p *Prover) ProveAbsent(ctx context.Context, collection, key string, nonce, blind fr.Element) (*zkv1.Bundle, error) {
	return p.proveAbsent(ctx, p.store, collection, key, nonce, blind)
}

func (p *Prover) proveAbsent(ctx context.Context, st *holder.Store, collection, key string, nonce, blind fr.Element) (*zkv1.Bundle, error) {
	c, err := st.Collection(collection)
	if err != nil {
		return nil, err
	}
	w, err := st.Absence(ctx, collection, key)
	if err != nil {
		return nil, err
	}
	collID := records.CollectionID(collection)
	a, err := circuits.AbsentAssignment(collID, w.Root, nonce, blind, &w.Absence)
	if err != nil {
		return nil, fmt.Errorf("absent witness: %w", err)
	}
	kc, ok := a.KeyCommitment.(fr.Element)
	if !ok {
		return nil, fmt.Errorf("absent witness: key commitment is a %T, not a field element", a.KeyCommitment)
	}
	b := &zkv1.Bundle{Version: bundle.Version, Kind: bundle.KindAbsent, Collection: collection, CollectionId: elem(collID),
		Schema: c.Schema, Root: elem(w.Root), KeyCommitment: elem(kc), Nonce: elem(nonce), Circuit: bundle.KindCircuit(bundle.KindAbsent)}
	return p.finish(ctx, b, a)
}

// ProveOwn proves a subject statement from a witness the subject holds (a
// receipt), without a holder store; nonce and blind are the asking
// verifier's.
func (p *Prover) ProveOwn(ctx context.Context, collection string, schemaRaw []byte, w *holder.Witness, text string, nonce, blind fr.Element) (*zkv1.Bundle, error) {
	schema, err := records.ParseSchema(schemaRaw)
	if err != nil {
		return nil, err
	}
	prep, err := query.Prepare(text, schema)
	if err != nil {
		return nil, err
	}
	collID := records.CollectionID(collection)
	b := header(bundle.KindSubject, collection, collID, schemaRaw, prep, nonce)
	a, err := subject(b, collID, nonce, blind, prep, w)
	if err != nil {
		return nil, err
	}
	return p.finish(ctx, b, a)
}

// prove runs one Groth16 proof in a bounded slot. A cancelled context
// returns at once; the proof already started finishes in its slot, so the
// bound holds.
func (p *Prover) prove(ctx context.Context, k *keys.Proving, a frontend.Circuit, opts ...backend.ProverOption) (groth16.Proof, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	w, err := frontend.NewWitness(a, ecc.BN254.ScalarField())
	if err != nil {
		<-p.slots
		return nil, fmt.Errorf("witness: %w", err)
	}
	type out struct {
		proof groth16.Proof
		err   error
	}
	done := make(chan out, 1)
	start := time.Now()
	go func() {
		defer func() { <-p.slots }()
		proof, err := groth16.Prove(k.CS, k.PK, w, opts...)
		done <- out{proof, err}
	}()
	select {
	case o := <-done:
		if o.err != nil {
			// gnark's solver errors can quote witness values: keep them out.
			p.log.ErrorContext(ctx, "proving failed", "circuit", k.Name)
			return nil, fmt.Errorf("prove %s: the witness does not satisfy the circuit", k.Name)
		}
		p.log.DebugContext(ctx, "proved", "circuit", k.Name, "ms", time.Since(start).Milliseconds())
		return o.proof, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
