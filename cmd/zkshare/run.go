package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/internal/logging"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
)

var errUsage = errors.New("usage")

type env struct {
	log *slog.Logger
}

// flags is a subcommand's flag set with the common logging flags.
type flags struct {
	*flag.FlagSet
	level, format *string
	stderr        io.Writer
}

func newFlags(name string, stderr io.Writer) *flags {
	fs := flag.NewFlagSet("zkshare "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		if c, _, ok := lookup(strings.Fields(name)); ok {
			writeCommandUsage(stderr, c)
		}
		fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	return &flags{FlagSet: fs, stderr: stderr,
		level:  fs.String("log-level", envOr("ZKSHARE_LOG_LEVEL", "warn"), "log level"),
		format: fs.String("log-format", envOr("ZKSHARE_LOG_FORMAT", "text"), "log format: text or json")}
}

func (f *flags) parse(args []string) (*env, error) {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*f.level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch *f.format {
	case "text":
		h = slog.NewTextHandler(f.stderr, opts)
	case "json":
		h = slog.NewJSONHandler(f.stderr, opts)
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", *f.format)
	}
	l := slog.New(h)
	logging.QuietGnark(l)
	return &env{log: l}, nil
}

var errHelp = errors.New("help shown")

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// progress prints a one-line progress indicator when stderr is a terminal.
func progress(w io.Writer) func(phase string, done, total int) {
	if !isTerminal(w) {
		return func(string, int, int) {}
	}
	return func(phase string, done, total int) {
		fprintf(w, "\r%-6s %3d%% (%d/%d)   ", phase, done*100/max(total, 1), done, total)
		if done >= total {
			fprintln(w)
		}
	}
}

// isTerminal says whether w is a terminal: progress goes there, never into
// a log file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func cmdKeysSetup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("keys setup", stderr)
	dir := f.String("keys", envOr("ZKSHARE_KEYS", "keys.d"), "key directory")
	aggregate := f.Bool("aggregate", false, "also make the aggregate circuits' keys (most of a minute)")
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	names := keys.Core
	if *aggregate {
		names = append(append([]string{}, keys.Core...), keys.Aggregates...)
	}
	fprintln(stderr, "WARNING: development setup (single-party Groth16). Whoever holds this machine's randomness could forge proofs; use ceremony keys in production.")
	start := time.Now()
	m, err := keys.Setup(ctx, *dir, e.log, func(c, step string) { fprintf(stderr, "  %-8s %s\n", c, step) }, names...)
	if err != nil {
		return err
	}
	for _, n := range keys.Names() {
		c, ok := m.Circuits[n]
		if !ok {
			continue
		}
		fprintf(stdout, "%-8s constraints=%d circuit_id=%.16s vk_sha256=%.16s setup=%s\n", n, c.Constraints, c.CircuitID, c.VKSHA256, c.Setup)
	}
	fprintf(stderr, "keys in %s (%s)\n", *dir, time.Since(start).Round(time.Millisecond))
	return nil
}

func cmdCollectionCreate(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	f := newFlags("collection create", stderr)
	data := f.String("data", envOr("ZKSHARE_DATA", "zkshare.d"), "holder data directory")
	storeKeyFile := storeKeyFlag(f)
	schemaPath := f.String("schema", "", "schema JSON file")
	name := f.String("name", "", "collection name (default: the schema's name)")
	deviceFed := f.Bool("device-fed", false, "with --server: the ledger builds its tree from signed device readings (`zkshare device`), never from commits")
	r := remoteFlags(f)
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if *schemaPath == "" {
		return errors.New("collection create: --schema is required")
	}
	if r.on() {
		return remoteCollectionCreate(ctx, r, *schemaPath, *name, *deviceFed, stdout)
	}
	if *deviceFed {
		return errors.New("collection create: --device-fed needs --server (the ledger builds such a collection's tree)")
	}
	sc, err := records.LoadSchema(*schemaPath)
	if err != nil {
		return err
	}
	if *name == "" {
		*name = sc.Name
	}
	st, err := openHolder(*data, *storeKeyFile, e)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	c, err := st.CreateCollection(ctx, *name, sc)
	if err != nil {
		return err
	}
	fprintf(stdout, "collection %s id=%s schema=%s\n", c.Name, c.ID, sc.IDHex())
	return nil
}

func readRecords(sc *records.Schema, path string) (_ []records.Record, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, fh.Close()) }()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return sc.ReadCSV(fh)
	case ".jsonl", ".ndjson":
		return sc.ReadJSONL(fh)
	}
	return nil, fmt.Errorf("%s: want a .csv or .jsonl file", path)
}

func cmdCommit(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	f := newFlags("commit", stderr)
	data := f.String("data", envOr("ZKSHARE_DATA", "zkshare.d"), "holder data directory")
	storeKeyFile := storeKeyFlag(f)
	coll := f.String("collection", "", "collection name")
	r := remoteFlags(f)
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if *coll == "" || f.NArg() != 1 {
		return errors.New("commit: want --collection NAME and one records file")
	}
	if r.on() {
		return remoteCommit(ctx, r, *coll, f.Arg(0), stdout, stderr)
	}
	st, err := openHolder(*data, *storeKeyFile, e)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	c, err := st.Collection(*coll)
	if err != nil {
		return err
	}
	recs, err := readRecords(c.SchemaOf(), f.Arg(0))
	if err != nil {
		return fmt.Errorf("%s: %w", f.Arg(0), err)
	}
	start := time.Now()
	res, err := st.Commit(ctx, *coll, recs, progress(stderr))
	if err != nil {
		return err
	}
	fprintf(stdout, "committed %d records (%d new, %d updated) in %s; collection %s has %d, root %s\n",
		len(recs), res.Inserted, res.Updated, time.Since(start).Round(time.Millisecond), *coll, res.Count, records.ElementHex(res.Root))
	return nil
}

func cmdProve(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	f := newFlags("prove", stderr)
	data := f.String("data", envOr("ZKSHARE_DATA", "zkshare.d"), "holder data directory")
	storeKeyFile := storeKeyFlag(f)
	keyDir := f.String("keys", envOr("ZKSHARE_KEYS", "keys.d"), "key directory")
	coll := f.String("collection", "", "collection name")
	subject := f.String("subject", "", "prove about the record with this key")
	exists := f.Bool("exists", false, "prove that some record satisfies the query")
	absent := f.String("absent", "", "prove that no live record has this key (no --query)")
	q := f.String("query", "", "predicate")
	nonceHex := f.String("nonce", "", "verifier nonce (hex; default: fresh)")
	blindHex := f.String("blind", "", "with --subject or --absent: the secret blind of the key commitment (hex; default: fresh, printed)")
	out := f.String("out", "", "bundle file (default: stdout)")
	auditOut := f.String("audit-receipt", "", "with --server: write the answer's audit receipt here (`audit check` reads it)")
	receiptPath := f.String("receipt", "", "prove about your own record from this receipt, offline")
	r := remoteFlags(f)
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if *receiptPath != "" {
		if *q == "" {
			return errors.New("prove: want --query")
		}
		return proveFromReceipt(ctx, *receiptPath, *keyDir, *q, *nonceHex, *blindHex, *out, stdout, stderr)
	}
	asked := 0
	for _, set := range []bool{*subject != "", *exists, *absent != ""} {
		if set {
			asked++
		}
	}
	if *coll == "" || asked != 1 {
		return errors.New("prove: want --collection and exactly one of --subject KEY, --exists or --absent KEY")
	}
	if (*absent != "") == (*q != "") {
		if *absent != "" {
			return errors.New("prove: --absent asks about a key, not a query: drop --query")
		}
		return errors.New("prove: want --query")
	}
	kind, key := bundle.KindSubject, *subject
	switch {
	case *exists:
		kind = bundle.KindExists
	case *absent != "":
		kind, key = bundle.KindAbsent, *absent
	}
	var blind fr.Element
	if kind != bundle.KindExists {
		if blind, err = newBlind(*blindHex, kind, stderr); err != nil {
			return err
		}
	}
	if r.on() {
		nonce, err := newNonceBytes(*nonceHex)
		if err != nil {
			return err
		}
		req := &zkv1.ProveRequest{Collection: *coll, Kind: kind, Subject: key, Query: *q, Nonce: nonce}
		if kind != bundle.KindExists {
			bb := blind.Bytes()
			req.Blind = bb[:]
		}
		return remoteProve(ctx, r, req, *out, *auditOut, stdout, stderr)
	}
	nonce, err := prover.NewNonce()
	if err != nil {
		return err
	}
	if *nonceHex != "" {
		if nonce, err = records.ParseElement(*nonceHex); err != nil {
			return fmt.Errorf("--nonce: %w", err)
		}
	}
	st, err := openHolder(*data, *storeKeyFile, e)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	p, err := prover.New(st, *keyDir, prover.WithLogger(e.log))
	if err != nil {
		return err
	}
	pb, err := p.Prove(ctx, prover.Request{Collection: *coll, Kind: kind, Subject: key, Query: *q, Nonce: nonce, Blind: blind})
	if err != nil {
		return err
	}
	return writeBundle(pb, bundle.Statement(pb), *out, stdout, stderr)
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 2, 4, 2, ' ', 0) }
