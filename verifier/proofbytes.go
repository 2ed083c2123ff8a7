package verifier

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark/backend/groth16"
	groth16_bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// The Groth16 BN254 proof encoding, as gnark v0.16.3 writes it
// (backend/groth16/bn254/marshal.go, Proof.writeTo) and reads it back
// (Proof.ReadFrom, same file), through gnark-crypto v0.21.0's bn254
// Encoder/Decoder (ecc/bn254/marshal.go):
//
//	Ar             G1
//	Bs             G2
//	Krs            G1
//	n              uint32, big-endian: len(Commitments)
//	Commitments    n × G1
//	CommitmentPok  G1 (always present; the point at infinity when n = 0)
//
// Points carry their form in the two top bits of their first byte: 0b00 is
// uncompressed (G1 64 bytes, G2 128), anything else compressed (G1 32, G2
// 64). WriteTo, which the prover uses, compresses every point, so a proof
// with n commitments is 32+64+32+4+32n+32 = 164+32n bytes: 196 for every
// circuit (one BSB22 commitment, from range checks and, in aggregate chunks,
// the tree's multiset argument).
// The checked ReadFrom accepts either form point by point, and so does
// checkProofEncoding; the number of commitments comes from the key.
//
// ReadFrom allocates n points (and n flags) as soon as it has read n,
// before reading any of them: a 132-byte proof declaring 2^32-1 commitments
// asks for 256 GiB and the runtime dies of it, beyond any recover.
const (
	g1Size         = bn254.SizeOfG1AffineCompressed // 32
	g2Size         = bn254.SizeOfG2AffineCompressed // 64
	flagMask       = 0b11 << 6
	flagUncompress = 0b00 << 6
	countSize      = 4
)

// errProofEncoding is wrapped by every checkProofEncoding failure of the
// proof bytes (a key it cannot read fails without it).
var errProofEncoding = errors.New("malformed proof encoding")

// proofSize is the length of a proof with nbCommitments commitments as the
// prover writes it, every point compressed: the shortest such proof.
func proofSize(nbCommitments int) int {
	return g1Size + g2Size + g1Size + countSize + nbCommitments*g1Size + g1Size
}

// checkProofEncoding checks, before anything is decoded, that raw is framed
// as a Groth16 BN254 proof for vk: it declares as many commitments as vk
// expects, every point it declares fits in the bytes that are left, and
// nothing follows the last point. It reads only lengths and the form bits of
// each point; gnark's checked ReadFrom then decodes the points themselves
// (on the curve, in the subgroup). It allocates nothing that depends on raw.
func checkProofEncoding(raw []byte, vk groth16.VerifyingKey) error {
	want, err := vkCommitments(vk)
	if err != nil {
		return err
	}
	off := 0
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s (at byte %d of %d)", errProofEncoding, fmt.Sprintf(format, args...), off, len(raw))
	}
	point := func(name string, compressed int) error {
		if off >= len(raw) {
			return fail("%s is missing", name)
		}
		size := compressed
		if raw[off]&flagMask == flagUncompress {
			size *= 2
		}
		if len(raw)-off < size {
			return fail("%s needs %d bytes, %d left", name, size, len(raw)-off)
		}
		off += size
		return nil
	}
	if err := point("Ar", g1Size); err != nil {
		return err
	}
	if err := point("Bs", g2Size); err != nil {
		return err
	}
	if err := point("Krs", g1Size); err != nil {
		return err
	}
	if len(raw)-off < countSize {
		return fail("the commitment count is missing")
	}
	n := binary.BigEndian.Uint32(raw[off:])
	off += countSize
	if uint64(n) != uint64(want) {
		return fail("%d commitments declared, the verifying key expects %d", n, want)
	}
	// n is small now (it is the key's); the points it declares must fit.
	if least := proofSize(int(n)); len(raw) < least {
		return fail("a proof with %d commitments takes at least %d bytes", n, least)
	}
	for i := range int(n) {
		if err := point(fmt.Sprintf("commitment %d", i), g1Size); err != nil {
			return err
		}
	}
	if err := point("commitment proof of knowledge", g1Size); err != nil {
		return err
	}
	if off != len(raw) {
		return fail("%d bytes follow the proof", len(raw)-off)
	}
	return nil
}

// vkCommitments is the number of commitments a proof for vk carries: gnark's
// verifier expects one per entry of PublicAndCommitmentCommitted, with as
// many commitment keys (backend/groth16/bn254/verify.go, Verify).
func vkCommitments(vk groth16.VerifyingKey) (int, error) {
	k, ok := vk.(*groth16_bn254.VerifyingKey)
	if !ok {
		return 0, fmt.Errorf("verifying key is %T, not BN254 Groth16", vk)
	}
	if len(k.PublicAndCommitmentCommitted) != len(k.CommitmentKeys) {
		return 0, fmt.Errorf("verifying key has %d commitment keys for %d commitments", len(k.CommitmentKeys), len(k.PublicAndCommitmentCommitted))
	}
	return len(k.CommitmentKeys), nil
}
