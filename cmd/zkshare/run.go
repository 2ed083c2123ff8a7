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
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/internal/logging"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/records"
)

var errUsage = errors.New("usage")

const usage = `zkshare: prove facts about private records with zero-knowledge proofs

usage:
  zkshare keys setup   --keys DIR [--aggregate]
  zkshare serve        --data DIR --keys DIR [--addr 127.0.0.1:8080]
  zkshare serve        --consortium DIR/orgK --keys DIR [--addr ...]   (one organisation's node)
  zkshare consortium init [--validators 4] [--out DIR] [--base-port 26656]
  zkshare participant add --server URL --token ADMIN-TOKEN --id ID [--role consumer]
  zkshare collection create (--data DIR | --server URL --token T) --schema FILE [--name NAME]
  zkshare collection confirmers --server URL --token-file HOLDER.token --collection NAME
                       --confirmers a,b --required N   (proposes the change; M governors approve it)
  zkshare governance propose --server URL --token-file ADMIN.token
                       (--register ID --role R [--public-key HEX | --out FILE] | --revoke ID
                       | --rotate ID --public-key HEX | --rotate-consensus ID --consensus-key HEX
                       | --circuit NAME --keys DIR) [--consensus-key HEX] [--json]
  zkshare governance approve --server URL --token-file ADMIN.token PROPOSAL-ID [--json]
  zkshare governance list --server URL --token-file T [--json]
  zkshare commit       (--data DIR | --server URL --token T) --collection NAME FILE.csv|FILE.jsonl
  zkshare prove        (--data DIR --keys DIR | --server URL --token T) --collection NAME
                       (--subject KEY [--blind HEX] | --exists) --query 'income <= 30000 AND ...' [--nonce HEX] [--out FILE]
  zkshare receipt issue --server URL --token T --collection NAME --subject KEY --out FILE
  zkshare prove        --receipt FILE --keys DIR --query '...' [--nonce HEX] [--out FILE]   (a subject, offline)
  zkshare verify       (--server URL | --keys DIR --ledger-key VKEY) [--holder ID] [--kind subject|exists]
                       [--collection HOLDER/NAME] [--query '...'] [--subject KEY --blind HEX] [--nonce HEX] [--json] BUNDLE
  zkshare aggregate    --server URL --token T --collection NAME --field F --query '...'
                       [--threshold "count == 0"] [--nonce HEX] [--out FILE]   (over every record)
  zkshare verify-aggregate --server URL --bundle FILE [--holder ID] [--collection HOLDER/NAME] [--query '...'] [--field F]
                       [--mode reveal|threshold] [--threshold "count == 0"] [--nonce HEX]
  zkshare policy set   --server URL --token T --collection NAME [--consumer ID|*] [--kinds subject,exists,aggregate]
                       [--templates "income <=,age >="] [--rate PER-MINUTE]
                       [--aggregate-fields F,G|* --aggregate-modes reveal,threshold --min-group K]
  zkshare audit        --server URL --token T (--collection NAME | --consumer ID)
  zkshare audit check  --receipt FILE --server URL [--ledger-key VKEY]   (an audit receipt opens its ledger entry)
  zkshare demo         [--dataset DIR] [--supplier DIR [--shipments N]] [--keys DIR]
  zkshare ledger init  --data DIR [--origin NAME]
  zkshare ledger verify --data DIR
  zkshare ledger show  --data DIR [--blocks N] [--tx HASH]
  zkshare ledger watch --server URL [--ledger-key VKEY] [--interval 2s] [--count N]

Collections are named HOLDER/NAME on the ledger: a node qualifies a short --collection (and a
--name) with its holder's id. verify and verify-aggregate pin the full name: a short --collection
is qualified only with --holder.

Flags also come from the environment: --data from ZKSHARE_DATA, --keys from ZKSHARE_KEYS,
--server from ZKSHARE_SERVER, --token from ZKSHARE_TOKEN, --token-file from ZKSHARE_TOKEN_FILE.
Common flags: --log-level debug|info|warn|error, --log-format text|json.
`

type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	if (cmd == "keys" || cmd == "collection" || cmd == "ledger" || cmd == "participant" || cmd == "policy" || cmd == "receipt" || cmd == "consortium" || cmd == "governance") && len(rest) > 0 {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	if cmd == "audit" && len(rest) > 0 && rest[0] == "check" {
		cmd, rest = "audit check", rest[1:]
	}
	switch cmd {
	case "keys setup":
		return cmdKeysSetup(ctx, rest, stdout, stderr)
	case "collection create":
		return cmdCollectionCreate(ctx, rest, stdout, stderr)
	case "collection confirmers":
		return cmdCollectionConfirmers(ctx, rest, stdout, stderr)
	case "governance propose":
		return cmdGovernancePropose(ctx, rest, stdout, stderr)
	case "governance approve":
		return cmdGovernanceApprove(ctx, rest, stdout, stderr)
	case "governance list":
		return cmdGovernanceList(ctx, rest, stdout, stderr)
	case "commit":
		return cmdCommit(ctx, rest, stdout, stderr)
	case "prove":
		return cmdProve(ctx, rest, stdout, stderr)
	case "verify":
		return cmdVerify(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "aggregate":
		return cmdAggregate(ctx, rest, stdout, stderr)
	case "verify-aggregate":
		return cmdVerifyAggregate(ctx, rest, stdout, stderr)
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "participant add":
		return cmdParticipantAdd(ctx, rest, stdout, stderr)
	case "consortium init":
		return cmdConsortiumInit(ctx, rest, stdout, stderr)
	case "receipt issue":
		return cmdReceiptIssue(ctx, rest, stdout, stderr)
	case "policy set":
		return cmdPolicySet(ctx, rest, stdout, stderr)
	case "audit":
		return cmdAudit(ctx, rest, stdout, stderr)
	case "audit check":
		return cmdAuditCheck(ctx, rest, stdout, stderr)
	case "ledger init":
		return cmdLedgerInit(ctx, rest, stdout, stderr)
	case "ledger verify":
		return cmdLedgerVerify(ctx, rest, stdout, stderr)
	case "ledger show":
		return cmdLedgerShow(ctx, rest, stdout, stderr)
	case "ledger watch":
		return cmdLedgerWatch(ctx, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", strings.Join(args[:min(2, len(args))], " "))
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
	return &env{stderr: f.stderr, log: l}, nil
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
	f, ok := w.(*os.File)
	if !ok {
		return func(string, int, int) {}
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return func(string, int, int) {}
	}
	return func(phase string, done, total int) {
		fmt.Fprintf(f, "\r%-6s %3d%% (%d/%d)   ", phase, done*100/max(total, 1), done, total)
		if done >= total {
			fmt.Fprintln(f)
		}
	}
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
	fmt.Fprintln(stderr, "WARNING: development setup (single-party Groth16). Whoever holds this machine's randomness could forge proofs; use ceremony keys in production.")
	start := time.Now()
	m, err := keys.Setup(ctx, *dir, e.log, func(c, step string) { fmt.Fprintf(stderr, "  %-8s %s\n", c, step) }, names...)
	if err != nil {
		return err
	}
	for _, n := range keys.Names() {
		c, ok := m.Circuits[n]
		if !ok {
			continue
		}
		fmt.Fprintf(stdout, "%-8s constraints=%d circuit_id=%.16s vk_sha256=%.16s setup=%s\n", n, c.Constraints, c.CircuitID, c.VKSHA256, c.Setup)
	}
	fmt.Fprintf(stderr, "keys in %s (%s)\n", *dir, time.Since(start).Round(time.Millisecond))
	return nil
}

func cmdCollectionCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("collection create", stderr)
	data := f.String("data", envOr("ZKSHARE_DATA", "zkshare.d"), "holder data directory")
	schemaPath := f.String("schema", "", "schema JSON file")
	name := f.String("name", "", "collection name (default: the schema's name)")
	r := remoteFlags(f)
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if *schemaPath == "" {
		return errors.New("collection create: --schema is required")
	}
	if r.on() {
		return remoteCollectionCreate(ctx, r, *schemaPath, *name, stdout)
	}
	sc, err := records.LoadSchema(*schemaPath)
	if err != nil {
		return err
	}
	if *name == "" {
		*name = sc.Name
	}
	st, err := holder.Open(filepath.Join(*data, "holder"), e.log)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := st.CreateCollection(ctx, *name, sc)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "collection %s id=%s schema=%s\n", c.Name, c.ID, sc.IDHex())
	return nil
}

func readRecords(sc *records.Schema, path string) ([]records.Record, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return sc.ReadCSV(fh)
	case ".jsonl", ".ndjson":
		return sc.ReadJSONL(fh)
	}
	return nil, fmt.Errorf("%s: want a .csv or .jsonl file", path)
}

func cmdCommit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("commit", stderr)
	data := f.String("data", envOr("ZKSHARE_DATA", "zkshare.d"), "holder data directory")
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
	st, err := holder.Open(filepath.Join(*data, "holder"), e.log)
	if err != nil {
		return err
	}
	defer st.Close()
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
	fmt.Fprintf(stdout, "committed %d records (%d new, %d updated) in %s; collection %s has %d, root %s\n",
		len(recs), res.Inserted, res.Updated, time.Since(start).Round(time.Millisecond), *coll, res.Count, records.ElementHex(res.Root))
	return nil
}

func cmdProve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("prove", stderr)
	data := f.String("data", envOr("ZKSHARE_DATA", "zkshare.d"), "holder data directory")
	keyDir := f.String("keys", envOr("ZKSHARE_KEYS", "keys.d"), "key directory")
	coll := f.String("collection", "", "collection name")
	subject := f.String("subject", "", "prove about the record with this key")
	exists := f.Bool("exists", false, "prove that some record satisfies the query")
	q := f.String("query", "", "predicate")
	nonceHex := f.String("nonce", "", "verifier nonce (hex; default: fresh)")
	blindHex := f.String("blind", "", "with --subject: the secret blind of the subject's key commitment (hex; default: fresh, printed)")
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
	if *coll == "" || *q == "" || (*subject == "") == !*exists {
		return errors.New("prove: want --collection, --query and exactly one of --subject or --exists")
	}
	var blind fr.Element
	if *subject != "" {
		if blind, err = newBlind(*blindHex, stderr); err != nil {
			return err
		}
	}
	if r.on() {
		nonce, err := newNonceBytes(*nonceHex)
		if err != nil {
			return err
		}
		req := &zkv1.ProveRequest{Collection: *coll, Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: *subject, Query: *q, Nonce: nonce}
		if *exists {
			req.Kind = zkv1.StatementKind_STATEMENT_KIND_EXISTS
		} else {
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
	st, err := holder.Open(filepath.Join(*data, "holder"), e.log)
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := prover.New(st, *keyDir, prover.WithLogger(e.log))
	if err != nil {
		return err
	}
	req := prover.Request{Collection: *coll, Kind: bundle.KindSubject, Subject: *subject, Query: *q, Nonce: nonce, Blind: blind}
	if *exists {
		req.Kind = bundle.KindExists
	}
	b, err := p.Prove(ctx, req)
	if err != nil {
		return err
	}
	pb, err := b.Proto()
	if err != nil {
		return err
	}
	return writeBundle(pb, b.Statement(), *out, stdout, stderr)
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 2, 4, 2, ' ', 0) }
