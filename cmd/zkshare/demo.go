package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
)

type sample struct {
	Kind     string `json:"kind"`
	Subject  string `json:"subject"`
	Query    string `json:"query"`
	Expected bool   `json:"expected"`
}

// cmdDemo runs the whole local flow on a dataset: keys, a collection in a
// fresh embedded store, a commit, then every sample query proven and
// verified by a verifier that holds only the pinned verifying keys.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("demo", stderr)
	dataset := f.String("dataset", "testdata/benefits", "directory with schema.json, records.csv and queries.json")
	keyDir := f.String("keys", envOr("ZKSHARE_KEYS", ""), "key directory (default: a temporary one)")
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	tmp, err := os.MkdirTemp("", "zkshare-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if *keyDir == "" {
		*keyDir = filepath.Join(tmp, "keys")
	}

	fmt.Fprintln(stderr, "1. keys: Groth16 setup (development, single-party: never for production)")
	if _, err := keys.Setup(ctx, *keyDir, e.log, func(c, step string) { fmt.Fprintf(stderr, "   %-8s %s\n", c, step) }); err != nil {
		return err
	}

	sc, err := records.LoadSchema(filepath.Join(*dataset, "schema.json"))
	if err != nil {
		return err
	}
	st, err := holder.Open(filepath.Join(tmp, "holder"), e.log)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.CreateCollection(ctx, sc.Name, sc); err != nil {
		return err
	}
	recs, err := readRecords(sc, filepath.Join(*dataset, "records.csv"))
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := st.Commit(ctx, sc.Name, recs, progress(stderr))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "2. holder: committed %d records to %s in %s, root %.16s…\n", res.Count, sc.Name, time.Since(start).Round(time.Millisecond), records.ElementHex(res.Root))

	var samples []sample
	raw, err := os.ReadFile(filepath.Join(*dataset, "queries.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &samples); err != nil {
		return fmt.Errorf("queries.json: %w", err)
	}
	p, err := prover.New(st, *keyDir, prover.WithLogger(e.log))
	if err != nil {
		return err
	}
	v, err := verifier.FromDir(*keyDir)
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "3. consumer asks, holder proves, a third party verifies:")
	fmt.Fprintln(stderr)
	tw := newTable(stdout)
	fmt.Fprintln(tw, "statement\tquery\tanswer\tconstraints\tprove ms\tverify ms\tproof bytes\tverified\texpected")
	mismatches := 0
	for _, s := range samples {
		nonce, err := prover.NewNonce()
		if err != nil {
			return err
		}
		label := "exists"
		if s.Kind == bundle.KindSubject {
			label = "subject " + s.Subject
		}
		t0 := time.Now()
		b, err := p.Prove(ctx, prover.Request{Collection: sc.Name, Kind: s.Kind, Subject: s.Subject, Query: s.Query, Nonce: nonce})
		proveMS := time.Since(t0).Milliseconds()
		if errors.Is(err, prover.ErrNoWitness) {
			ok := !s.Expected
			if !ok {
				mismatches++
			}
			fmt.Fprintf(tw, "%s\t%s\tno record: not provable\t%d\t-\t-\t-\t-\t%s\n", label, s.Query, p.Constraints(s.Kind), mark(ok))
			continue
		}
		if err != nil {
			return fmt.Errorf("%s %q: %w", label, s.Query, err)
		}
		data, _ := b.Marshal()
		t1 := time.Now()
		verdict := v.VerifyBytes(data, verifier.Expect{Nonce: &nonce, Subject: s.Subject})
		verifyMS := float64(time.Since(t1).Microseconds()) / 1000
		ok := verdict.Valid && b.Result == s.Expected
		if !ok {
			mismatches++
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%d\t%.1f\t%d\t%v\t%s\n", label, s.Query, b.Result, p.Constraints(s.Kind), proveMS, verifyMS, len(b.Proof), verdict.Valid, mark(ok))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if mismatches > 0 {
		return fmt.Errorf("demo: %d answers differ from the expected ones", mismatches)
	}
	fmt.Fprintln(stderr, "\nall answers match the dataset's expected answers")
	return nil
}

func mark(ok bool) string {
	if ok {
		return "match"
	}
	return "MISMATCH"
}
