package console_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/service"
)

// The console benchmark's ledger: benchTxsEnv sets how many transactions
// it holds (at least), benchTxsDefault without it.
const (
	benchTxsEnv     = "ZKSHARE_BENCH_TXS"
	benchTxsDefault = 10_000
	// benchProfileEnv names a file for a CPU profile of the page requests
	// only, without the set-up.
	benchProfileEnv = "ZKSHARE_BENCH_CPUPROFILE"
	// benchAsker is the consumer whose questions fill the ledger.
	benchAsker = "bench-agency"
	// benchAskers is how many questions are in flight at once.
	benchAskers = 8
	// benchAnchors is how many small commits (anchors) follow the first,
	// spread over the questions, so the collection's chart has bars.
	benchAnchors = 36
	// benchProgressEvery is how often (in ledger transactions) the set-up
	// logs its progress.
	benchProgressEvery = 1000
)

// benchLedger is a node whose ledger holds many transactions: the
// benefits collection (10,000 records) with benchAnchors+1 anchors, one
// proven subject question, and as many unproven ones ("no such subject":
// no proof, but an audit entry on the ledger and its opening in the
// holder's store) as the target needs.
type benchLedger struct {
	url  string
	srv  *service.Server
	tok  string // the holder's bearer token
	path string // the collection's console page
	// bundle is the protojson bundle of the proven question, which the
	// verify page checks VALID.
	bundle []byte
	setup  time.Duration
}

// benchTarget is the number of transactions the ledger should hold.
func benchTarget(b *testing.B) int {
	b.Helper()
	s := os.Getenv(benchTxsEnv)
	if s == "" {
		return benchTxsDefault
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number of transactions", benchTxsEnv, s)
	}
	return n
}

// benchNonce is 32 random bytes that are a non-zero BN254 scalar (the
// top three bits clear keep them below the modulus).
func benchNonce() []byte {
	n := make([]byte, 32)
	_, _ = rand.Read(n) // crypto/rand.Read does not fail (Go 1.24+)
	n[0] &= 0x1f
	n[31] |= 1
	return n
}

// startBenchLedger starts a node on loopback and fills its ledger to
// target transactions, logging progress every benchProgressEvery.
func startBenchLedger(b *testing.B, target int) *benchLedger {
	start := time.Now()
	ctx := b.Context()
	data := b.TempDir()
	// Room for benchAskers questions in flight: the node refuses, rather
	// than queues, a question beyond its prove slots.
	srv, url, hc := serveNode(b, service.Config{Data: data, Keys: pkgKeys.Dir(b), ProveQueue: 4 * benchAskers},
		slog.New(slog.NewTextHandler(os.Stderr, nil)))
	bl := &benchLedger{url: url, srv: srv, tok: readToken(b, data, node.HolderID)}
	as := func(tok string) connect.ClientOption { return connect.WithInterceptors(client.Bearer(tok)) }

	ident, err := ledger.NewIdentity(benchAsker)
	if err != nil {
		b.Fatal(err)
	}
	admin := zksharev1connect.NewAdminServiceClient(hc, url, as(readToken(b, data, node.AdminID)))
	reg, err := admin.RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: benchAsker, Role: zkv1.Role_ROLE_CONSUMER, PublicKey: ident.Public()})
	if err != nil {
		b.Fatalf("registering %s: %v", benchAsker, err)
	}
	holder := zksharev1connect.NewHolderServiceClient(hc, url, as(bl.tok))
	asker := zksharev1connect.NewHolderServiceClient(hc, url, as(reg.GetToken()))

	// The benefits collection, every record, subject questions allowed.
	dir := filepath.Join("..", "testdata", "benefits")
	raw, err := os.ReadFile(filepath.Join(dir, "schema.json"))
	if err != nil {
		b.Fatal(err)
	}
	sc, err := records.ParseSchema(raw)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "records.csv"))
	if err != nil {
		b.Fatal(err)
	}
	recs, err := sc.ReadCSV(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := holder.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Name: "benefits", Schema: raw}); err != nil {
		b.Fatalf("creating benefits: %v", err)
	}
	rule := &zkv1.PolicyRule{Consumer: benchAsker, Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT}}
	if _, err := holder.SetPolicy(ctx, &zkv1.SetPolicyRequest{Collection: "benefits", Policy: &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{rule}}}); err != nil {
		b.Fatalf("policy of benefits: %v", err)
	}
	all := make([]*zkv1.Record, len(recs))
	for i, r := range recs {
		all[i] = &zkv1.Record{Key: r.Key, Values: r.Values}
	}
	commit := func(rs []*zkv1.Record) {
		stream, err := holder.CommitRecords(ctx)
		if err != nil {
			b.Fatalf("committing benefits: %v", err)
		}
		for lo := 0; lo < len(rs); lo += 1000 {
			msg := &zkv1.CommitRecordsRequest{Records: rs[lo:min(lo+1000, len(rs))]}
			if lo == 0 {
				msg.Collection = "benefits"
			}
			if err := stream.Send(msg); err != nil {
				_, cerr := stream.CloseAndReceive()
				b.Fatalf("committing benefits: %v (%v)", err, cerr)
			}
		}
		if _, err := stream.CloseAndReceive(); err != nil {
			b.Fatalf("committing benefits: %v", err)
		}
	}
	t0 := time.Now()
	commit(all)
	b.Logf("set-up: committed %d benefits records in %v", len(all), time.Since(t0).Round(time.Millisecond))
	bl.path = "/console/collection/" + node.HolderID + "/benefits"

	// One proven question, for the verify page (and a served row in the
	// audit trail).
	const query = `income <= 30000 AND age >= 65 AND region in ("north","east") AND status != "suspended"`
	pr, err := asker.Prove(ctx, &zkv1.ProveRequest{Collection: "benefits", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT,
		Subject: "C00005", Query: query, Nonce: benchNonce(), Blind: benchNonce()})
	if err != nil {
		b.Fatalf("proven question: %v", err)
	}
	if bl.bundle, err = bundle.Marshal(pr.GetBundle()); err != nil {
		b.Fatal(err)
	}

	// The unproven questions: keys no record has, benchAskers at a time,
	// with a small commit (a few new records) every so often.
	l := srv.Ledger()
	var (
		asked     atomic.Int64
		nextLog   atomic.Uint64
		newKey    int // records added by the small commits
		absentKey int // keys asked about
		askStart  = time.Now()
		firstSize = l.Head().LogSize
	)
	nextLog.Store((firstSize/benchProgressEvery + 1) * benchProgressEvery)
	progress := func() {
		for {
			size, next := l.Head().LogSize, nextLog.Load()
			if size < next {
				return
			}
			if nextLog.CompareAndSwap(next, (size/benchProgressEvery+1)*benchProgressEvery) {
				el := time.Since(askStart)
				b.Logf("set-up: %6d transactions (height %d), %d questions in %v, %.0f tx/s",
					size, l.Head().Height, asked.Load(), el.Round(time.Millisecond), float64(size-firstSize)/el.Seconds())
				return
			}
		}
	}
	ask := func(n, anchors int) {
		keys := make(chan int)
		var wg sync.WaitGroup
		var failed atomic.Pointer[error]
		for range benchAskers {
			wg.Go(func() {
				for k := range keys {
					for {
						_, err := asker.Prove(ctx, &zkv1.ProveRequest{Collection: "benefits", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT,
							Subject: fmt.Sprintf("ZZ%07d", k), Query: query, Nonce: benchNonce(), Blind: benchNonce()})
						if connect.CodeOf(err) == connect.CodeResourceExhausted {
							time.Sleep(time.Millisecond)
							continue
						}
						if err == nil || connect.CodeOf(err) != connect.CodeNotFound {
							err = fmt.Errorf("question about an absent key: want NotFound, got %w", err)
							failed.CompareAndSwap(nil, &err)
						}
						break
					}
					asked.Add(1)
					progress()
				}
			})
		}
		every := n + 1
		if anchors > 0 {
			every = max(n/(anchors+1), 1)
		}
		for i := range n {
			if failed.Load() != nil {
				break
			}
			if i > 0 && i%every == 0 && anchors > 0 {
				anchors--
				// 1 to 40 new records: bars of differing heights.
				var rs []*zkv1.Record
				for j := range 1 + (i/every*7)%40 {
					r := all[(newKey+j)%len(all)]
					rs = append(rs, &zkv1.Record{Key: fmt.Sprintf("N%06d", newKey+j), Values: r.Values})
				}
				newKey += len(rs)
				commit(rs)
			}
			absentKey++
			keys <- absentKey
		}
		close(keys)
		wg.Wait()
		if p := failed.Load(); p != nil {
			b.Fatal(*p)
		}
	}
	// Each question is one transaction, each commit about two.
	if need := target - int(l.Head().LogSize) - 2*benchAnchors; need > 0 {
		ask(need, benchAnchors)
	}
	for int(l.Head().LogSize) < target {
		ask(target-int(l.Head().LogSize), 0)
	}
	bl.setup = time.Since(start)
	h := l.Head()
	b.Logf("set-up: %d transactions in %d blocks (%d questions, %d anchors of benefits) in %v",
		h.LogSize, h.Height, asked.Load()+1, benchAnchors+1, bl.setup.Round(time.Millisecond))
	return bl
}

// benchPage is one console page the benchmark fetches.
type benchPage struct {
	name string
	path string
	// as: "" anonymous, "holder" signed in as the node's holder.
	as string
	// post, when set, makes the page a form post of this body.
	post func() (body []byte, contentType string)
	// want is text the page must hold (a check that it is the page meant).
	want string
}

// benchSample is what one page's runs measured.
type benchSample struct {
	ttfb             []time.Duration
	htmlBytes, total int
	cpu              time.Duration // the process's CPU time a request (server and client)
}

// benchCPU is the process's CPU time so far, user and system.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchBrowser is an HTTP/1.1 client with a cookie jar, as a browser
// signs in: redirects are not followed, responses not compressed.
func benchBrowser(b *testing.B) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 2}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// benchFetch sends req and reads the whole response: the time to its
// first byte (from the request's start, over a kept-alive connection), its
// body and status.
func benchFetch(b *testing.B, c *http.Client, req *http.Request) (time.Duration, []byte, int) {
	b.Helper()
	var first time.Time
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		b.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return first.Sub(start), body, resp.StatusCode
}

func benchGet(b *testing.B, c *http.Client, u string) []byte {
	b.Helper()
	req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, u, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, body, status := benchFetch(b, c, req)
	if status != http.StatusOK {
		b.Fatalf("GET %s: %d", u, status)
	}
	return body
}

var benchCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// benchFormCSRF is the CSRF token of the form on page u, for c's cookies.
func benchFormCSRF(b *testing.B, c *http.Client, u string) string {
	b.Helper()
	m := benchCSRF.FindSubmatch(benchGet(b, c, u))
	if m == nil {
		b.Fatalf("%s: no csrf input", u)
	}
	return string(m[1])
}

// benchSignIn signs c in with token, as the sign-in form does.
func benchSignIn(b *testing.B, c *http.Client, base, token string) {
	b.Helper()
	csrf := benchFormCSRF(b, c, base+"/console/signin")
	form := url.Values{"csrf": {csrf}, "token": {token}, "next": {"/console/"}}
	req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, base+"/console/signin", strings.NewReader(form.Encode()))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, body, status := benchFetch(b, c, req)
	if status != http.StatusSeeOther {
		b.Fatalf("sign-in: status %d: %.300s", status, body)
	}
}

// BenchmarkConsolePages measures each console page against a node whose
// ledger holds ZKSHARE_BENCH_TXS transactions (default 10,000): the time
// to first byte over a loopback HTTP/1.1 connection (p50 as ttfb-ms, the
// slowest as ttfb-max-ms) and the page's weight (html-bytes; page-bytes
// adds style.css and console.js, which every page links). The set-up
// takes a few minutes; progress shows in the log. A table of the figures
// ends the log.
//
//	ZKSHARE_TEST_KEYS=... go test -run '^$' -bench ConsolePages -benchtime 20x -timeout 30m ./console
func BenchmarkConsolePages(b *testing.B) {
	if testing.Short() {
		b.Skip("the set-up fills a ledger with 10,000 transactions")
	}
	target := benchTarget(b)
	bl := startBenchLedger(b, target)
	l := bl.srv.Ledger()
	head := l.Head()
	last, err := l.Entry(head.LogSize - 1)
	if err != nil {
		b.Fatal(err)
	}

	anon, signed := benchBrowser(b), benchBrowser(b)
	benchSignIn(b, signed, bl.url, bl.tok)
	static := 0
	for _, p := range []string{"/console/static/style.css", "/console/static/console.js"} {
		static += len(benchGet(b, anon, bl.url+p))
	}
	// The audit page lists the newest entries: is the newest one there?
	// (It reads at most its maxAuditRead entries, oldest first.)
	for i := head.LogSize; i > 0; i-- {
		e, err := l.Entry(i - 1)
		if err != nil {
			b.Fatal(err)
		}
		if e.Tx.Body.GetAudit() == nil {
			continue
		}
		if h := hex.EncodeToString(e.Tx.Hash[:]); !bytes.Contains(benchGet(b, signed, bl.url+"/console/audit"), []byte(h)) {
			b.Logf("the audit page does not list the newest audit entry (tx %s, log index %d)", h, e.LogIndex)
		}
		break
	}
	verifyCSRF := benchFormCSRF(b, anon, bl.url+"/console/verify")
	verifyForm := func() ([]byte, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("csrf", verifyCSRF) // writes to a buffer do not fail
		_ = mw.WriteField("bundle", string(bl.bundle))
		_ = mw.Close()
		return buf.Bytes(), mw.FormDataContentType()
	}

	pages := []benchPage{
		{name: "overview", path: "/console/", want: "Overview"},
		{name: "ledger", path: "/console/ledger", want: "Ledger"},
		{name: "block", path: fmt.Sprintf("/console/ledger/block/%d", head.Height), want: fmt.Sprintf("Block %d", head.Height)},
		{name: "tx", path: "/console/ledger/tx/" + hex.EncodeToString(last.Tx.Hash[:]), want: "Transaction"},
		{name: "consistency", path: fmt.Sprintf("/console/ledger/consistency?from=1&to=%d", head.Height), want: "Consistency"},
		{name: "collection-anon", path: bl.path, want: "benefits"},
		{name: "collection-holder", path: bl.path, as: "holder", want: "benefits"},
		{name: "audit-holder", path: "/console/audit", as: "holder", want: "Audit"},
		{name: "verify-form", path: "/console/verify", want: "verify-form"},
		{name: "verify-post", path: "/console/verify", post: verifyForm, want: ">VALID<"},
		{name: "devices", path: "/console/devices", want: "Devices"},
	}
	// A profile of the page requests alone (-cpuprofile's is mostly the
	// set-up's).
	if path := os.Getenv(benchProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatalf("%s: %v (not with -cpuprofile)", benchProfileEnv, err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				b.Error(err)
			}
		}()
	}
	results := map[string]*benchSample{}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			c := anon
			if p.as == "holder" {
				c = signed
			}
			s := &benchSample{}
			cpu0 := benchCPU()
			for b.Loop() {
				method, body, ct := http.MethodGet, []byte(nil), ""
				if p.post != nil {
					method = http.MethodPost
					body, ct = p.post()
				}
				req, err := http.NewRequestWithContext(b.Context(), method, bl.url+p.path, bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				ttfb, body, status := benchFetch(b, c, req)
				if status != http.StatusOK || !bytes.Contains(body, []byte(p.want)) {
					b.Fatalf("%s: status %d, want 200 and %q: %.300s", p.path, status, p.want, body)
				}
				s.ttfb = append(s.ttfb, ttfb)
				s.htmlBytes = len(body)
			}
			s.total = s.htmlBytes + static
			s.cpu = (benchCPU() - cpu0) / time.Duration(len(s.ttfb))
			slices.Sort(s.ttfb)
			b.ReportMetric(benchMs(s.ttfb[len(s.ttfb)/2]), "ttfb-ms")
			b.ReportMetric(benchMs(s.ttfb[len(s.ttfb)-1]), "ttfb-max-ms")
			b.ReportMetric(float64(s.htmlBytes), "html-bytes")
			b.ReportMetric(float64(s.total), "page-bytes")
			b.ReportMetric(benchMs(s.cpu), "cpu-ms")
			results[p.name] = s // the last run (b.N of -benchtime) stays
		})
	}

	var tab strings.Builder
	fmt.Fprintf(&tab, "console pages at %d transactions (%d blocks), %d cores (GOMAXPROCS %d), %s; set-up %v\n",
		head.LogSize, head.Height, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), bl.setup.Round(time.Second))
	fmt.Fprintf(&tab, "%-18s %5s %9s %9s %9s %10s %12s\n", "page", "runs", "p50 ms", "max ms", "cpu ms", "html B", "+css+js B")
	for _, p := range pages {
		s, ok := results[p.name]
		if !ok {
			continue // filtered out by -bench
		}
		fmt.Fprintf(&tab, "%-18s %5d %9.1f %9.1f %9.1f %10d %12d\n", p.name, len(s.ttfb),
			benchMs(s.ttfb[len(s.ttfb)/2]), benchMs(s.ttfb[len(s.ttfb)-1]), benchMs(s.cpu), s.htmlBytes, s.total)
	}
	b.Logf("\n%s", tab.String())
}

func benchMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
