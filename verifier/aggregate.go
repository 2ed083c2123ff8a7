package verifier

import (
	"fmt"
	"math/big"
	"math/bits"
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/records"
)

// CheckCompleteness: the chunk roots make up the collection root.
const CheckCompleteness = "completeness"

// VerifyAggregate checks an aggregate bundle: pinned keys, collection id,
// query hash, the field's slot and offset from the schema, every chunk's
// proof, that the chunk roots compose to the bundle's root (and to root,
// when given: the anchored one), and the combining proof.
func (vf *Verifier) VerifyAggregate(b *bundle.Aggregate, root *fr.Element) (v *Verdict) {
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
	var offset uint64
	if f.Type == records.Int || f.Type == records.Decimal {
		offset = 1 << (f.Width - 1)
	}
	pass(CheckQuery)

	if b.ChunkRows != circuits.AggChunkRows || len(b.Chunks) == 0 || len(b.Chunks) > circuits.AggMaxChunks {
		return fail(CheckDecode, "%d chunks of %d rows", len(b.Chunks), b.ChunkRows)
	}
	var err error
	roots := make([]fr.Element, len(b.Chunks))
	partials := make([]fr.Element, circuits.AggMaxChunks)
	for i := range partials {
		partials[i] = circuits.EmptyPartial()
	}
	for i, c := range b.Chunks {
		if roots[i], err = records.ParseElement(c.Root); err != nil {
			return fail(CheckDecode, "chunk %d root: %v", i, err)
		}
		if partials[i], err = records.ParseElement(c.Partial); err != nil {
			return fail(CheckDecode, "chunk %d partial: %v", i, err)
		}
		pub := circuits.NewAggregate(circuits.AggChunkRows)
		pub.ChunkRoot, pub.QueryHash, pub.Field, pub.Partial = roots[i], prep.Hash, slot, partials[i]
		if msg := verifyProof(ck, c.Proof, pub); msg != "" {
			return fail(CheckProof, "chunk %d: %s", i, msg)
		}
	}
	composed := circuits.ComposeRoot(bits.TrailingZeros(uint(circuits.AggChunkRows)), roots)
	want, err := records.ParseElement(b.Root)
	if err != nil {
		return fail(CheckDecode, "root: %v", err)
	}
	if !composed.Equal(&want) || (root != nil && !composed.Equal(root)) {
		return fail(CheckCompleteness, "the chunks do not make up the collection root: a chunk is missing or foreign")
	}
	pass(CheckCompleteness)

	var final frontend.Circuit
	switch b.Circuit {
	case "aggregate-total":
		t := circuits.NewAggregateTotal(circuits.AggMaxChunks)
		for i := range partials {
			t.Partials[i] = partials[i]
		}
		var sum fr.Element
		if _, ok := new(big.Int).SetString(b.Sum, 10); !ok {
			return fail(CheckDecode, "sum %q", b.Sum)
		}
		sum.SetString(b.Sum)
		t.Count, t.Sum, t.Min, t.Max = *b.Count, sum, *b.Min, *b.Max
		final = t
	case "aggregate-threshold":
		t := circuits.NewAggregateThreshold(circuits.AggMaxChunks)
		for i := range partials {
			t.Partials[i] = partials[i]
		}
		which := slices.Index([]string{"count", "sum", "min", "max"}, b.Which)
		rel := slices.Index([]string{"<=", ">=", "=="}, b.Relation)
		th, ok := new(big.Int).SetString(b.Threshold, 10)
		if which < 0 || rel < 0 || !ok || b.Offset != offset {
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
		t.Which, t.Relation, t.Threshold, t.Offset, t.Holds = which, rel, in, offset, holds
		final = t
	}
	if msg := verifyProof(fk, b.Proof, final); msg != "" {
		return fail(CheckProof, "combination: %s", msg)
	}
	pass(CheckProof)
	v.Valid = true
	return v
}
