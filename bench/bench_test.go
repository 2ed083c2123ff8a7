// Package bench holds the end-to-end benchmarks of the proof engine:
// proving, verifying and key loading on the benefits dataset.
package bench

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/internal/logging"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
)

type env struct {
	keyDir string
	store  *holder.Store
	prover *prover.Prover
}

var (
	once   sync.Once
	shared *env
	errEnv error
)

func setup(b *testing.B) *env {
	once.Do(func() {
		logging.QuietGnark(nil)
		dir, err := os.MkdirTemp("", "zkshare-bench")
		if err != nil {
			errEnv = err
			return
		}
		// ZKSHARE_BENCH_KEYS names a key directory to measure (ceremony
		// keys against development ones, say); by default a fresh setup.
		keyDir := os.Getenv("ZKSHARE_BENCH_KEYS")
		if keyDir == "" {
			keyDir = filepath.Join(dir, "keys")
			if _, err = keys.Setup(context.Background(), keyDir, nil, nil); err != nil {
				errEnv = err
				return
			}
		}
		sc, err := records.LoadSchema("../testdata/benefits/schema.json")
		if err != nil {
			errEnv = err
			return
		}
		f, err := os.Open("../testdata/benefits/records.csv")
		if err != nil {
			errEnv = err
			return
		}
		defer f.Close()
		recs, err := sc.ReadCSV(f)
		if err != nil {
			errEnv = err
			return
		}
		st, err := holder.Open(filepath.Join(dir, "holder"), nil)
		if err != nil {
			errEnv = err
			return
		}
		st.CreateCollection(context.Background(), "benefits", sc)
		if _, err = st.Commit(context.Background(), "benefits", recs, nil); err != nil {
			errEnv = err
			return
		}
		p, err := prover.New(st, keyDir)
		if err != nil {
			errEnv = err
			return
		}
		shared = &env{keyDir: keyDir, store: st, prover: p}
	})
	if errEnv != nil {
		b.Fatal(errEnv)
	}
	return shared
}

const eligibility = `income <= 30000 AND age >= 65 AND region in ("north","east") AND status != "suspended"`

func benchProve(b *testing.B, req prover.Request) {
	e := setup(b)
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		nonce, _ := prover.NewNonce()
		req.Nonce = nonce
		t0 := time.Now()
		if _, err := e.prover.Prove(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(e.prover.Constraints(bundle.KindCircuit(req.Kind))), "constraints")
}

func BenchmarkProveSubject(b *testing.B) {
	benchProve(b, prover.Request{Collection: "benefits", Kind: bundle.KindSubject, Subject: "C00042", Query: eligibility})
}

func BenchmarkProveExists(b *testing.B) {
	benchProve(b, prover.Request{Collection: "benefits", Kind: bundle.KindExists, Query: `age >= 90 AND income < 5000`})
}

func BenchmarkProveAbsent(b *testing.B) {
	var blind fr.Element
	blind.SetUint64(0xb11d)
	benchProve(b, prover.Request{Collection: "benefits", Kind: bundle.KindAbsent, Subject: "C99999", Blind: blind})
}

func BenchmarkVerify(b *testing.B) {
	e := setup(b)
	nonce, _ := prover.NewNonce()
	var blind fr.Element
	blind.SetUint64(0xb11d)
	pb, err := e.prover.Prove(context.Background(), prover.Request{Collection: "benefits", Kind: bundle.KindSubject, Subject: "C00042", Query: eligibility, Nonce: nonce, Blind: blind})
	if err != nil {
		b.Fatal(err)
	}
	v, err := verifier.FromDir(e.keyDir)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		// No ledger: every check after the ledger's runs, then NOT ANCHORED.
		if verdict := v.Verify(context.Background(), nil, pb, verifier.Expect{Nonce: &nonce, Subject: "C00042", Blind: &blind}, verifier.Options{}); verdict.Reason != verifier.ErrUnanchored.Error() {
			b.Fatal(verdict.Err())
		}
	}
	b.ReportMetric(float64(e.prover.Constraints(zkv1.Circuit_CIRCUIT_SUBJECT)), "constraints")
}

func BenchmarkLoadProvingKey(b *testing.B) {
	e := setup(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := keys.LoadProving(e.keyDir, "subject"); err != nil {
			b.Fatal(err)
		}
	}
}
