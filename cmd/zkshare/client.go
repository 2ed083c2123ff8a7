package main

import (
	"bytes"
	"context"
	"encoding/hex"
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

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/audit"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/console"
	"github.com/zkshare/zkshare/consortium"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/receipt"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/service"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	f := newFlags("serve", stderr)
	data := f.String("data", envOr("ZKSHARE_DATA", "zkshare.d"), "node data directory (created on first start)")
	keyDir := f.String("keys", envOr("ZKSHARE_KEYS", "keys.d"), "circuit key directory")
	addr := f.String("addr", "127.0.0.1:8080", "listen address")
	origin := f.String("origin", "zkshare.local/ledger", "name of a new ledger")
	freshness := f.Duration("freshness", time.Hour, "how long a replaced root still verifies")
	maxFreshness := f.Duration("max-freshness", 24*time.Hour, "the longest window a verifier may ask for")
	proveConc := f.Int("prove-concurrency", 0, "proofs run at once (0: one per core)")
	proveQueue := f.Int("prove-queue", 0, "proofs that may wait for a slot; more are refused with ResourceExhausted (0: twice the concurrency)")
	var t service.TLS
	f.StringVar(&t.CertFile, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	f.StringVar(&t.KeyFile, "tls-key", "", "the certificate's key (PEM)")
	f.StringVar(&t.ClientCA, "client-ca", "", "require client certificates signed by these CAs (mTLS)")
	cons := f.String("consortium", "", "run this consortium organisation's node (a directory from `consortium init`) instead of --data")
	storeKeyFile := storeKeyFlag(f)
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if *cons != "" {
		*data = *cons
	}
	encKey, from, err := storeKey(*storeKeyFile, e.log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	// A wrong key (or none for an encrypted store) fails here, before the
	// node opens its ledger or writes anything.
	if err := checkStoreKey(*data, encKey, from); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv, err := service.New(ctx, service.Config{Data: *data, Keys: *keyDir, Origin: *origin, Freshness: *freshness, MaxFreshness: *maxFreshness, ProveConcurrency: *proveConc, ProveQueue: *proveQueue, Log: e.log, Consortium: *cons != "", EncryptionKey: encKey})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.Close()) }()
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if t.CertFile != "" {
		scheme = "https"
	}
	fprintf(stderr, "zkshare: serving Connect, gRPC and gRPC-Web on %s://%s\n  web console:  %s://%s%s\n  holder token: %s\n  admin token:  %s\n",
		scheme, ln.Addr(), scheme, ln.Addr(), console.Prefix, node.TokenPath(*data, node.HolderID), node.TokenPath(*data, node.AdminID))
	if vkey, err := note.NewEd25519VerifierKey(srv.Ledger().Origin(), srv.Ledger().NodeKey()); err == nil {
		fprintf(stderr, "  checkpoint key (for offline verify --ledger-key): %s\n", vkey)
	}
	e.log.Info("serving", "addr", ln.Addr().String(), "data", *data)
	if (t.CertFile == "") != (t.KeyFile == "") || (t.ClientCA != "" && t.CertFile == "") {
		return errors.New("serve: --tls-cert and --tls-key go together, and --client-ca needs them")
	}
	err = service.Serve(ctx, service.NewHTTPServer(srv.Handler(), e.log), ln, 10*time.Second, t)
	e.log.Info("stopped")
	return err
}

// remote holds the flags of commands that talk to a server.
type remote struct {
	server, token, tokenFile *string
}

func remoteFlags(f *flags) remote {
	return remote{
		server:    f.String("server", envOr("ZKSHARE_SERVER", ""), "server URL, e.g. http://127.0.0.1:8080 (default: work on local files)"),
		token:     f.String("token", envOr("ZKSHARE_TOKEN", ""), "bearer token"),
		tokenFile: f.String("token-file", envOr("ZKSHARE_TOKEN_FILE", ""), "file holding the bearer token"),
	}
}

func (r remote) on() bool { return *r.server != "" }

// bearer is the token from --token or --token-file ("" for none).
func (r remote) bearer() (string, error) {
	if *r.token != "" || *r.tokenFile == "" {
		return *r.token, nil
	}
	b, err := os.ReadFile(*r.tokenFile)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// client is the SDK's client of --server with the token, and extra.
func (r remote) client(extra ...client.Option) (*client.Client, error) {
	tok, err := r.bearer()
	if err != nil {
		return nil, err
	}
	opts := extra
	if tok != "" {
		opts = append(opts, client.WithToken(tok))
	}
	c, err := client.New(*r.server, opts...)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	return c, nil
}

func cmdParticipantAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("participant add", stderr)
	r := remoteFlags(f)
	id := f.String("id", "", "participant id")
	role := f.String("role", "consumer", "admin, holder, consumer, device or validator")
	out := f.String("out", "", "write the participant's new identity (private key) here (default: ID.json)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || *id == "" {
		return errors.New("participant add: want --server, --token (an admin's) and --id")
	}
	rv, ok := zkv1.Role_value["ROLE_"+strings.ToUpper(*role)]
	if !ok {
		return fmt.Errorf("--role %q: want admin, holder, consumer, device or validator", *role)
	}
	ident, err := ledger.NewIdentity(*id)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = *id + ".json"
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	resp, err := c.RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: *id, Role: zkv1.Role(rv), PublicKey: ident.Public()})
	if err != nil {
		return err
	}
	if err := ident.Save(*out); err != nil {
		return err
	}
	fprintf(stdout, "%s registered (tx %x); identity in %s\ntoken: %s\n", *id, resp.GetTxHash(), *out, resp.GetToken())
	return nil
}

func remoteCollectionCreate(ctx context.Context, r remote, schemaPath, name string, deviceFed bool, stdout io.Writer) error {
	schema, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	resp, err := c.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: schema, Name: name, DeviceFed: deviceFed})
	if err != nil {
		return err
	}
	fed := ""
	if deviceFed {
		fed = ", device-fed"
	}
	fprintf(stdout, "collection %s id=%x registered on the ledger%s (tx %x)\n", resp.GetCollection().GetName(), resp.GetCollection().GetId(), fed, resp.GetRegisterTxHash())
	return nil
}

// remoteCommit reads the file with the collection's schema (from the
// server) and streams it in the SDK's chunks, with progress on a terminal.
func remoteCommit(ctx context.Context, r remote, coll, path string, stdout, stderr io.Writer) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	info, err := c.GetCollection(ctx, coll)
	if err != nil {
		return err
	}
	sc, err := records.ParseSchema(info.GetSchema())
	if err != nil {
		return err
	}
	recs, err := readRecords(sc, path)
	if err != nil {
		return err
	}
	p := progress(stderr)
	start := time.Now()
	resp, err := c.Commit(ctx, coll, slices.Values(recs), client.WithProgress(func(sent, _ int) { p("send", sent, len(recs)) }))
	if err != nil {
		return err
	}
	fprintf(stdout, "committed %d new, %d updated; %d records; root %x anchored at height %d (tx %x) in %s\n",
		resp.GetInserted(), resp.GetUpdated(), resp.GetRecordCount(), resp.GetRoot(), resp.GetAnchorHeight(), resp.GetAnchorTxHash(), time.Since(start).Round(time.Millisecond))
	return nil
}

func remoteProve(ctx context.Context, r remote, req *zkv1.ProveRequest, out, auditOut string, stdout, stderr io.Writer) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	resp, err := c.Prove(ctx, req)
	if err != nil {
		return err
	}
	if auditOut != "" {
		if err := writeAuditReceipt(resp.GetAudit(), auditOut); err != nil {
			return err
		}
	}
	return writeBundle(resp.GetBundle(), resp.GetStatement(), out, stdout, stderr)
}

// writeBundle writes a bundle as protojson to out, or to stdout when out
// is "", and names its statement on stderr.
func writeBundle(pb *zkv1.Bundle, statement, out string, stdout, stderr io.Writer) error {
	enc, err := bundle.Marshal(pb)
	if err != nil {
		return err
	}
	enc = bytes.TrimSuffix(enc, []byte("\n"))
	if out == "" {
		_, err = fmt.Fprintf(stdout, "%s\n", enc)
		return err
	}
	fprintf(stderr, "%s: %s\n", out, statement)
	// A bundle is for sharing: it holds nothing the consumers may not see.
	return os.WriteFile(out, append(enc, '\n'), 0o644) //nolint:gosec // G306: see above
}

func newNonceBytes(hexNonce string) ([]byte, error) {
	n, err := prover.NewNonce()
	if err != nil {
		return nil, err
	}
	if hexNonce != "" {
		if n, err = records.ParseElement(hexNonce); err != nil {
			return nil, fmt.Errorf("--nonce: %w", err)
		}
	}
	b := n.Bytes()
	return b[:], nil
}

// newBlind is the blind for a subject or absent question: the given hex,
// or fresh random. The asker keeps it; verifying the key needs it.
func newBlind(hexBlind string, kind zkv1.StatementKind, stderr io.Writer) (fr.Element, error) {
	if hexBlind != "" {
		b, err := records.ParseElement(hexBlind)
		if err != nil {
			return b, fmt.Errorf("--blind: want a non-zero BN254 scalar in hex: %w", err)
		}
		if b.IsZero() {
			return b, errors.New("--blind: want a non-zero BN254 scalar in hex, not zero")
		}
		return b, nil
	}
	b, err := prover.NewNonce()
	if err != nil {
		return b, err
	}
	flag := "--subject"
	if kind == bundle.KindAbsent {
		flag = "--absent"
	}
	fprintf(stderr, "blind: %s (keep it: `verify %s` needs it as --blind; with it the bundle names your key, without it no one)\n", records.ElementHex(b), flag)
	return b, nil
}

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("audit", stderr)
	r := remoteFlags(f)
	coll := f.String("collection", "", "collection name, NAME of the node's holder or HOLDER/NAME (a holder's view)")
	consumer := f.String("consumer", "", "consumer id (a consumer's own view)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || (*coll == "") == (*consumer == "") {
		return errors.New("audit: want --server, --token and one of --collection or --consumer")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	filter := client.AuditFilter{Consumer: *consumer}
	if *coll != "" {
		// The node qualifies a short name with its holder (HOLDER/NAME)
		// and knows the id.
		info, err := c.GetCollection(ctx, *coll)
		if err != nil {
			return fmt.Errorf("--collection: %w", err)
		}
		filter.CollectionID = info.GetId()
	}
	enc := json.NewEncoder(stdout)
	for e, err := range c.Audit(ctx, filter) {
		if err != nil {
			return err
		}
		a := e.GetReceipt()
		if err := enc.Encode(map[string]any{"height": e.GetHeight(), "time": time.UnixMilli(e.GetTimeUnixMs()).UTC().Format(time.RFC3339),
			"holder": e.GetHolder(), "consumer": a.GetConsumer(), "statement": a.GetStatement(), "result": a.GetResult(),
			"query_hash": hex.EncodeToString(a.GetQueryHash()), "nonce": hex.EncodeToString(a.GetNonce()), "bundle_hash": hex.EncodeToString(a.GetBundleHash()),
			"tx": hex.EncodeToString(a.GetTxHash()), "commitment": hex.EncodeToString(e.GetAudit().GetCommitment())}); err != nil {
			return fmt.Errorf("audit: write entry: %w", err)
		}
	}
	return nil
}

// writeAuditReceipt keeps an answer's audit receipt (protojson).
func writeAuditReceipt(r *zkv1.AuditReceipt, path string) error {
	if r == nil {
		return errors.New("the server sent no audit receipt")
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// cmdAuditCheck shows that an audit receipt opens the commitment of its
// entry on the ledger, and that the entry is in the ledger's log.
func cmdAuditCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("audit check", stderr)
	server := f.String("server", envOr("ZKSHARE_SERVER", ""), "a node's URL: its ledger is asked for the entry")
	path := f.String("receipt", "", "the audit receipt (from `prove --audit-receipt`)")
	ledgerKey := f.String("ledger-key", envOr("ZKSHARE_LEDGER_KEY", ""), "the ledger's checkpoint key (default: trust the node's)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if *server == "" || *path == "" {
		return errors.New("audit check: want --receipt and --server")
	}
	b, err := os.ReadFile(*path)
	if err != nil {
		return err
	}
	var r zkv1.AuditReceipt
	if err := protojson.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("audit receipt %s: %w", *path, err)
	}
	c, err := client.New(*server)
	if err != nil {
		return fmt.Errorf("--server: %w", err)
	}
	tr, err := c.Transaction(ctx, r.GetTxHash())
	if err != nil {
		return fmt.Errorf("audit check: the ledger's entry %x: %w", r.GetTxHash(), err)
	}
	vkey := *ledgerKey
	if vkey == "" {
		cp, err := c.Checkpoint(ctx)
		if err != nil {
			return err
		}
		if vkey, err = note.NewEd25519VerifierKey(cp.GetOrigin(), cp.GetNodeKey()); err != nil {
			return err
		}
		fprintln(stderr, "audit check: trusting the node's checkpoint key (pin one with --ledger-key)")
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("--ledger-key: %w", err)
	}
	if _, err := ledger.VerifyInclusion(tr.GetCheckpoint(), v.Name(), v, tr.GetTx(), tr.GetLogIndex(), tr.GetInclusion()); err != nil {
		return fmt.Errorf("audit check: %w", err)
	}
	tx, err := ledger.DecodeTx(tr.GetTx())
	if err != nil {
		return err
	}
	if !bytes.Equal(tx.Hash[:], r.GetTxHash()) {
		return errors.New("audit check: the ledger returned another transaction")
	}
	if err := audit.Check(&r, tx.Body.GetAudit()); err != nil {
		return fmt.Errorf("audit check: %w", err)
	}
	fprintf(stdout, "OK: audit entry %x (height %d, log index %d, by holder %s) is %s's %s question, answered %v\n",
		r.GetTxHash(), tr.GetHeight(), tr.GetLogIndex(), tx.Body.GetSender(), r.GetConsumer(), r.GetStatement(), r.GetResult())
	return nil
}

func cmdPolicySet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("policy set", stderr)
	r := remoteFlags(f)
	coll := f.String("collection", "", "collection name")
	consumer := f.String("consumer", "*", "consumer id, or * for every consumer")
	kinds := f.String("kinds", "subject,exists", "statement kinds allowed, comma-separated")
	templates := f.String("templates", "", `allowed clauses, comma-separated "field op" (default: any)`)
	perMinute := f.Uint("rate", 0, "proofs per minute (0: no limit)")
	aggFields := f.String("aggregate-fields", "", "with the aggregate kind: fields the consumer may aggregate, comma-separated, or *")
	aggModes := f.String("aggregate-modes", "threshold", "with the aggregate kind: reveal, threshold or both, comma-separated")
	minGroup := f.Uint("min-group", 0, "with the aggregate kind: a revealed aggregate over fewer records shows only \"fewer than N\"")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || *coll == "" {
		return errors.New("policy set: want --server, --token (the holder's) and --collection")
	}
	rule := &zkv1.PolicyRule{Consumer: *consumer, RatePerMinute: uint32(*perMinute), MinGroup: uint32(*minGroup)}
	if strings.Contains(*kinds, "aggregate") {
		if *aggFields == "" {
			return errors.New("policy set: --kinds aggregate needs --aggregate-fields (the fields the consumer may aggregate, or *)")
		}
		for _, fl := range strings.Split(*aggFields, ",") {
			rule.AggregateFields = append(rule.AggregateFields, strings.TrimSpace(fl))
		}
		for _, m := range strings.Split(*aggModes, ",") {
			v, ok := zkv1.AggregateMode_value["AGGREGATE_MODE_"+strings.ToUpper(strings.TrimSpace(m))]
			if !ok || v == 0 {
				return fmt.Errorf("--aggregate-modes: %q: want reveal or threshold", m)
			}
			rule.AggregateModes = append(rule.AggregateModes, zkv1.AggregateMode(v))
		}
	}
	for _, k := range strings.Split(*kinds, ",") {
		v, ok := zkv1.StatementKind_value["STATEMENT_KIND_"+strings.ToUpper(strings.TrimSpace(k))]
		if !ok {
			return fmt.Errorf("--kinds: %q: want subject, exists, absent or aggregate", k)
		}
		rule.Kinds = append(rule.Kinds, zkv1.StatementKind(v))
	}
	if *templates != "" {
		for _, t := range strings.Split(*templates, ",") {
			rule.Templates = append(rule.Templates, strings.TrimSpace(t))
		}
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	if err := c.SetPolicy(ctx, *coll, &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{rule}}); err != nil {
		return err
	}
	fprintf(stdout, "policy of %s: %s may ask %s\n", *coll, *consumer, *kinds)
	return nil
}

func cmdReceiptIssue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("receipt issue", stderr)
	r := remoteFlags(f)
	coll := f.String("collection", "", "collection name")
	subject := f.String("subject", "", "the subject's key")
	out := f.String("out", "", "receipt file (it holds the record and its salt: give it to the subject only)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || *coll == "" || *subject == "" || *out == "" {
		return errors.New("receipt issue: want --server, --token (the holder's), --collection, --subject and --out")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	rc, err := c.IssueReceipt(ctx, *coll, *subject)
	if err != nil {
		return err
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(rc)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o600); err != nil {
		return err
	}
	fprintf(stdout, "receipt for one record of %s written to %s (private: it holds the record's values and salt)\n", *coll, *out)
	return nil
}

// proveFromReceipt proves a subject statement offline from a receipt.
func proveFromReceipt(ctx context.Context, path, keyDir, q, nonceHex, blindHex, out string, stdout, stderr io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var r zkv1.Receipt
	if err := protojson.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("receipt %s: %w", path, err)
	}
	w, err := receipt.Witness(&r)
	if err != nil {
		return err
	}
	nb, err := newNonceBytes(nonceHex)
	if err != nil {
		return err
	}
	nonce, _ := records.ParseElement(hex.EncodeToString(nb))
	p, err := prover.New(nil, keyDir)
	if err != nil {
		return err
	}
	blind, err := newBlind(blindHex, bundle.KindSubject, stderr)
	if err != nil {
		return err
	}
	pb, err := p.ProveOwn(ctx, r.GetCollection(), r.GetSchema(), w, q, nonce, blind)
	if err != nil {
		return err
	}
	pb.AnchorTx, pb.AnchorLogIndex, pb.AnchorInclusion, pb.Checkpoint = r.GetAnchorTx(), r.GetAnchorLogIndex(), r.GetAnchorInclusion(), r.GetCheckpoint()
	return writeBundle(pb, bundle.Statement(pb), out, stdout, stderr)
}

func cmdConsortiumInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("consortium init", stderr)
	n := f.Int("validators", 4, "organisations, one validator each")
	out := f.String("out", "consortium.d", "directory for the organisations")
	origin := f.String("origin", "zkshare.consortium/ledger", "the shared ledger's name")
	port := f.Int("base-port", 26656, "organisation k uses ports base+2k (peers) and base+2k+1 (CometBFT RPC)")
	dev := f.Bool("dev", false, "mark the shared ledger for development: it accepts single-party circuit keys (`keys setup`), whose maker can forge proofs")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	m, err := consortium.Init(*n, *out, consortium.Options{Origin: *origin, BasePort: *port, Development: *dev})
	if err != nil {
		return err
	}
	for _, o := range m.Orgs {
		// The node engine's bootstrap completes each organisation's
		// directory (its tokens), as `ledger init` does a single node's.
		if err := node.InitOrg(filepath.Join(*out, o)); err != nil {
			return fmt.Errorf("consortium init: %s: %w", o, err)
		}
		fprintf(stdout, "%s/%s: run with `zkshare serve --consortium %s/%s --keys DIR --addr ...`\n", *out, o, *out, o)
	}
	fprintln(stdout, "the ledger admin's key is in org1; every organisation must use the same circuit keys")
	return nil
}
