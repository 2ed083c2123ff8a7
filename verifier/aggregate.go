package verifier

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/records"
)

// CheckCompleteness: the chunks' column commitments are the anchored ones.
const CheckCompleteness = "completeness"

// CheckAnchor: the bundle is about the anchored state of the collection.
const CheckAnchor = "anchor"

// Anchored is what a ledger anchor says of a collection: its root and the
// digest of its column commitments.
type Anchored struct {
	Root    []byte
	Columns []byte
}

// VerifyAggregate checks an aggregate bundle: pinned keys, collection id,
// query hash, the field's slot and offset from the schema, every chunk's
// proof, that the chunks' column commitments digest to the bundle's (and to
// the anchored one, when anchor is given), and the combining proof, which
// binds the bundle's nonce, minimum group size and result. exp pins the
// question asked: collection, query, field, mode, threshold and nonce (a
// replayed bundle answers another nonce).
func (vf *Verifier) VerifyAggregate(b *bundle.Aggregate, anchor *Anchored, exp Expect) (v *Verdict) {
	v = &Verdict{Statement: b.Statement()}
	defer func() {
		if r := recover(); r != nil {
			v.Valid, v.Failed, v.Reason = false, CheckDecode, "malformed bundle"
		}
	}()
	fail := func(check, format string, args ...any) *Verdict {
		v.Failed, v.Reason = check, fmt.Sprintf(format, args...)
		return v
	}
	pass := func(check string) { v.Checked = append(v.Checked, check) }

	ck, ok := vf.keys["aggregate"]
	fk, ok2 := vf.keys[b.Circuit]
	if !ok || !ok2 || b.ChunkVK != ck.VKSHA256 || b.ChunkCircuit != ck.CircuitID || b.VKSHA256 != fk.VKSHA256 || b.CircuitID != fk.CircuitID {
		return fail(CheckKey, "the bundle's keys are not the pinned aggregate keys")
	}
	pass(CheckKey)
	_, schema, prep, check, reason := statement(b.Collection, b.CollectionID, b.Schema, b.Query, b.QueryHash, func(string) {})
	if check != "" {
		return fail(check, "%s", reason)
	}
	pass(CheckCollection)
	f, slot, ok := schema.Field(b.Field)
	if !ok || slot != b.Slot {
		return fail(CheckQuery, "field %q is not slot %d of the schema", b.Field, b.Slot)
	}
	offset := f.Offset()
	pass(CheckQuery)
	if msg := exp.statement(bundle.KindAggregate, b.Collection, schema, prep.Hash); msg != "" {
		return fail(CheckExpect, "%s", msg)
	}
	if msg := exp.aggregate(b, f); msg != "" {
		return fail(CheckExpect, "%s", msg)
	}
	pass(CheckExpect)
	nonce, check, reason := exp.nonce(b.Nonce, pass)
	if check != "" {
		return fail(check, "%s", reason)
	}

	if b.ChunkRows != circuits.AggChunkRows || len(b.Chunks) == 0 || len(b.Chunks) > circuits.AggMaxChunks {
		return fail(CheckDecode, "%d chunks of %d rows", len(b.Chunks), b.ChunkRows)
	}
	commitments := make([]bn254.G1Affine, len(b.Chunks))
	var err error
	partials := make([]fr.Element, circuits.AggMaxChunks)
	for i := range partials {
		partials[i] = circuits.EmptyPartial()
	}
	for i, c := range b.Chunks {
		if partials[i], err = records.ParseElement(c.Partial); err != nil {
			return fail(CheckDecode, "chunk %d partial: %v", i, err)
		}
		pub := circuits.NewAggregate(circuits.AggChunkRows)
		pub.QueryHash, pub.Field, pub.FieldWidth, pub.Partial = prep.Hash, slot, f.BitWidth(), partials[i]
		proof, msg := verifiedProof(ck, c.Proof, pub)
		if msg != "" {
			return fail(proofCheck(msg), "chunk %d: %s", i, msg)
		}
		if commitments[i], err = circuits.ProofColumns(proof); err != nil {
			return fail(CheckDecode, "chunk %d: %v", i, err)
		}
	}
	digest := circuits.ColumnsDigest(circuits.AggChunkRows, commitments)
	claimed, err := hex.DecodeString(b.Columns)
	if err != nil || !bytes.Equal(claimed, digest[:]) {
		return fail(CheckCompleteness, "the chunks are not the bundle's columns: a chunk is missing, repeated, out of order or foreign")
	}
	if anchor != nil {
		root, err := records.ParseElement(b.Root)
		if rb := root.Bytes(); err != nil || !bytes.Equal(anchor.Root, rb[:]) {
			return fail(CheckAnchor, "the bundle's root is not the anchored root")
		}
		if !bytes.Equal(anchor.Columns, digest[:]) {
			return fail(CheckCompleteness, "the chunks are not the anchored columns: a record is missing, repeated, superseded or foreign")
		}
	}
	pass(CheckCompleteness)

	var final frontend.Circuit
	var sum *big.Int // the revealed sum, parsed once: what the proof checks is what the verdict says
	switch b.Circuit {
	case "aggregate-total":
		t := circuits.NewAggregateTotal(circuits.AggMaxChunks)
		for i := range partials {
			t.Partials[i] = partials[i]
		}
		if sum, err = ParseSum(b.Sum); err != nil {
			return fail(CheckDecode, "sum: %v", err)
		}
		if b.MinGroup >= 1<<circuits.MinGroupBits {
			return fail(CheckDecode, "min group %d, at most 2^%d-1", b.MinGroup, circuits.MinGroupBits)
		}
		var s fr.Element
		s.SetBigInt(sum)
		small := 0
		if b.Small {
			small = 1
		}
		t.Count, t.Sum, t.Min, t.Max = *b.Count, s, *b.Min, *b.Max
		t.MinGroup, t.Small, t.Nonce = b.MinGroup, small, nonce
		final = t
	case "aggregate-threshold":
		t := circuits.NewAggregateThreshold(circuits.AggMaxChunks)
		for i := range partials {
			t.Partials[i] = partials[i]
		}
		which := slices.Index(records.AggregateNames, b.Which)
		rel := slices.Index(records.Relations, b.Relation)
		th, err := f.ThresholdValue(b.Which, b.Threshold)
		if which < 0 || rel < 0 || err != nil || b.Offset != offset {
			return fail(CheckDecode, "threshold statement %s %s %s (offset %d)", b.Which, b.Relation, b.Threshold, b.Offset)
		}
		in, err := circuits.ThresholdInput(th)
		if err != nil {
			return fail(CheckDecode, "%v", err)
		}
		holds := 0
		if *b.Holds {
			holds = 1
		}
		t.Which, t.Relation, t.Threshold, t.Offset, t.Holds, t.Nonce = which, rel, in, offset, holds, nonce
		final = t
	default:
		return fail(CheckDecode, "circuit %q", b.Circuit)
	}
	if msg := verifyProof(fk, b.Proof, final); msg != "" {
		return fail(CheckProof, "combination: %s", msg)
	}
	pass(CheckProof)
	v.Valid = true
	v.Statement = Describe(b, f, sum)
	return v
}

// ParseSum parses a revealed sum in its one canonical form: base-10 digits
// only (no sign, no prefix, no spaces), no leading zero but in "0" itself,
// and below the BN254 scalar modulus. Any other spelling of a proven value
// ("010", "0x10", "+5", S+p) is refused rather than reduced to it.
func ParseSum(s string) (*big.Int, error) {
	if s == "" || len(s) > 80 {
		return nil, fmt.Errorf("%q is not a canonical decimal", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("%q is not a canonical decimal", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return nil, fmt.Errorf("%q has a leading zero", s)
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Cmp(fr.Modulus()) >= 0 {
		return nil, fmt.Errorf("%q is not below the scalar field's modulus", s)
	}
	return v, nil
}

// Describe renders a verified aggregate in the field's own terms: decoded
// minimum and maximum (numbers, dates, timestamps, enum values), the real
// sum and the average when the field can be summed. sum is the verified
// sum (ParseSum of b.Sum); reveal mode only uses it.
func Describe(b *bundle.Aggregate, f *records.Field, sum *big.Int) string {
	if b.Holds != nil {
		return b.Statement()
	}
	head := fmt.Sprintf("over every record of %s where %s, %s:", b.Collection, b.Query, b.Field)
	if b.Small {
		return fmt.Sprintf("%s fewer than %d records match (count, sum, min and max withheld)", head, b.MinGroup)
	}
	if *b.Count == 0 {
		return head + " no records (count 0, sum 0; min and max undefined)"
	}
	if !f.Summable() { // a sum of dates or enum values means nothing
		return fmt.Sprintf("%s count %d, min %s, max %s", head, *b.Count, f.Decode(*b.Min), f.Decode(*b.Max))
	}
	real := f.RealSum(sum, *b.Count)
	out := fmt.Sprintf("%s count %d, sum %s, min %s, max %s", head, *b.Count, real, f.Decode(*b.Min), f.Decode(*b.Max))
	if r, ok := new(big.Rat).SetString(real); ok {
		out += ", average " + new(big.Rat).Quo(r, new(big.Rat).SetUint64(*b.Count)).FloatString(f.Scale+2)
	}
	return out
}
