package circuits_test

import (
	"fmt"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/test"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/zkhash"
)

// TestSubjectBlind: the key commitment is bound to the record's key, the
// nonce and the verifier's blind; a witness with any of them changed does
// not solve.
func TestSubjectBlind(t *testing.T) {
	f := newFixture(t, rows)
	q := query(f, rng(0, 16, 0, 30000))
	valid := func() *circuits.Subject {
		a, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &f.records[2])
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if err := test.IsSolved(&circuits.Subject{}, valid(), ecc.BN254.ScalarField()); err != nil {
		t.Fatalf("valid blinded witness not solved: %v", err)
	}
	// A zero blind is a blind like any other (the prover's default until
	// verifiers send one).
	z, _, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, fr.Element{}, q, &f.records[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := test.IsSolved(&circuits.Subject{}, z, ecc.BN254.ScalarField()); err != nil {
		t.Fatalf("zero-blind witness not solved: %v", err)
	}
	key := f.records[2].Key
	for name, tamper := range map[string]func(a *circuits.Subject){
		"wrong blind in witness": func(a *circuits.Subject) { a.Blind = el(1) },
		"commitment with another blind": func(a *circuits.Subject) {
			a.KeyCommitment = zkhash.KeyCommitment(f.collection, key, f.nonce, el(0xb11e))
		},
		"commitment without the blind": func(a *circuits.Subject) {
			a.KeyCommitment = zkhash.KeyCommitment(f.collection, key, f.nonce, fr.Element{})
		},
		"commitment to another key": func(a *circuits.Subject) {
			a.KeyCommitment = zkhash.KeyCommitment(f.collection, f.records[1].Key, f.nonce, f.blind)
		},
		"commitment with another nonce": func(a *circuits.Subject) {
			a.KeyCommitment = zkhash.KeyCommitment(f.collection, key, el(556), f.blind)
		},
		"another public nonce": func(a *circuits.Subject) { a.Nonce = el(556) },
		"commitment for another collection": func(a *circuits.Subject) {
			a.KeyCommitment = zkhash.KeyCommitment(el(1002), key, f.nonce, f.blind)
		},
	} {
		t.Run(name, func(t *testing.T) {
			a := valid()
			tamper(a)
			if test.IsSolved(&circuits.Subject{}, a, ecc.BN254.ScalarField()) == nil {
				t.Fatal("tampered witness solved")
			}
		})
	}
}

// TestKeyCommitmentBruteForce: with every public input of a bundle in hand,
// trying every key of a small key space (C00000..C09999) finds the subject
// only with the verifier's blind; without it (blind 0) or with a guessed
// blind, no key matches.
func TestKeyCommitmentBruteForce(t *testing.T) {
	const space = 10000
	keyOf := func(i int) fr.Element {
		return zkhash.Digest("zkshare/key/v1", fmt.Appendf(nil, "C%05d", i), 248)
	}
	collection, nonce := el(1001), el(555)
	var blind fr.Element
	if _, err := blind.SetRandom(); err != nil {
		t.Fatal(err)
	}
	const subject = 5821
	kc := zkhash.KeyCommitment(collection, keyOf(subject), nonce, blind)
	search := func(b fr.Element) []int {
		var found []int
		for i := range space {
			if c := zkhash.KeyCommitment(collection, keyOf(i), nonce, b); c.Equal(&kc) {
				found = append(found, i)
			}
		}
		return found
	}
	// The search itself works: with the blind, the subject is found.
	if got := search(blind); len(got) != 1 || got[0] != subject {
		t.Fatalf("search with the blind found %v, want [%d]", got, subject)
	}
	for name, b := range map[string]fr.Element{"no blind": {}, "blind 1": el(1), "blind+1": *new(fr.Element).Add(&blind, ptr(el(1)))} {
		if got := search(b); len(got) != 0 {
			t.Errorf("%s: brute force over %d keys matched %v", name, space, got)
		}
	}
	// And the commitment for the subject's own key differs per blind.
	if kc0 := zkhash.KeyCommitment(collection, keyOf(subject), nonce, fr.Element{}); kc0.Equal(&kc) {
		t.Fatal("the blind does not change the commitment")
	}
}
