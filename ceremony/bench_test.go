package ceremony

import (
	"os"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/logger"
	"github.com/zkshare/zkshare/ceremony/ceremonytest"
	"github.com/zkshare/zkshare/keys"
)

// The benchmarks run over the toy circuit and subject (2^14), or over the
// circuits ZKSHARE_BENCH_CIRCUITS lists (comma-separated: toy, small, or
// any of keys.Circuits). Phase 2 of subject needs an initialisation of
// about 35 s before its first iteration, and phase 1 of a 2^20 circuit
// (aggregate) minutes:
//
//	go test ./ceremony -run - -bench . -benchtime 3x
//	ZKSHARE_BENCH_CIRCUITS=exists,absent go test ./ceremony -run - -bench Phase2 -benchtime 3x
func benchCircuits() []string {
	if s := os.Getenv("ZKSHARE_BENCH_CIRCUITS"); s != "" {
		return strings.Split(s, ",")
	}
	return []string{"toy", "subject"}
}

func benchCompile(b *testing.B, name string) (*cs.R1CS, uint64) {
	b.Helper()
	logger.Disable()
	var (
		ccs any
		err error
	)
	if mk, ok := ceremonytest.Circuits()[name]; ok {
		ccs, _, err = keys.CompileCircuit(mk())
	} else {
		ccs, _, err = keys.Compile(name)
	}
	if err != nil {
		b.Fatal(err)
	}
	r := ccs.(*cs.R1CS)
	return r, max(2, ecc.NextPowerOfTwo(uint64(r.GetNbConstraints())))
}

// phase1After is a phase-1 state of size n after one contribution,
// encoded; its predecessor is mpcsetup.NewPhase1(n).
func phase1After(b *testing.B, n uint64) []byte {
	b.Helper()
	p := mpcsetup.NewPhase1(n)
	p.Contribute()
	next, err := encode(p)
	if err != nil {
		b.Fatal(err)
	}
	return next
}

func BenchmarkPhase1Contribute(b *testing.B) {
	for _, name := range benchCircuits() {
		b.Run(name, func(b *testing.B) {
			_, n := benchCompile(b, name)
			state := phase1After(b, n)
			b.SetBytes(int64(len(state)))
			for b.Loop() {
				p, err := decodePhase1(state, n)
				if err != nil {
					b.Fatal(err)
				}
				p.Contribute()
				if _, err := encode(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPhase1Verify(b *testing.B) {
	for _, name := range benchCircuits() {
		b.Run(name, func(b *testing.B) {
			_, n := benchCompile(b, name)
			nextB := phase1After(b, n)
			initial := mpcsetup.NewPhase1(n)
			b.SetBytes(int64(len(nextB)))
			for b.Loop() {
				next, err := decodePhase1(nextB, n)
				if err != nil {
					b.Fatal(err)
				}
				if err := initial.Verify(next); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// phase2Initial is a circuit's initial phase-2 state (after a sealed phase
// 1 of one contribution) with its limits.
func phase2Initial(b *testing.B, name string) (*mpcsetup.Phase2, phase2Limits) {
	b.Helper()
	r, n := benchCompile(b, name)
	p1 := mpcsetup.NewPhase1(n)
	p1.Contribute()
	commons := p1.Seal([]byte("bench"))
	p := new(mpcsetup.Phase2)
	p.Initialize(r, &commons)
	return p, limitsOf(r, n)
}

func BenchmarkPhase2Contribute(b *testing.B) {
	for _, name := range benchCircuits() {
		b.Run(name, func(b *testing.B) {
			initial, _ := phase2Initial(b, name)
			for b.Loop() {
				p, err := clonePhase2(initial)
				if err != nil {
					b.Fatal(err)
				}
				p.Contribute()
				if _, err := encode(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPhase2Verify(b *testing.B) {
	for _, name := range benchCircuits() {
		b.Run(name, func(b *testing.B) {
			initial, lim := phase2Initial(b, name)
			p, err := clonePhase2(initial)
			if err != nil {
				b.Fatal(err)
			}
			p.Contribute()
			state, err := encode(p)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(state)))
			for b.Loop() {
				next, err := decodePhase2(state, lim)
				if err != nil {
					b.Fatal(err)
				}
				if err := initial.Verify(next); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPhase1Seal is the seal between the phases, in the first
// phase-2 contribution, Verify and Finalize.
func BenchmarkPhase1Seal(b *testing.B) {
	for _, name := range benchCircuits() {
		b.Run(name, func(b *testing.B) {
			_, n := benchCompile(b, name)
			state := phase1After(b, n)
			for b.Loop() {
				p, err := decodePhase1(state, n)
				if err != nil {
					b.Fatal(err)
				}
				p.Seal([]byte("bench"))
			}
		})
	}
}

// BenchmarkPhase2Initialize is a circuit's phase-2 start, in the first
// two phase-2 contributions, Verify and Finalize: the longest step.
func BenchmarkPhase2Initialize(b *testing.B) {
	for _, name := range benchCircuits() {
		b.Run(name, func(b *testing.B) {
			r, n := benchCompile(b, name)
			p1 := mpcsetup.NewPhase1(n)
			p1.Contribute()
			commons := p1.Seal([]byte("bench"))
			for b.Loop() {
				new(mpcsetup.Phase2).Initialize(r, &commons)
			}
		})
	}
}

// BenchmarkPhase2Seal is Finalize's work per circuit, besides verifying:
// the seal with the beacon, and the keys' encoding.
func BenchmarkPhase2Seal(b *testing.B) {
	for _, name := range benchCircuits() {
		b.Run(name, func(b *testing.B) {
			r, n := benchCompile(b, name)
			p1 := mpcsetup.NewPhase1(n)
			p1.Contribute()
			commons := p1.Seal([]byte("bench"))
			cst := &circuitStart{r1cs: r, limits: limitsOf(r, n), commons: &commons, initial: new(mpcsetup.Phase2)}
			cst.evals = cst.initial.Initialize(r, &commons)
			p, err := clonePhase2(cst.initial)
			if err != nil {
				b.Fatal(err)
			}
			p.Contribute()
			last, err := encode(p)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, _, _, err := seal(cst, last, []byte("beacon")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
