package verifier

import (
	"bytes"
	"fmt"
	"math/big"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/tree"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/records"
)

// Anchored is what a ledger anchor says of a collection: its root.
type Anchored struct {
	Root []byte
}

// verifyAggregate checks an aggregate bundle after the ledger's checks:
// pinned keys, collection id, query hash, the field's slot and offset from
// the schema, the pins, the nonce, every chunk's proof over its region of
// the tree, that the regions rebuild the bundle's root (and the anchored
// one, when anchor is given), and the combining proof, which binds the
// bundle's nonce, minimum group size and result.
func (vf *Verifier) verifyAggregate(b *zkv1.Bundle, anchor *Anchored, exp Expect, v *Verdict, ring keyring) {
	fail := func(check Check, format string, args ...any) { v.fail(check, format, args...) }
	ab := b.GetAggregate()
	ck, ok := ring(zkv1.Circuit_CIRCUIT_AGGREGATE, ab.GetChunkCircuitId(), ab.GetChunkVkSha256())
	fk, ok2 := ring(b.GetCircuit(), b.GetCircuitId(), b.GetVkSha256())
	if !ok || !ok2 {
		fail(CheckKey, "the bundle's keys are not the pinned aggregate keys")
		return
	}
	v.pass(CheckKey)
	_, schema, prep, check, reason := statement(b.GetCollection(), b.GetCollectionId(), b.GetSchema(), b.GetQuery(), b.GetQueryHash(), func(Check) {})
	if check != 0 {
		fail(check, "%s", reason)
		return
	}
	v.pass(CheckCollection)
	f, slot, ok := schema.Field(ab.GetField())
	if !ok || uint32(slot) != ab.GetSlot() {
		fail(CheckQuery, "field %q is not slot %d of the schema", ab.GetField(), ab.GetSlot())
		return
	}
	offset := f.Offset()
	v.pass(CheckQuery)
	if msg := exp.statement(bundle.KindAggregate, b.GetCollection(), schema, prep.Hash); msg != "" {
		fail(CheckExpect, "%s", msg)
		return
	}
	if msg := exp.aggregate(ab, f); msg != "" {
		fail(CheckExpect, "%s", msg)
		return
	}
	v.pass(CheckExpect)
	nonce, check, reason := exp.nonce(b.GetNonce(), v.pass)
	if check != 0 {
		fail(check, "%s", reason)
		return
	}

	if ab.GetChunkRows() != circuits.AggChunkRows || ab.GetChunkInners() != circuits.AggChunkInners || len(ab.GetChunks()) == 0 || len(ab.GetChunks()) > circuits.AggMaxChunks {
		fail(CheckDecode, "%d chunks of %d rows and %d inner nodes", len(ab.GetChunks()), ab.GetChunkRows(), ab.GetChunkInners())
		return
	}
	var err error
	partials := make([]fr.Element, circuits.AggMaxChunks)
	for i := range partials {
		partials[i] = circuits.EmptyPartial()
	}
	regions := make([]tree.RegionRoot, len(ab.GetChunks()))
	for i, c := range ab.GetChunks() {
		if partials[i], err = element(c.GetPartial()); err != nil {
			fail(CheckDecode, "chunk %d partial: %v", i, err)
			return
		}
		root, err := element(c.GetRoot())
		if err != nil || c.GetDepth() > circuits.Depth {
			fail(CheckDecode, "chunk %d region: depth %d, root: %v", i, c.GetDepth(), err)
			return
		}
		regions[i] = tree.RegionRoot{Pos: tree.Pos{Depth: int(c.GetDepth()), Prefix: c.GetPrefix()}, Root: root}
		pub := circuits.AggregatePublic(circuits.AggChunkRows, circuits.AggChunkInners, prep.Hash, circuits.AggField{Slot: slot, Width: f.BitWidth()},
			partials[i], int(c.GetDepth()), c.GetPrefix(), root)
		if msg := verifyProof(ck, c.GetProof(), pub); msg != "" {
			fail(proofCheck(msg), "chunk %d: %s", i, msg)
			return
		}
	}
	// The regions must be disjoint nodes of the tree whose root the bundle
	// names: then every record of the collection is in exactly one chunk.
	root, err := tree.RootOfRegions(regions)
	if err != nil {
		fail(CheckCompleteness, "the chunks' regions: %v", err)
		return
	}
	if !bytes.Equal(elemBytes(root), b.GetRoot()) {
		fail(CheckCompleteness, "the chunks' regions are not the tree of the bundle's root: a record is missing, repeated, superseded or foreign")
		return
	}
	if anchor != nil && !bytes.Equal(anchor.Root, b.GetRoot()) {
		fail(CheckAnchor, "the bundle's root is not the anchored root")
		return
	}
	v.pass(CheckCompleteness)

	var final frontend.Circuit
	var sum *big.Int // the revealed sum, parsed once: what the proof checks is what the verdict says
	switch ans := ab.GetAnswer().(type) {
	case *zkv1.AggregateBody_Reveal:
		r := ans.Reveal
		t := circuits.NewAggregateTotal(circuits.AggMaxChunks)
		for i := range partials {
			t.Partials[i] = partials[i]
		}
		if sum, err = ParseSum(r.GetSum()); err != nil {
			fail(CheckDecode, "sum: %v", err)
			return
		}
		if r.GetMinGroup() >= 1<<circuits.MinGroupBits {
			fail(CheckDecode, "min group %d, at most 2^%d-1", r.GetMinGroup(), circuits.MinGroupBits)
			return
		}
		var s fr.Element
		s.SetBigInt(sum)
		small := 0
		if r.GetSmall() {
			small = 1
		}
		t.Count, t.Sum, t.Min, t.Max = r.GetCount(), s, r.GetMin(), r.GetMax()
		t.MinGroup, t.Small, t.Nonce = r.GetMinGroup(), small, nonce
		final = t
	case *zkv1.AggregateBody_Threshold:
		th := ans.Threshold
		t := circuits.NewAggregateThreshold(circuits.AggMaxChunks)
		for i := range partials {
			t.Partials[i] = partials[i]
		}
		which, rel, tv, err := thresholdOf(f, th.GetWhich(), th.GetRelation(), th.GetThreshold())
		if err != nil || th.GetOffset() != offset {
			fail(CheckDecode, "threshold statement %s %s %s (offset %d)", th.GetWhich(), th.GetRelation(), th.GetThreshold(), th.GetOffset())
			return
		}
		in, err := circuits.ThresholdInput(tv)
		if err != nil {
			fail(CheckDecode, "%v", err)
			return
		}
		holds := 0
		if th.GetHolds() {
			holds = 1
		}
		t.Which, t.Relation, t.Threshold, t.Offset, t.Holds, t.Nonce = int(which), int(rel), in, offset, holds, nonce
		final = t
	default:
		fail(CheckDecode, "no aggregate answer")
		return
	}
	if msg := verifyProof(fk, b.GetProof(), final); msg != "" {
		fail(CheckProof, "combination: %s", msg)
		return
	}
	v.pass(CheckProof)
	v.Valid = true
	v.Statement = Describe(b, f, sum)
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
func Describe(b *zkv1.Bundle, f *records.Field, sum *big.Int) string {
	ab := b.GetAggregate()
	r := ab.GetReveal()
	if r == nil {
		return bundle.Statement(b)
	}
	head := fmt.Sprintf("over every record of %s where %s, %s:", b.GetCollection(), b.GetQuery(), ab.GetField())
	if r.GetSmall() {
		return fmt.Sprintf("%s fewer than %d records match (count, sum, min and max withheld)", head, r.GetMinGroup())
	}
	if r.GetCount() == 0 {
		return head + " no records (count 0, sum 0; min and max undefined)"
	}
	if !f.Summable() { // a sum of dates or enum values means nothing
		return fmt.Sprintf("%s count %d, min %s, max %s", head, r.GetCount(), f.Decode(r.GetMin()), f.Decode(r.GetMax()))
	}
	realSum := f.RealSum(sum, r.GetCount())
	out := fmt.Sprintf("%s count %d, sum %s, min %s, max %s", head, r.GetCount(), realSum, f.Decode(r.GetMin()), f.Decode(r.GetMax()))
	if q, ok := new(big.Rat).SetString(realSum); ok {
		out += ", average " + new(big.Rat).Quo(q, new(big.Rat).SetUint64(r.GetCount())).FloatString(f.Scale+2)
	}
	return out
}
