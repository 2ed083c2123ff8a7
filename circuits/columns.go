package circuits

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/constraint/solver"
)

// randomizeHint is the id of gnark's internal hint that draws a commitment's
// random mask (gnark derives hint ids from the function's name).
var randomizeHint = func() solver.HintID {
	h := fnv.New32a()
	_, _ = h.Write([]byte("github.com/consensys/gnark/internal/hints.Randomize")) // a hash.Hash never returns an error
	return solver.HintID(h.Sum32())
}()

// zeroMask replaces gnark's random commitment mask: the Aggregate circuit
// carries its own salt (anchored) and mask (fresh per proof) instead, so that
// its column commitment is the one the holder anchored.
func zeroMask(_ *big.Int, _, out []*big.Int) error {
	for _, o := range out {
		o.SetUint64(0)
	}
	return nil
}

// AggregateProverOptions are the options Aggregate proofs need.
func AggregateProverOptions() []backend.ProverOption {
	return []backend.ProverOption{backend.WithSolverOptions(solver.OverrideHint(randomizeHint, zeroMask))}
}

// ColumnBasis is the part of the Aggregate proving key that the holder
// needs to commit to chunks: the commitment basis of its rows.
type ColumnBasis []bn254.G1Affine

// ColumnBasisOf extracts the row commitment's basis from an Aggregate
// proving key.
func ColumnBasisOf(pk groth16.ProvingKey, rows int) (ColumnBasis, error) {
	k, ok := pk.(*groth16bn254.ProvingKey)
	if !ok {
		return nil, fmt.Errorf("column basis: proving key is %T, want BN254", pk)
	}
	if len(k.CommitmentKeys) == 0 {
		return nil, errors.New("column basis: the proving key has no commitment")
	}
	b := k.CommitmentKeys[0].Basis
	if len(b) != ColumnWires(rows) {
		return nil, fmt.Errorf("column basis: %d points, want %d for %d rows", len(b), ColumnWires(rows), rows)
	}
	return append(ColumnBasis(nil), b[:ColumnWires(rows)-1]...), nil
}

// Rows is the number of rows the basis commits to.
func (b ColumnBasis) Rows() int { return (len(b) - 1) / rowWires }

// Commit is the Aggregate circuit's commitment to rows (fewer rows than the
// chunk holds are empty positions) and salt.
func (b ColumnBasis) Commit(rows []AggRow, salt fr.Element) (bn254.G1Affine, error) {
	n := b.Rows()
	if len(rows) > n || len(b) != n*rowWires+1 {
		return bn254.G1Affine{}, fmt.Errorf("column commitment: %d rows for a basis of %d", len(rows), n)
	}
	scalars := make([]fr.Element, 0, len(rows)*rowWires+1)
	points := make([]bn254.G1Affine, 0, cap(scalars))
	for i := range rows {
		if rows[i].Live {
			var one fr.Element
			one.SetOne()
			scalars = append(scalars, one)
			points = append(points, b[i*rowWires])
		}
		for j := range rows[i].Values {
			if !rows[i].Values[j].IsZero() {
				scalars = append(scalars, rows[i].Values[j])
				points = append(points, b[i*rowWires+1+j])
			}
		}
	}
	scalars = append(scalars, salt)
	points = append(points, b[n*rowWires])
	var out bn254.G1Affine
	if _, err := out.MultiExp(points, scalars, ecc.MultiExpConfig{}); err != nil {
		return out, fmt.Errorf("column commitment: %w", err)
	}
	return out, nil
}

// ProofColumns is the row commitment an Aggregate proof carries.
func ProofColumns(p groth16.Proof) (bn254.G1Affine, error) {
	k, ok := p.(*groth16bn254.Proof)
	if !ok || len(k.Commitments) != 2 {
		return bn254.G1Affine{}, errors.New("not an aggregate proof: want a BN254 proof with two commitments")
	}
	return k.Commitments[0], nil
}

// ColumnsDigest is what an anchor carries of a collection's column
// commitments: SHA-256 over the chunk size, the chunk count and the
// commitments in chunk order. A verifier recomputes it from the chunk
// proofs, so a chunk left out, repeated or out of order does not match.
func ColumnsDigest(rows int, commitments []bn254.G1Affine) [32]byte {
	h := sha256.New()
	h.Write([]byte("zkshare/columns/v1"))
	h.Write(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(rows)), uint64(len(commitments))))
	for i := range commitments {
		b := commitments[i].Bytes()
		h.Write(b[:])
	}
	return [32]byte(h.Sum(nil))
}
