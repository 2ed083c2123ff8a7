package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/console"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/service"
	"github.com/zkshare/zkshare/verifier"
)

type sample struct {
	Kind     string `json:"kind"`
	Subject  string `json:"subject"`
	Query    string `json:"query"`
	Expected bool   `json:"expected"`
}

// cmdDemo runs the whole flow on a dataset through a real node: keys, a
// node on loopback over a fresh data directory, the holder creating the
// collection and committing the records over Connect (anchored on the
// ledger), a consumer asking every sample question, and a third party
// verifying each bundle against the ledger.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	f := newFlags("demo", stderr)
	dataset := f.String("dataset", "testdata/benefits", "directory with schema.json, records.csv and queries.json")
	keyDir := f.String("keys", envOr("ZKSHARE_KEYS", ""), "key directory (default: a temporary one)")
	supplier := f.String("supplier", "", "also run the supplier scenario on this cold-chain dataset (schema.json, shipments.csv)")
	shipments := f.Int("shipments", 4096, "shipments of the supplier dataset its sensors sign, one reading each (aggregates prove about 250 a second)")
	keep := f.Bool("console", false, "after the run, keep the node serving its web console (the URL and the holder's token are printed) until interrupted")
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	tmp, err := os.MkdirTemp("", "zkshare-demo-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()
	if *keyDir == "" {
		*keyDir = filepath.Join(tmp, "keys")
	}

	fprintln(stderr, "1. keys: Groth16 setup (development, single-party: never for production)")
	names := keys.Core
	if *supplier != "" {
		names = append(append([]string{}, keys.Core...), keys.Aggregates...)
	}
	m, err := keys.Setup(ctx, *keyDir, e.log, func(c, step string) { fprintf(stderr, "   %-19s %s\n", c, step) }, names...)
	if err != nil {
		return err
	}

	// A node on loopback: ledger, holder and verifier services on one port.
	data := filepath.Join(tmp, "node")
	srv, err := service.New(ctx, service.Config{Data: data, Keys: *keyDir, Log: e.log})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.Close()) }()
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- service.Serve(sctx, service.NewHTTPServer(srv.Handler(), e.log), ln, 5*time.Second) }()
	defer func() {
		stop()
		err = errors.Join(err, <-served)
	}()
	url := "http://" + ln.Addr().String()
	fprintf(stderr, "2. node: serving on %s (data in %s)\n", url, data)

	token := func(id string) (string, error) {
		b, err := os.ReadFile(node.TokenPath(data, id))
		return strings.TrimSpace(string(b)), err
	}
	adminTok, err := token(node.AdminID)
	if err != nil {
		return err
	}
	holderTok, err := token(node.HolderID)
	if err != nil {
		return err
	}
	admin, err := client.New(url, client.WithToken(adminTok))
	if err != nil {
		return err
	}
	holderClient, err := client.New(url, client.WithToken(holderTok))
	if err != nil {
		return err
	}

	bank, err := ledger.NewIdentity("bank")
	if err != nil {
		return err
	}
	reg, err := admin.RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: bank.ID, Role: zkv1.Role_ROLE_CONSUMER, PublicKey: bank.Public()})
	if err != nil {
		return err
	}
	fprintln(stderr, "3. admin: registered consumer \"bank\" on the ledger; the holder's policy lets it ask subject, exists and absent questions")

	schemaRaw, err := os.ReadFile(filepath.Join(*dataset, "schema.json"))
	if err != nil {
		return err
	}
	sc, err := records.ParseSchema(schemaRaw)
	if err != nil {
		return err
	}
	created, err := holderClient.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: schemaRaw})
	if err != nil {
		return err
	}
	// The ledger names it HOLDER/NAME; a third party pins that full name.
	fullName := created.GetCollection().GetName()
	err = holderClient.SetPolicy(ctx, sc.Name, &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{
		Consumer: bank.ID, Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT, zkv1.StatementKind_STATEMENT_KIND_EXISTS,
			zkv1.StatementKind_STATEMENT_KIND_ABSENT}, RatePerMinute: 600}}})
	if err != nil {
		return err
	}
	recs, err := readRecords(sc, filepath.Join(*dataset, "records.csv"))
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := holderClient.Commit(ctx, sc.Name, slices.Values(recs))
	if err != nil {
		return err
	}
	fprintf(stderr, "4. holder: committed %d records to %s over Connect in %s; root %.8x… anchored at ledger height %d\n",
		res.GetRecordCount(), fullName, time.Since(start).Round(time.Millisecond), res.GetRoot(), res.GetAnchorHeight())

	var samples []sample
	raw, err := os.ReadFile(filepath.Join(*dataset, "queries.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &samples); err != nil {
		return fmt.Errorf("queries.json: %w", err)
	}
	consumer, err := client.New(url, client.WithToken(reg.GetToken()))
	if err != nil {
		return err
	}
	// The third party needs no account: it reads the ledger and verifies
	// in its own process, with the verifying keys it pinned.
	third, err := client.New(url, client.WithKeyDir(*keyDir))
	if err != nil {
		return err
	}
	fprintln(stderr, "5. the bank asks, the holder proves, a third party verifies against the ledger:")
	fprintln(stderr)
	tw := newTable(stdout)
	fprintln(tw, "statement\tquery\tanswer\tconstraints\tprove ms\tverify ms\tproof bytes\tverified\texpected")
	mismatches := 0
	for _, s := range samples {
		nonce, err := prover.NewNonce()
		if err != nil {
			return err
		}
		nb := nonce.Bytes()
		label, kind := "exists", zkv1.StatementKind_STATEMENT_KIND_EXISTS
		if s.Kind == "subject" {
			label, kind = "subject "+s.Subject, zkv1.StatementKind_STATEMENT_KIND_SUBJECT
		}
		constraints := m.Circuits[s.Kind].Constraints
		t0 := time.Now()
		req := &zkv1.ProveRequest{Collection: sc.Name, Kind: kind, Subject: s.Subject, Query: s.Query, Nonce: nb[:]}
		if s.Subject != "" {
			blind, err := prover.NewNonce() // the bank's secret: the bundle names the citizen to it alone
			if err != nil {
				return err
			}
			bb := blind.Bytes()
			req.Blind = bb[:]
		}
		pr, err := consumer.Prove(ctx, req)
		proveMS := time.Since(t0).Milliseconds()
		if connect.CodeOf(err) == connect.CodeFailedPrecondition && s.Kind == "exists" {
			ok := !s.Expected
			if !ok {
				mismatches++
			}
			fprintf(tw, "%s\t%s\tno record: not provable\t%d\t-\t-\t-\t-\t%s\n", label, s.Query, constraints, mark(ok))
			continue
		}
		if err != nil {
			return fmt.Errorf("%s %q: %w", label, s.Query, err)
		}
		t1 := time.Now()
		// The third party pins the question the bank asked.
		exp := verifier.Expect{Kind: kind, Collection: fullName, Query: s.Query, Subject: s.Subject, Nonce: &nonce}
		if s.Subject != "" {
			exp.Blind = elementOf(req.GetBlind())
		}
		v, err := third.Verify(ctx, pr.GetBundle(), exp)
		if err != nil {
			return err
		}
		verifyMS := float64(time.Since(t1).Microseconds()) / 1000
		ok := v.Valid && pr.GetBundle().GetResult() == s.Expected
		if !ok {
			mismatches++
		}
		fprintf(tw, "%s\t%s\t%v\t%d\t%d\t%.1f\t%d\t%v\t%s\n", label, s.Query, pr.GetBundle().GetResult(), constraints, proveMS, verifyMS, len(pr.GetBundle().GetProof()), v.Valid, mark(ok))
	}
	// Non-membership: C10001 was never enrolled (the dataset stops at
	// C10000), C00005 was; the expected answers come from the records.
	enrolled := make(map[string]bool, len(recs))
	for _, r := range recs {
		enrolled[r.Key] = true
	}
	for _, key := range []string{"C10001", "C00005"} {
		ok, err := demoAbsent(ctx, consumer, third, sc.Name, fullName, key, !enrolled[key], m.Circuits["absent"].Constraints, tw)
		if err != nil {
			return err
		}
		if !ok {
			mismatches++
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if mismatches > 0 {
		return fmt.Errorf("demo: %d answers differ from the expected ones", mismatches)
	}
	if err := srv.Ledger().Verify(ctx, nil); err != nil {
		return err
	}
	if *supplier != "" {
		d := demoNode{url: url, third: third, adminTok: adminTok, holderTok: holderTok}
		if err := demoSupplier(ctx, d, *supplier, *shipments, stdout, stderr); err != nil {
			return err
		}
		if err := srv.Ledger().Verify(ctx, nil); err != nil {
			return err
		}
	}
	fprintf(stderr, "\nall answers match the datasets' expected answers; the ledger (%d blocks, every proof audited) verifies\n", srv.Ledger().Head().Height)
	if *keep {
		fprintf(stderr, "\nweb console: %s%s (sign in with the holder's token: %s)\nCtrl-C stops the node and removes its data\n", url, console.Prefix, holderTok)
		<-ctx.Done()
	}
	return nil
}

// demoAbsent has the bank ask that key has no live record, and the third
// party verify the answer with the key and blind the bank asked with (the
// bank shares them with it). A key that has a record cannot be proven
// absent: the node refuses, naming neither key nor value. It reports
// whether the outcome is the expected one.
func demoAbsent(ctx context.Context, consumer, third *client.Client, name, fullName, key string, absent bool, constraints int, tw io.Writer) (bool, error) {
	nonce, err := prover.NewNonce()
	if err != nil {
		return false, err
	}
	blind, err := prover.NewNonce() // the bank's secret: the bundle names the key to it alone
	if err != nil {
		return false, err
	}
	nb, bb := nonce.Bytes(), blind.Bytes()
	label := "absent " + key
	t0 := time.Now()
	pr, err := consumer.Prove(ctx, &zkv1.ProveRequest{Collection: name, Kind: zkv1.StatementKind_STATEMENT_KIND_ABSENT, Subject: key, Nonce: nb[:], Blind: bb[:]})
	proveMS := time.Since(t0).Milliseconds()
	if connect.CodeOf(err) == connect.CodeFailedPrecondition {
		fprintf(tw, "%s\t-\thas a record: not provable\t%d\t-\t-\t-\t-\t%s\n", label, constraints, mark(!absent))
		return !absent, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", label, err)
	}
	t1 := time.Now()
	v, err := third.Verify(ctx, pr.GetBundle(), verifier.Expect{Kind: zkv1.StatementKind_STATEMENT_KIND_ABSENT, Collection: fullName, Subject: key, Blind: &blind, Nonce: &nonce})
	if err != nil {
		return false, err
	}
	verifyMS := float64(time.Since(t1).Microseconds()) / 1000
	ok := v.Valid && absent
	fprintf(tw, "%s\t-\tno record\t%d\t%d\t%.1f\t%d\t%v\t%s\n", label, constraints, proveMS, verifyMS, len(pr.GetBundle().GetProof()), v.Valid, mark(ok))
	return ok, nil
}

// elementOf reads a 32-byte big-endian scalar, as nonces and blinds travel.
func elementOf(b []byte) *fr.Element {
	var e fr.Element
	e.SetBytes(b)
	return &e
}

func mark(ok bool) string {
	if ok {
		return "match"
	}
	return "MISMATCH"
}
