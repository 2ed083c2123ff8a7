package circuits_test

import (
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/zkhash"
)

// TestGroth16SubjectRoundTrip proves for real and checks that the proof
// verifies only against its own public inputs.
func TestGroth16SubjectRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("Groth16 setup and proving are slow")
	}
	f := newFixture(t, rows)
	q := query(f, rng(0, 16, 0, 30000))
	cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &circuits.Subject{})
	if err != nil {
		t.Fatal(err)
	}
	pk, vk, err := groth16.Setup(cs)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []int{2, 3} { // 30000: yes; 30001: no
		a, result, err := circuits.SubjectAssignment(f.collection, f.root(), f.nonce, f.blind, q, &f.records[rec])
		if err != nil {
			t.Fatal(err)
		}
		w, err := frontend.NewWitness(a, ecc.BN254.ScalarField())
		if err != nil {
			t.Fatal(err)
		}
		proof, err := groth16.Prove(cs, pk, w)
		if err != nil {
			t.Fatal(err)
		}
		kc := zkhash.KeyCommitment(f.collection, f.records[rec].Key, f.nonce, f.blind)
		public := func(mod func(s *circuits.Subject)) error {
			s := circuits.SubjectPublic(f.collection, f.root(), kc, q.Hash(), f.nonce, result)
			mod(s)
			pw, err := frontend.NewWitness(s, ecc.BN254.ScalarField(), frontend.PublicOnly())
			if err != nil {
				t.Fatal(err)
			}
			return groth16.Verify(proof, vk, pw)
		}
		if err := public(func(*circuits.Subject) {}); err != nil {
			t.Fatalf("record %d: valid proof rejected: %v", rec, err)
		}
		for name, mod := range map[string]func(s *circuits.Subject){
			"flipped result": func(s *circuits.Subject) { s.Result = 1 - s.Result.(int) },
			"other nonce":    func(s *circuits.Subject) { s.Nonce = el(1) },
			"other root":     func(s *circuits.Subject) { s.Root = el(2) },
			"other collection": func(s *circuits.Subject) {
				s.CollectionID = el(3)
			},
			"other query": func(s *circuits.Subject) { s.QueryHash = query(f, rng(0, 16, 0, 30001)).Hash() },
			"other key": func(s *circuits.Subject) {
				s.KeyCommitment = zkhash.KeyCommitment(f.collection, f.records[0].Key, f.nonce, f.blind)
			},
		} {
			if public(mod) == nil {
				t.Errorf("record %d: proof verified with %s", rec, name)
			}
		}
	}
}

func TestGroth16ExistsRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("Groth16 setup and proving are slow")
	}
	f := newFixture(t, rows)
	q := query(f, rng(0, 16, 65535, 65535))
	cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &circuits.Exists{})
	if err != nil {
		t.Fatal(err)
	}
	pk, vk, err := groth16.Setup(cs)
	if err != nil {
		t.Fatal(err)
	}
	a, err := circuits.ExistsAssignment(f.collection, f.root(), f.nonce, q, &f.records[1])
	if err != nil {
		t.Fatal(err)
	}
	w, _ := frontend.NewWitness(a, ecc.BN254.ScalarField())
	proof, err := groth16.Prove(cs, pk, w)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(p *circuits.Exists) error {
		pw, _ := frontend.NewWitness(p, ecc.BN254.ScalarField(), frontend.PublicOnly())
		return groth16.Verify(proof, vk, pw)
	}
	if err := verify(circuits.ExistsPublic(f.collection, f.root(), q.Hash(), f.nonce)); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*circuits.Exists{
		"other nonce":      circuits.ExistsPublic(f.collection, f.root(), q.Hash(), el(9)),
		"other collection": circuits.ExistsPublic(el(9), f.root(), q.Hash(), f.nonce),
		"other root":       circuits.ExistsPublic(f.collection, el(9), q.Hash(), f.nonce),
		"other query":      circuits.ExistsPublic(f.collection, f.root(), query(f).Hash(), f.nonce),
	} {
		if verify(p) == nil {
			t.Errorf("exists proof verified with %s", name)
		}
	}
}
