package verifier_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/big"
	"runtime"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/pedersen"
	"github.com/consensys/gnark/backend/groth16"
	groth16_bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/verifier"
	"google.golang.org/protobuf/proto"
)

// countAt is where the commitment count sits in a compressed proof: after
// Ar (G1, 32 bytes), Bs (G2, 64) and Krs (G1, 32).
const countAt = 128

// withCount returns a copy of proof with its commitment count set to n.
func withCount(proof []byte, n uint32) []byte {
	out := bytes.Clone(proof)
	binary.BigEndian.PutUint32(out[countAt:], n)
	return out
}

// subjectProof proves a subject statement and returns the bundle, the
// subject circuit's verifying key and the verifier.
func subjectProof(t *testing.T) (*zkv1.Bundle, groth16.VerifyingKey, *verifier.Verifier) {
	_, p, v := setup(t)
	nonce, _ := prover.NewNonce()
	b, err := p.Prove(context.Background(), prover.Request{Collection: "people", Kind: bundle.KindSubject, Subject: "b", Query: `income <= 30000`, Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	vk, _, err := keys.LoadVerifying(keyDir, "subject")
	if err != nil {
		t.Fatal(err)
	}
	return b, vk, v
}

// verdictWith verifies b with its proof bytes replaced by proof.
func verdictWith(t *testing.T, v *verifier.Verifier, b *zkv1.Bundle, proof []byte) *verifier.Verdict {
	t.Helper()
	c := proto.Clone(b).(*zkv1.Bundle)
	c.Proof = proof
	return v.VerifyProto(c, verifier.Expect{})
}

// TestProofEncodingAttacks: proofs whose declared commitment count or
// length is wrong are rejected by the encoding check, before gnark's
// decoder (which allocates whatever count it reads) ever sees them.
func TestProofEncodingAttacks(t *testing.T) {
	b, vk, v := subjectProof(t)
	good := b.Proof
	if len(good) != verifier.ProofSize(1) || verifier.ProofSize(1) != 196 {
		t.Fatalf("a proof with one commitment is %d bytes, ProofSize(1) = %d, want 196", len(good), verifier.ProofSize(1))
	}
	pok := good[len(good)-32:]
	cases := map[string][]byte{
		// The attack: Ar, Bs, Krs of a real proof, then 2^32-1 commitments.
		"132 bytes declaring 2^32-1 commitments": withCount(good, 0xFFFFFFFF)[:132],
		"2^32-1 commitments, points intact":      withCount(good, 0xFFFFFFFF),
		"2 commitments":                          withCount(good, 2),
		"2 commitments with room for them":       append(withCount(good, 2), pok...),
		"2^20 commitments":                       withCount(good, 1<<20),
		"0 commitments":                          withCount(good, 0),
		"0 commitments, well framed":             append(withCount(good, 0)[:countAt+4], pok...),
		"empty":                                  {},
		"Ar only":                                good[:32],
		"no count":                               good[:countAt],
		"half a count":                           good[:countAt+2],
		"no commitment":                          good[:countAt+4],
		"no proof of knowledge":                  good[:len(good)-32],
		"truncated by one byte":                  good[:len(good)-1],
		"one trailing byte":                      append(bytes.Clone(good), 0),
		"a trailing point":                       append(bytes.Clone(good), pok...),
		// Flags 0b00 announce an uncompressed point: 64 bytes, not 32.
		"proof of knowledge flagged uncompressed": func() []byte {
			bad := bytes.Clone(good)
			bad[len(bad)-32] &^= 0b11 << 6
			return bad
		}(),
	}
	for name, raw := range cases {
		err := verifier.CheckProofEncoding(raw, vk)
		if !errors.Is(err, verifier.ErrProofEncoding) {
			t.Errorf("%s: check returned %v", name, err)
			continue
		}
		verdict := verdictWith(t, v, b, raw)
		// The bundle format refuses an empty proof before the encoding check.
		fromCheck := len(raw) == 0 && strings.Contains(verdict.Reason, "bundle: proof")
		if verdict.Valid || verdict.Failed != verifier.CheckDecode || !fromCheck && !strings.Contains(verdict.Reason, verifier.ErrProofEncoding.Error()) {
			t.Errorf("%s: verdict %+v, want a decode failure from the encoding check", name, verdict)
		}
	}
	// The proof is sound against the key it was made for, and only that.
	if err := verifier.CheckProofEncoding(good, &groth16_bn254.VerifyingKey{}); !errors.Is(err, verifier.ErrProofEncoding) {
		t.Errorf("one commitment passed for a key without commitments: %v", err)
	}
	if err := verifier.CheckProofEncoding(good, groth16.NewVerifyingKey(ecc.BLS12_381)); err == nil {
		t.Error("BLS12-381 key accepted")
	}
}

// TestProofEncodingValid: a real proof passes the check and verifies, both
// as the prover writes it (compressed) and uncompressed, which gnark's
// checked decoder also reads.
func TestProofEncodingValid(t *testing.T) {
	b, vk, v := subjectProof(t)
	if err := verifier.CheckProofEncoding(b.Proof, vk); err != nil {
		t.Fatal(err)
	}
	if verdict := verdictWith(t, v, b, b.Proof); !verdict.Valid {
		t.Fatal(verdict.Err())
	}
	proof := groth16.NewProof(ecc.BN254)
	if _, err := proof.ReadFrom(bytes.NewReader(b.Proof)); err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := proof.WriteRawTo(&raw); err != nil {
		t.Fatal(err)
	}
	if raw.Len() != 64+128+64+4+64+64 {
		t.Fatalf("uncompressed proof is %d bytes", raw.Len())
	}
	if err := verifier.CheckProofEncoding(raw.Bytes(), vk); err != nil {
		t.Fatal(err)
	}
	if verdict := verdictWith(t, v, b, raw.Bytes()); !verdict.Valid {
		t.Fatal(verdict.Err())
	}
	if err := verifier.CheckProofEncoding(append(raw.Bytes(), 0), vk); err == nil {
		t.Fatal("uncompressed proof with a trailing byte accepted")
	}
}

// fuzzKey is a BN254 verifying key expecting n commitments: all the check
// reads of a key.
func fuzzKey(n int) groth16.VerifyingKey {
	return &groth16_bn254.VerifyingKey{PublicAndCommitmentCommitted: make([][]int, n), CommitmentKeys: make([]pedersen.VerifyingKey, n)}
}

// fuzzProof encodes a proof of well-formed points (that verifies nothing)
// with n commitments, compressed or not.
func fuzzProof(n int, raw bool) []byte {
	_, _, g1, g2 := bn254.Generators()
	var p groth16_bn254.Proof
	p.Ar.ScalarMultiplication(&g1, big.NewInt(3))
	p.Bs.ScalarMultiplication(&g2, big.NewInt(5))
	p.Krs.ScalarMultiplication(&g1, big.NewInt(7))
	for i := range n {
		var c bn254.G1Affine
		c.ScalarMultiplication(&g1, big.NewInt(int64(11+i)))
		p.Commitments = append(p.Commitments, c)
	}
	if n > 0 {
		p.CommitmentPok.ScalarMultiplication(&g1, big.NewInt(13))
	}
	var buf bytes.Buffer
	if raw {
		p.WriteRawTo(&buf)
	} else {
		p.WriteTo(&buf)
	}
	return buf.Bytes()
}

// FuzzProofEncoding runs the encoding check on mutated proofs and, when it
// passes, gnark's checked decoder: neither may panic or allocate more than
// a proof's worth, and whatever passes the check decodes to exactly its
// bytes with the key's number of commitments. Real subject and aggregate
// chunk proofs are in testdata/fuzz/FuzzProofEncoding; the seeds here need
// no keys (run it with -short).
func FuzzProofEncoding(f *testing.F) {
	for n := range 3 {
		for _, raw := range []bool{false, true} {
			p := fuzzProof(n, raw)
			if err := verifier.CheckProofEncoding(p, fuzzKey(n)); err != nil {
				f.Fatal(err)
			}
			if _, err := groth16.NewProof(ecc.BN254).ReadFrom(bytes.NewReader(p)); err != nil {
				f.Fatal(err)
			}
			f.Add(p, uint8(n))
			f.Add(p, uint8(n+1))
			if !raw {
				f.Add(withCount(p, 0xFFFFFFFF)[:countAt+4], uint8(n))
				f.Add(withCount(p, 1<<20), uint8(n))
				f.Add(append(bytes.Clone(p), 0), uint8(n))
				f.Add(p[:len(p)-1], uint8(n))
			}
		}
	}
	const limit = 1 << 20 // a proof decodes in a few KiB
	f.Fuzz(func(t *testing.T, raw []byte, nb uint8) {
		n := int(nb % 4)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := verifier.CheckProofEncoding(raw, fuzzKey(n))
		if err != nil && !errors.Is(err, verifier.ErrProofEncoding) {
			t.Fatalf("check: %v", err)
		}
		if err == nil {
			if len(raw) < verifier.ProofSize(n) || len(raw) > 2*verifier.ProofSize(n) {
				t.Fatalf("%d bytes passed for %d commitments", len(raw), n)
			}
			proof := groth16.NewProof(ecc.BN254)
			read, err := proof.ReadFrom(bytes.NewReader(raw))
			if err == nil {
				if read != int64(len(raw)) {
					t.Fatalf("decoder read %d of %d bytes", read, len(raw))
				}
				if got := len(proof.(*groth16_bn254.Proof).Commitments); got != n {
					t.Fatalf("decoded %d commitments, key expects %d", got, n)
				}
			}
		}
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > limit {
			t.Fatalf("allocated %d bytes for a %d-byte proof", d, len(raw))
		}
	})
}
