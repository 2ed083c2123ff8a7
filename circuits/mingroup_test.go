package circuits_test

import (
	"math"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/test"
	"github.com/zkshare/zkshare/circuits"
)

// Two chunks' partial results: 3 records in all, values 5, 10 and 20.
var (
	mgParts  = []circuits.AggResult{{Count: 2, Sum: el(30), Min: 10, Max: 20}, {Count: 1, Sum: el(5), Min: 5, Max: 5}}
	mgBlinds = []fr.Element{el(71), el(72)}
	mgNonce  = el(0x5eed)
)

func solved(c frontend.Circuit, a frontend.Circuit, opts ...test.TestEngineOption) bool {
	return test.IsSolved(c, a, ecc.BN254.ScalarField(), opts...) == nil
}

// TestAggregateMinGroup: the combined result is revealed when at least
// MinGroup records matched, and otherwise only Small = 1 with zero values;
// the holder can neither claim small for a large group nor reveal a small
// one.
func TestAggregateMinGroup(t *testing.T) {
	empty := []circuits.AggResult{{Min: math.MaxUint64}}
	for _, tc := range []struct {
		name  string
		parts []circuits.AggResult
		k     uint64
		small bool
	}{
		{"k 0", mgParts, 0, false},
		{"k 1", mgParts, 1, false},
		{"k = count", mgParts, 3, false},
		{"k = count+1", mgParts, 4, true},
		{"k large", mgParts, 1<<circuits.MinGroupBits - 1, true},
		{"empty, k 0", empty, 0, false},
		{"empty, k 1", empty, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blinds := mgBlinds[:len(tc.parts)]
			mk := func() *circuits.AggregateTotal {
				a, _, _, err := circuits.AggregateTotalAssignment(4, tc.parts, blinds, tc.k, mgNonce)
				if err != nil {
					t.Fatal(err)
				}
				return a
			}
			a, res, small, err := circuits.AggregateTotalAssignment(4, tc.parts, blinds, tc.k, mgNonce)
			if err != nil {
				t.Fatal(err)
			}
			combined := circuits.Combine(tc.parts)
			if small != tc.small {
				t.Fatalf("small %v, want %v", small, tc.small)
			}
			if small && (res.Count != 0 || !res.Sum.IsZero() || res.Min != 0 || res.Max != 0) {
				t.Fatalf("small result shows %+v", res)
			}
			if !small && (res.Count != combined.Count || res.Min != combined.Min || res.Max != combined.Max || !res.Sum.Equal(&combined.Sum)) {
				t.Fatalf("revealed %+v, want %+v", res, combined)
			}
			if !solved(circuits.NewAggregateTotal(4), a) {
				t.Fatal("valid witness not solved")
			}
			reveal := func(b *circuits.AggregateTotal) {
				b.Small, b.Count, b.Sum, b.Min, b.Max = 0, combined.Count, combined.Sum, combined.Min, combined.Max
			}
			hide := func(b *circuits.AggregateTotal) { b.Small, b.Count, b.Sum, b.Min, b.Max = 1, 0, 0, 0, 0 }
			cases := map[string]func(b *circuits.AggregateTotal){
				"flipped small":   func(b *circuits.AggregateTotal) { b.Small = 1 - b.Small.(int) },
				"small not a bit": func(b *circuits.AggregateTotal) { b.Small = 2 },
				"other count":     func(b *circuits.AggregateTotal) { b.Count = combined.Count + 1 },
				"other sum":       func(b *circuits.AggregateTotal) { b.Sum = 7 },
				"other min":       func(b *circuits.AggregateTotal) { b.Min = 6 },
				"other max":       func(b *circuits.AggregateTotal) { b.Max = 1 },
				"other min group": func(b *circuits.AggregateTotal) { b.MinGroup = flipGroup(tc.k, combined.Count) },
				"min group 2^32":  func(b *circuits.AggregateTotal) { b.MinGroup = uint64(1) << 32 },
				"min group negative": func(b *circuits.AggregateTotal) {
					b.MinGroup = new(big.Int).Sub(ecc.BN254.ScalarField(), big.NewInt(1))
				},
				"small, real values": func(b *circuits.AggregateTotal) { reveal(b); b.Small = 1 },
				"large, zero values": func(b *circuits.AggregateTotal) { hide(b); b.Small = 0 },
				"reveal the opposite": func(b *circuits.AggregateTotal) {
					map[bool]func(*circuits.AggregateTotal){true: reveal, false: hide}[tc.small](b)
				},
			}
			for name, mod := range cases {
				b := mk()
				mod(b)
				if solved(circuits.NewAggregateTotal(4), b) {
					t.Errorf("%s: solved", name)
				}
			}
		})
	}
	if _, _, _, err := circuits.AggregateTotalAssignment(4, mgParts, mgBlinds, 1<<circuits.MinGroupBits, mgNonce); err == nil {
		t.Fatal("a minimum group of 2^32 was accepted")
	}
}

// flipGroup is a minimum group size on the other side of count.
func flipGroup(k, count uint64) uint64 {
	if k <= count {
		return count + 1
	}
	return count
}

// TestAggregateMinGroupHint: a lying comparison hint cannot turn a large
// group small or a small group large.
func TestAggregateMinGroupHint(t *testing.T) {
	for _, tc := range []struct {
		k   uint64
		lie uint64 // what the hint claims for k <= count
	}{{3, 0}, {4, 1}, {0, 0}} {
		a, _, small, _ := circuits.AggregateTotalAssignment(4, mgParts, mgBlinds, tc.k, mgNonce)
		combined := circuits.Combine(mgParts)
		if small {
			a.Small, a.Count, a.Sum, a.Min, a.Max = 0, combined.Count, combined.Sum, combined.Min, combined.Max
		} else {
			a.Small, a.Count, a.Sum, a.Min, a.Max = 1, 0, 0, 0, 0
		}
		// The liar answers the group comparison (k <= 3) wrongly, every
		// other comparison (min and max) truly.
		liar := func(_ *big.Int, in, out []*big.Int) error {
			if in[0].Uint64() == tc.k && in[1].Uint64() == combined.Count {
				out[0].SetUint64(tc.lie)
				return nil
			}
			return circuits.LessOrEqualHint(nil, in, out)
		}
		honest, _, _, _ := circuits.AggregateTotalAssignment(4, mgParts, mgBlinds, tc.k, mgNonce)
		if !solved(circuits.NewAggregateTotal(4), honest, test.WithReplacementHint(circuits.SolverIDForTest(), circuits.LessOrEqualHint)) {
			t.Fatal("control: the honest witness does not solve")
		}
		if solved(circuits.NewAggregateTotal(4), a, test.WithReplacementHint(circuits.SolverIDForTest(), liar)) {
			t.Errorf("k %d: a lying hint flipped small to %v", tc.k, !small)
		}
	}
}

// TestGroth16AggregateNonce proves the combining circuits for real: a proof
// for nonce n does not verify for another nonce (nor for another minimum
// group or small flag), because each is in a constraint.
func TestGroth16AggregateNonce(t *testing.T) {
	if testing.Short() {
		t.Skip("Groth16 setup and proving are slow")
	}
	roundTrip := func(t *testing.T, shape, a frontend.Circuit, public func(mod func(frontend.Circuit)) frontend.Circuit, mods map[string]func(frontend.Circuit)) {
		cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, shape)
		if err != nil {
			t.Fatal(err)
		}
		pk, vk, err := groth16.Setup(cs)
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
		verify := func(mod func(frontend.Circuit)) error {
			pw, err := frontend.NewWitness(public(mod), ecc.BN254.ScalarField(), frontend.PublicOnly())
			if err != nil {
				t.Fatal(err)
			}
			return groth16.Verify(proof, vk, pw)
		}
		if err := verify(func(frontend.Circuit) {}); err != nil {
			t.Fatalf("valid proof rejected: %v", err)
		}
		for name, mod := range mods {
			if verify(mod) == nil {
				t.Errorf("proof verified with %s", name)
			}
		}
	}
	t.Run("total", func(t *testing.T) {
		a, _, _, err := circuits.AggregateTotalAssignment(2, mgParts, mgBlinds, 2, mgNonce)
		if err != nil {
			t.Fatal(err)
		}
		public := func(mod func(frontend.Circuit)) frontend.Circuit {
			p := circuits.NewAggregateTotal(2)
			copy(p.Partials, a.Partials)
			p.Count, p.Sum, p.Min, p.Max, p.MinGroup, p.Small, p.Nonce = a.Count, a.Sum, a.Min, a.Max, a.MinGroup, a.Small, a.Nonce
			mod(p)
			return p
		}
		roundTrip(t, circuits.NewAggregateTotal(2), a, public, map[string]func(frontend.Circuit){
			"another nonce":     func(c frontend.Circuit) { c.(*circuits.AggregateTotal).Nonce = el(0x5eee) },
			"a zero nonce":      func(c frontend.Circuit) { c.(*circuits.AggregateTotal).Nonce = 0 },
			"another min group": func(c frontend.Circuit) { c.(*circuits.AggregateTotal).MinGroup = 4 },
			"small":             func(c frontend.Circuit) { c.(*circuits.AggregateTotal).Small = 1 },
			"another count":     func(c frontend.Circuit) { c.(*circuits.AggregateTotal).Count = 2 },
		})
	})
	t.Run("threshold", func(t *testing.T) {
		a, _, err := circuits.AggregateThresholdAssignment(2, mgParts, mgBlinds, circuits.AggMax, circuits.RelLE, big.NewInt(20), 0, mgNonce)
		if err != nil {
			t.Fatal(err)
		}
		public := func(mod func(frontend.Circuit)) frontend.Circuit {
			p := circuits.NewAggregateThreshold(2)
			copy(p.Partials, a.Partials)
			p.Which, p.Relation, p.Threshold, p.Offset, p.Holds, p.Nonce = a.Which, a.Relation, a.Threshold, a.Offset, a.Holds, a.Nonce
			mod(p)
			return p
		}
		roundTrip(t, circuits.NewAggregateThreshold(2), a, public, map[string]func(frontend.Circuit){
			"another nonce": func(c frontend.Circuit) { c.(*circuits.AggregateThreshold).Nonce = el(0x5eee) },
			"a zero nonce":  func(c frontend.Circuit) { c.(*circuits.AggregateThreshold).Nonce = 0 },
			"flipped holds": func(c frontend.Circuit) { c.(*circuits.AggregateThreshold).Holds = 0 },
		})
	})
}
