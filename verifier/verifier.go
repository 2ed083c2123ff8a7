// Package verifier owns every check of a proof bundle, for every statement
// kind, in order: the ledger's circuit registry lists the bundle's keys, the
// root is anchored by the collection's holder (signed, included under a
// signed checkpoint, counted under the collection's M-of-N rule), it is
// fresh, the schema is the registered one, the verifying key is the pinned
// one, the statement (collection id, query hash, what the asker pinned),
// nonce and subject are the asked ones, and the Groth16 proofs verify.
// The ledger is read through a Ledger view: Local, Remote or Offline.
package verifier

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/circuits"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
)

// Key is a pinned verifying key.
type Key struct {
	VK                  groth16.VerifyingKey
	VKSHA256, CircuitID []byte // 32 bytes each
}

// Verifier checks bundles against pinned keys and, for other registered
// versions of a circuit, the verifying keys the ledger's registry carries.
type Verifier struct {
	keys map[zkv1.Circuit]Key
	// registered caches verifying keys parsed from registry entries, by
	// hex SHA-256 (the registry bounds them).
	registered sync.Map
}

// New pins the given keys, by circuit.
func New(pinned map[zkv1.Circuit]Key) *Verifier { return &Verifier{keys: pinned} }

// keyring finds the verifying key of one version of a circuit (its
// circuit id and verifying key's SHA-256).
type keyring func(c zkv1.Circuit, id, vk []byte) (Key, bool)

// pinned is the keyring of the pinned keys alone.
func (vf *Verifier) pinned(c zkv1.Circuit, id, vk []byte) (Key, bool) {
	k, ok := vf.keys[c]
	return k, ok && bytes.Equal(k.VKSHA256, vk) && bytes.Equal(k.CircuitID, id)
}

// registryKey parses (once) a verifying key the registry carries.
func (vf *Verifier) registryKey(c *Circuit) (Key, error) {
	name := hex.EncodeToString(c.VKSHA256)
	if k, ok := vf.registered.Load(name); ok {
		if key, ok := k.(Key); ok {
			return key, nil
		}
	}
	// Hash first: bytes that are not the registered key are never parsed.
	if sum := sha256.Sum256(c.VK); hex.EncodeToString(sum[:]) != name {
		return Key{}, fmt.Errorf("the registry's verifying key hashes to %.16x…, not %.16s…", sum, name)
	}
	vk, _, err := keys.ParseVerifying(c.VK)
	if err != nil {
		return Key{}, err
	}
	k := Key{VK: vk, VKSHA256: c.VKSHA256, CircuitID: c.ID}
	vf.registered.Store(name, k)
	return k, nil
}

// FromDir pins the verifying keys of a key directory.
func FromDir(dir string) (*Verifier, error) {
	pinned := map[zkv1.Circuit]Key{}
	present, err := keys.Present(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range present {
		vk, e, err := keys.LoadVerifying(dir, name)
		if err != nil {
			return nil, err
		}
		id, sum, err := e.Digests(name)
		if err != nil {
			return nil, err
		}
		pinned[keys.CircuitOf(name)] = Key{VK: vk, VKSHA256: sum, CircuitID: id}
	}
	return &Verifier{keys: pinned}, nil
}

// statementAndProof runs the checks after the ledger's: pinned key,
// statement (collection id, query hash, expectation), nonce, subject,
// completeness (aggregates) and proof. It sets v.Valid when all pass.
func (vf *Verifier) statementAndProof(b *zkv1.Bundle, anchor *Anchored, exp Expect, v *Verdict, ring keyring) {
	if b.GetKind() == bundle.KindAggregate {
		vf.verifyAggregate(b, anchor, exp, v, ring)
		return
	}
	name := keys.NameOf(b.GetCircuit())
	k, ok := ring(b.GetCircuit(), b.GetCircuitId(), b.GetVkSha256())
	if !ok {
		if p, pinned := vf.keys[b.GetCircuit()]; pinned {
			v.fail(CheckKey, "bundle names verifying key %.16x…, the pinned key for %s is %.16x… and the registry has no other", b.GetVkSha256(), name, p.VKSHA256)
		} else {
			v.fail(CheckKey, "no pinned key for circuit %q", name)
		}
		return
	}
	v.pass(CheckKey)
	if b.GetKind() == bundle.KindAbsent {
		vf.verifyAbsent(b, k, exp, v)
		return
	}

	coll, schema, prep, check, reason := statement(b.GetCollection(), b.GetCollectionId(), b.GetSchema(), b.GetQuery(), b.GetQueryHash(), v.pass)
	if check != 0 {
		v.fail(check, "%s", reason)
		return
	}
	if msg := exp.statement(b.GetKind(), b.GetCollection(), schema, prep.Hash); msg != "" {
		v.fail(CheckExpect, "%s", msg)
		return
	}
	v.pass(CheckExpect)

	root, nonce, ok := rootAndNonce(b, exp, v)
	if !ok {
		return
	}
	var public frontend.Circuit
	switch b.GetKind() {
	case bundle.KindSubject:
		kc, ok := keyCommitment(b, coll, nonce, exp, v)
		if !ok {
			return
		}
		public = circuits.SubjectPublic(coll, root, kc, prep.Hash, nonce, b.GetResult())
	case bundle.KindExists:
		public = circuits.ExistsPublic(coll, root, prep.Hash, nonce)
	}
	checkProof(k, b, public, v)
}

// rootAndNonce decodes the bundle's root and checks its nonce against the
// asker's; ok is false once v has failed.
func rootAndNonce(b *zkv1.Bundle, exp Expect, v *Verdict) (root, nonce fr.Element, ok bool) {
	root, err := element(b.GetRoot())
	if err != nil {
		v.fail(CheckDecode, "root: %v", err)
		return root, nonce, false
	}
	nonce, check, reason := exp.nonce(b.GetNonce(), v.pass)
	if check != 0 {
		v.fail(check, "%s", reason)
		return root, nonce, false
	}
	return root, nonce, true
}

// keyCommitment decodes the bundle's key commitment and checks it against
// the key and blind the asker pinned (subject and absent statements).
func keyCommitment(b *zkv1.Bundle, coll, nonce fr.Element, exp Expect, v *Verdict) (fr.Element, bool) {
	kc, err := element(b.GetKeyCommitment())
	if err != nil {
		v.fail(CheckDecode, "key commitment: %v", err)
		return kc, false
	}
	if check, reason := exp.subject(coll, nonce, kc, v.pass); check != 0 {
		v.fail(check, "%s", reason)
		return kc, false
	}
	return kc, true
}

// checkProof verifies the bundle's proof against its public inputs, the
// last check: v is valid when it passes.
func checkProof(k Key, b *zkv1.Bundle, public frontend.Circuit, v *Verdict) {
	if msg := verifyProof(k, b.GetProof(), public); msg != "" {
		v.fail(proofCheck(msg), "%s", msg)
		return
	}
	v.pass(CheckProof)
	v.Valid = true
}

// verifyAbsent runs an absent bundle's checks after the pinned key:
// collection id, expectation (no query to pin), nonce, the key (the asker
// recomputes the key commitment from the key and the blind it asked with,
// as for a subject) and proof. It sets v.Valid when all pass.
func (vf *Verifier) verifyAbsent(b *zkv1.Bundle, k Key, exp Expect, v *Verdict) {
	coll, check, reason := collectionID(b.GetCollection(), b.GetCollectionId(), v.pass)
	if check != 0 {
		v.fail(check, "%s", reason)
		return
	}
	if msg := exp.statement(b.GetKind(), b.GetCollection(), nil, fr.Element{}); msg != "" {
		v.fail(CheckExpect, "%s", msg)
		return
	}
	v.pass(CheckExpect)
	root, nonce, ok := rootAndNonce(b, exp, v)
	if !ok {
		return
	}
	kc, ok := keyCommitment(b, coll, nonce, exp, v)
	if !ok {
		return
	}
	checkProof(k, b, circuits.AbsentPublic(coll, root, kc, nonce), v)
}

// element reads a 32-byte canonical BN254 scalar.
func element(b []byte) (fr.Element, error) {
	var e fr.Element
	if len(b) != 32 {
		return e, fmt.Errorf("want 32 bytes, got %d", len(b))
	}
	err := e.SetBytesCanonical(b)
	return e, err
}

func elemBytes(e fr.Element) []byte {
	b := e.Bytes()
	return b[:]
}

// statement runs the checks every bundle shares: the collection id is the
// named collection's, the schema parses, and the query text hashes to the
// bundle's query hash. It reports the failed check and why, or "".
func statement(collection string, collectionIDBytes, schemaRaw []byte, text string, queryHash []byte, pass func(Check)) (fr.Element, *records.Schema, *query.Prepared, Check, string) {
	coll, check, reason := collectionID(collection, collectionIDBytes, pass)
	if check != 0 {
		return coll, nil, nil, check, reason
	}
	schema, err := records.ParseSchema(schemaRaw)
	if err != nil {
		return coll, nil, nil, CheckQuery, fmt.Sprintf("schema: %v", err)
	}
	prep, err := query.Prepare(text, schema)
	if err != nil {
		return coll, nil, nil, CheckQuery, err.Error()
	}
	if !bytes.Equal(elemBytes(prep.Hash), queryHash) {
		return coll, nil, nil, CheckQuery, fmt.Sprintf("the query text hashes to %.16s…, the bundle claims %.16x…", prep.HashHex(), queryHash)
	}
	pass(CheckQuery)
	return coll, schema, prep, 0, ""
}

// collectionID checks that a bundle's collection id is its named
// collection's; it returns the id, or the failed check and why.
func collectionID(collection string, id []byte, pass func(Check)) (fr.Element, Check, string) {
	coll := records.CollectionID(collection)
	if !bytes.Equal(elemBytes(coll), id) {
		return coll, CheckCollection, fmt.Sprintf("collection id does not match collection %q", collection)
	}
	pass(CheckCollection)
	return coll, 0, ""
}

// verifyProof decodes a proof with gnark's checked reader and verifies it
// against public; it returns "" or why not.
func verifyProof(k Key, raw []byte, public frontend.Circuit) string {
	if len(raw) > 4096 {
		return fmt.Sprintf("proof: %d bytes, too large", len(raw))
	}
	if err := checkProofEncoding(raw, k.VK); err != nil {
		return fmt.Sprintf("proof: %v", err)
	}
	proof := groth16.NewProof(ecc.BN254)
	if _, err := proof.ReadFrom(bytes.NewReader(raw)); err != nil {
		return fmt.Sprintf("proof: %v", err)
	}
	pw, err := frontend.NewWitness(public, ecc.BN254.ScalarField(), frontend.PublicOnly())
	if err != nil {
		return fmt.Sprintf("public inputs: %v", err)
	}
	if err := groth16.Verify(proof, k.VK, pw); err != nil {
		return errNotVerified
	}
	return ""
}

const errNotVerified = "the proof does not verify for this statement"

// proofCheck names the check a verifyProof failure belongs to: a proof that
// does not verify fails "proof"; bytes that do not decode fail "decode".
func proofCheck(msg string) Check {
	if msg == errNotVerified {
		return CheckProof
	}
	return CheckDecode
}
