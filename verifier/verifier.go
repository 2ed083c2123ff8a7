// Package verifier checks proof bundles: the verifying key is the pinned
// one for the circuit, the query hash is recomputed from the query text and
// schema, the collection id from its name, the nonce and subject are the
// ones the verifier asked about, and the Groth16 proof verifies against
// these public inputs. (Anchor, freshness and ledger-registry checks arrive
// with the ledger.)
package verifier

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
)

// Key is a pinned verifying key.
type Key struct {
	VK        groth16.VerifyingKey
	VKSHA256  string
	CircuitID string
}

// Verifier checks bundles against pinned keys.
type Verifier struct {
	keys map[string]Key
}

// New pins the given keys, by circuit name.
func New(pinned map[string]Key) *Verifier { return &Verifier{keys: pinned} }

// FromDir pins the verifying keys of a key directory.
func FromDir(dir string) (*Verifier, error) {
	pinned := map[string]Key{}
	present, err := keys.Present(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range present {
		vk, e, err := keys.LoadVerifying(dir, name)
		if err != nil {
			return nil, err
		}
		pinned[name] = Key{VK: vk, VKSHA256: e.VKSHA256, CircuitID: e.CircuitID}
	}
	return &Verifier{keys: pinned}, nil
}

// Checks, in the order they run.
const (
	CheckDecode     = "decode"
	CheckKey        = "verifying key"
	CheckCollection = "collection id"
	CheckQuery      = "query hash"
	CheckNonce      = "nonce"
	CheckSubject    = "subject"
	CheckProof      = "proof"
)

// Verdict is the outcome of a verification.
type Verdict struct {
	Valid     bool
	Statement string
	Failed    string // the check that failed, if not valid
	Reason    string
	Checked   []string
}

// ErrInvalid is wrapped by Verdict.Err for invalid bundles.
var ErrInvalid = errors.New("bundle is not valid")

// Err returns nil for a valid verdict, else an error naming the check.
func (v *Verdict) Err() error {
	if v.Valid {
		return nil
	}
	return fmt.Errorf("%w: %s check failed: %s", ErrInvalid, v.Failed, v.Reason)
}

// VerifyBytes decodes and verifies an encoded bundle.
func (vf *Verifier) VerifyBytes(data []byte, exp Expect) *Verdict {
	b, err := bundle.Parse(data)
	if err != nil {
		return &Verdict{Failed: CheckDecode, Reason: err.Error()}
	}
	return vf.Verify(b, exp)
}

// Verify checks a bundle. It never panics on malformed input.
func (vf *Verifier) Verify(b *bundle.Bundle, exp Expect) (v *Verdict) {
	v = &Verdict{Statement: b.Statement()}
	defer func() {
		if r := recover(); r != nil { // gnark decoders on hostile bytes
			v.Valid, v.Failed, v.Reason = false, CheckDecode, "malformed bundle"
		}
	}()
	fail := func(check, format string, args ...any) *Verdict {
		v.Failed, v.Reason = check, fmt.Sprintf(format, args...)
		return v
	}
	pass := func(check string) { v.Checked = append(v.Checked, check) }

	k, ok := vf.keys[b.Circuit]
	if !ok {
		return fail(CheckKey, "no pinned key for circuit %q", b.Circuit)
	}
	if b.VKSHA256 != k.VKSHA256 || b.CircuitID != k.CircuitID {
		return fail(CheckKey, "bundle names verifying key %.16s…, the pinned key for %s is %.16s…", b.VKSHA256, b.Circuit, k.VKSHA256)
	}
	pass(CheckKey)

	coll, schema, prep, check, reason := statement(b.Collection, b.CollectionID, b.Schema, b.Query, b.QueryHash, pass)
	if check != "" {
		return fail(check, "%s", reason)
	}
	if msg := exp.statement(b.Kind, b.Collection, schema, prep.Hash); msg != "" {
		return fail(CheckExpect, "%s", msg)
	}
	pass(CheckExpect)

	root, err := records.ParseElement(b.Root)
	if err != nil {
		return fail(CheckDecode, "root: %v", err)
	}
	nonce, check, reason := exp.nonce(b.Nonce, pass)
	if check != "" {
		return fail(check, "%s", reason)
	}

	var public frontend.Circuit
	switch b.Kind {
	case bundle.KindSubject:
		kc, err := records.ParseElement(b.KeyCommitment)
		if err != nil {
			return fail(CheckDecode, "key commitment: %v", err)
		}
		if exp.Subject != "" {
			want := circuits.KeyCommitment(coll, records.KeyDigest(exp.Subject), nonce, *exp.Blind) // the pins require a blind with a subject
			if !want.Equal(&kc) {
				return fail(CheckSubject, "the bundle is about another subject")
			}
			pass(CheckSubject)
		}
		public = circuits.SubjectPublic(coll, root, kc, prep.Hash, nonce, b.Result)
	case bundle.KindExists:
		public = circuits.ExistsPublic(coll, root, prep.Hash, nonce)
	}

	if msg := verifyProof(k, b.Proof, public); msg != "" {
		return fail(proofCheck(msg), "%s", msg)
	}
	pass(CheckProof)
	v.Valid = true
	return v
}

// statement runs the checks every bundle shares: the collection id is the
// named collection's, the schema parses, and the query text hashes to the
// bundle's query hash. It reports the failed check and why, or "".
func statement(collection, collectionID string, schemaRaw []byte, text, queryHash string, pass func(string)) (fr.Element, *records.Schema, *query.Prepared, string, string) {
	coll := records.CollectionID(collection)
	if records.ElementHex(coll) != collectionID {
		return coll, nil, nil, CheckCollection, fmt.Sprintf("collection id does not match collection %q", collection)
	}
	pass(CheckCollection)
	schema, err := records.ParseSchema(schemaRaw)
	if err != nil {
		return coll, nil, nil, CheckQuery, fmt.Sprintf("schema: %v", err)
	}
	prep, err := query.Prepare(text, schema)
	if err != nil {
		return coll, nil, nil, CheckQuery, err.Error()
	}
	if prep.HashHex() != queryHash {
		return coll, nil, nil, CheckQuery, fmt.Sprintf("the query text hashes to %.16s…, the bundle claims %.16s…", prep.HashHex(), queryHash)
	}
	pass(CheckQuery)
	return coll, schema, prep, "", ""
}

// verifyProof decodes a proof with gnark's checked reader and verifies it
// against public; it returns "" or why not.
func verifyProof(k Key, raw []byte, public frontend.Circuit) string {
	_, msg := verifiedProof(k, raw, public)
	return msg
}

// verifiedProof is verifyProof that also returns the decoded proof.
func verifiedProof(k Key, raw []byte, public frontend.Circuit) (groth16.Proof, string) {
	if len(raw) > 4096 {
		return nil, fmt.Sprintf("proof: %d bytes, too large", len(raw))
	}
	if err := checkProofEncoding(raw, k.VK); err != nil {
		return nil, fmt.Sprintf("proof: %v", err)
	}
	proof := groth16.NewProof(ecc.BN254)
	if _, err := proof.ReadFrom(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Sprintf("proof: %v", err)
	}
	pw, err := frontend.NewWitness(public, ecc.BN254.ScalarField(), frontend.PublicOnly())
	if err != nil {
		return nil, fmt.Sprintf("public inputs: %v", err)
	}
	if err := groth16.Verify(proof, k.VK, pw); err != nil {
		return nil, errNotVerified
	}
	return proof, ""
}

const errNotVerified = "the proof does not verify for this statement"

// proofCheck names the check a verifyProof failure belongs to: a proof that
// does not verify fails "proof"; bytes that do not decode fail "decode".
func proofCheck(msg string) string {
	if msg == errNotVerified {
		return CheckProof
	}
	return CheckDecode
}
