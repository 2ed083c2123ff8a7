package console_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/service"
)

// pkgKeys is the package's one key directory (linked from
// ZKSHARE_TEST_KEYS when set, else set up on first use).
var pkgKeys testkeys.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pkgKeys.Cleanup()
	os.Exit(code)
}

// The seeded node's consumer, and how much of the repository's data it
// holds.
const (
	seedConsumer = "agency"
	// coldchainRows bounds the shipments committed: enough for real pages,
	// few enough to keep the seed fast.
	coldchainRows = 2000
)

// seeded is a running node holding the repository's test data, with the
// tokens and artefacts that browser tests drive its console with.
type seeded struct {
	// URL is the node's base URL, http://127.0.0.1:PORT: the Connect API
	// (HTTP/1.1 and h2c) and, once mounted, the console under /console/.
	URL string
	// Node is the server behind URL.
	Node *service.Server
	// Client speaks h2c to URL (as the Connect clients below do); its
	// idle connections are closed before the server stops.
	Client *http.Client

	// Bearer tokens of the node's admin, its holder and the consumer
	// seedConsumer (allowed subject and exists questions on both
	// collections).
	HolderToken, AdminToken, ConsumerToken string

	// GoodBundle is the protojson bundle (bundle.Marshal) of the answer to
	// a subject question on benefits; it verifies VALID against this node,
	// alone or with GoodNonce, GoodSubject and GoodBlind as the asker's
	// expectations.
	GoodBundle  []byte
	GoodSubject string
	GoodQuery   string
	GoodNonce   []byte
	GoodBlind   []byte

	// Canaries are record values and audit salts (lowercase hex) that no
	// page may show: the holder's data and the openings of the audit
	// commitments. GoodSubject is one of them: a test that types it into a
	// form (say, to verify GoodBundle for that subject) must leave it out of
	// its scan of the pages that echo the form.
	Canaries []string

	// CollectionIDs maps "benefits" and "coldchain" to their collection
	// ids, lowercase hex.
	CollectionIDs map[string]string
}

// question is one entry of testdata/benefits/queries.json.
type question struct {
	Kind     string `json:"kind"`
	Subject  string `json:"subject"`
	Query    string `json:"query"`
	Expected bool   `json:"expected"`
}

// seed starts a node on loopback (a fresh data directory, the package's
// keys), commits testdata/benefits (every record) and the first
// coldchainRows shipments of testdata/coldchain, registers seedConsumer
// with a policy allowing subject and exists questions on both, and has it
// ask a subject question on benefits (C00005, true) and an exists question
// on coldchain, so the ledger holds two audit entries. Every test gets a
// node of its own: what one test does through the console (sign-ins,
// questions) does not show in another's. It takes 2 to 3 s on an idle
// two-core machine.
func seed(t *testing.T) *seeded {
	t.Helper()
	if testing.Short() {
		t.Skip("seeding commits 12,000 records and proves two statements")
	}
	start := time.Now()
	ctx := t.Context()
	data := t.TempDir()
	srv, url, hc := serveNode(t, service.Config{Data: data, Keys: pkgKeys.Dir(t)}, nil)
	s := &seeded{URL: url, Node: srv, Client: hc, CollectionIDs: map[string]string{},
		AdminToken: readToken(t, data, node.AdminID), HolderToken: readToken(t, data, node.HolderID)}
	as := func(tok string) connect.ClientOption { return connect.WithInterceptors(client.Bearer(tok)) }
	ident, err := ledger.NewIdentity(seedConsumer)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	admin := zksharev1connect.NewAdminServiceClient(hc, s.URL, as(s.AdminToken))
	reg, err := admin.RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: seedConsumer, Role: zkv1.Role_ROLE_CONSUMER, PublicKey: ident.Public()})
	if err != nil {
		t.Fatalf("seed: registering %s: %v", seedConsumer, err)
	}
	s.ConsumerToken = reg.GetToken()

	holder := zksharev1connect.NewHolderServiceClient(hc, s.URL, as(s.HolderToken))
	benefits := loadCollection(t, holder, "benefits", "records.csv", 0)
	coldchain := loadCollection(t, holder, "coldchain", "shipments.csv", coldchainRows)

	// The questions, so the audit trail has rows and a verifier a bundle.
	consumer := zksharev1connect.NewHolderServiceClient(hc, s.URL, as(s.ConsumerToken))
	q := subjectQuestion(t)
	s.GoodSubject, s.GoodQuery, s.GoodNonce, s.GoodBlind = q.Subject, q.Query, scalar(t), scalar(t)
	sub, err := consumer.Prove(ctx, &zkv1.ProveRequest{Collection: "benefits", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT,
		Subject: q.Subject, Query: q.Query, Nonce: s.GoodNonce, Blind: s.GoodBlind})
	if err != nil {
		t.Fatalf("seed: subject question: %v", err)
	}
	if got := sub.GetBundle().GetResult(); got != q.Expected {
		t.Fatalf("seed: %s satisfies %q: got %v, queries.json expects %v", q.Subject, q.Query, got, q.Expected)
	}
	if s.GoodBundle, err = bundle.Marshal(sub.GetBundle()); err != nil {
		t.Fatalf("seed: %v", err)
	}
	// S000002 (NL, certified) matches, so the answer carries a bundle too.
	ex, err := consumer.Prove(ctx, &zkv1.ProveRequest{Collection: "coldchain", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS,
		Query: `certified == true AND origin == "NL"`, Nonce: scalar(t)})
	if err != nil {
		t.Fatalf("seed: exists question: %v", err)
	}
	if !ex.GetBundle().GetResult() {
		t.Fatal("seed: no certified shipment from NL among the first shipments")
	}

	s.CollectionIDs["benefits"] = hex.EncodeToString(benefits.GetId())
	s.CollectionIDs["coldchain"] = hex.EncodeToString(coldchain.GetId())
	s.Canaries = canaries(t, q.Subject)
	for _, r := range []*zkv1.AuditReceipt{sub.GetAudit(), ex.GetAudit()} {
		if len(r.GetSalt()) == 0 {
			t.Fatal("seed: an answer without its audit receipt's salt")
		}
		s.Canaries = append(s.Canaries, hex.EncodeToString(r.GetSalt()))
	}
	t.Logf("seed: node at %s, %d benefits and %d coldchain records, 2 questions, in %v",
		s.URL, benefits.GetRecordCount(), coldchain.GetRecordCount(), time.Since(start).Round(time.Millisecond))
	return s
}

// serveNode starts a node with cfg and serves it on loopback with the
// node's own http.Server settings (HTTP/1.1 for the browser, h2c for the
// Connect clients); errLog, when set, gets the server's errors. It returns
// the node, its base URL and an h2c client, all stopped when tb ends.
func serveNode(tb testing.TB, cfg service.Config, errLog *slog.Logger) (*service.Server, string, *http.Client) {
	tb.Helper()
	srv, err := service.New(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("starting the node: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.Close(); err != nil {
			tb.Errorf("closing the node: %v", err)
		}
	})
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = service.NewHTTPServer(srv.Handler(), errLog)
	ts.Start()
	tb.Cleanup(ts.Close)
	hc := client.HTTPClient()
	// Runs before ts.Close (cleanups run last-in first-out), which waits
	// for open connections.
	tb.Cleanup(hc.CloseIdleConnections)
	return srv, ts.URL, hc
}

// readToken is participant id's API token in a node's data directory.
func readToken(tb testing.TB, data, id string) string {
	tb.Helper()
	b, err := os.ReadFile(node.TokenPath(data, id))
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// loadCollection creates the collection testdata/<name> describes, commits
// its CSV's records (the first limit, if limit > 0), lets seedConsumer ask
// subject and exists questions of it, and returns what GetCollection says
// of it.
func loadCollection(t *testing.T, h zksharev1connect.HolderServiceClient, name, csvFile string, limit int) *zkv1.CollectionInfo {
	t.Helper()
	ctx := t.Context()
	dir := filepath.Join("..", "testdata", name)
	raw, err := os.ReadFile(filepath.Join(dir, "schema.json"))
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	sc, err := records.ParseSchema(raw)
	if err != nil {
		t.Fatalf("seed: %s schema: %v", name, err)
	}
	recs := readCSV(t, sc, filepath.Join(dir, csvFile))
	if limit > 0 && len(recs) > limit {
		recs = recs[:limit]
	}
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Name: name, Schema: raw}); err != nil {
		t.Fatalf("seed: creating %s: %v", name, err)
	}
	rule := &zkv1.PolicyRule{Consumer: seedConsumer, Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT, zkv1.StatementKind_STATEMENT_KIND_EXISTS}}
	if _, err := h.SetPolicy(ctx, &zkv1.SetPolicyRequest{Collection: name, Policy: &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{rule}}}); err != nil {
		t.Fatalf("seed: policy of %s: %v", name, err)
	}
	stream, err := h.CommitRecords(ctx)
	if err != nil {
		t.Fatalf("seed: committing %s: %v", name, err)
	}
	const batch = 1000 // records a message, well under the message bound
	for lo := 0; lo < len(recs); lo += batch {
		msg := &zkv1.CommitRecordsRequest{}
		if lo == 0 {
			msg.Collection = name
		}
		for _, r := range recs[lo:min(lo+batch, len(recs))] {
			msg.Records = append(msg.Records, &zkv1.Record{Key: r.Key, Values: r.Values})
		}
		if err := stream.Send(msg); err != nil {
			// The server's reason comes with the response.
			_, cerr := stream.CloseAndReceive()
			t.Fatalf("seed: committing %s: %v (%v)", name, err, cerr)
		}
	}
	res, err := stream.CloseAndReceive()
	if err != nil {
		t.Fatalf("seed: committing %s: %v", name, err)
	}
	if int(res.GetInserted()) != len(recs) {
		t.Fatalf("seed: committing %s: %d of %d records inserted", name, res.GetInserted(), len(recs))
	}
	info, err := h.GetCollection(ctx, &zkv1.GetCollectionRequest{Name: name})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return info.GetCollection()
}

func readCSV(t *testing.T, sc *records.Schema, path string) []records.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	defer f.Close()
	recs, err := sc.ReadCSV(f)
	if err != nil {
		t.Fatalf("seed: %s: %v", path, err)
	}
	return recs
}

// subjectQuestion is queries.json's first subject question about C00005
// that it expects true.
func subjectQuestion(t *testing.T) question {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "benefits", "queries.json"))
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	var qs []question
	if err := json.Unmarshal(b, &qs); err != nil {
		t.Fatalf("seed: queries.json: %v", err)
	}
	i := slices.IndexFunc(qs, func(q question) bool { return q.Kind == "subject" && q.Subject == "C00005" && q.Expected })
	if i < 0 {
		t.Fatal("seed: queries.json has no subject question about C00005 expected true")
	}
	return qs[i]
}

// canaryFields names, for each collection, a record and those of its
// fields whose values no page chrome could show by chance: each has a
// letter or a separator that neither hex nor plain numbers have, none is an
// enum value (a schema's enum values are public) and none is a lot (the
// demo's aggregate questions name lots in their public queries).
var canaryFields = []struct {
	collection, csv, key string
	fields               []string
}{
	{"benefits", "records.csv", "C00005", []string{"born", "savings"}},
	{"benefits", "records.csv", "C09876", []string{"born", "savings"}},
	{"coldchain", "shipments.csv", "S000001", []string{"supplier"}},
}

// canaries are the subject asked about, two other record keys, and
// distinctive values of their records, as the CSVs spell them.
func canaries(t *testing.T, subject string) []string {
	t.Helper()
	out := []string{subject}
	for _, c := range canaryFields {
		dir := filepath.Join("..", "testdata", c.collection)
		sc, err := records.LoadSchema(filepath.Join(dir, "schema.json"))
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		recs := readCSV(t, sc, filepath.Join(dir, c.csv))
		i := slices.IndexFunc(recs, func(r records.Record) bool { return r.Key == c.key })
		if i < 0 {
			t.Fatalf("seed: no record %s in %s", c.key, c.csv)
		}
		out = append(out, c.key)
		for _, name := range c.fields {
			_, j, ok := sc.Field(name)
			if !ok {
				t.Fatalf("seed: %s has no field %s", c.collection, name)
			}
			out = append(out, recs[i].Values[j])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// scalar returns 32 random bytes that are a non-zero BN254 scalar (the top
// three bits clear keeps them below the modulus): a nonce or a blind.
func scalar(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("seed: %v", err)
	}
	b[0] &= 0x1f
	b[31] |= 1
	return b
}
