package console_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/console"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
)

// visitor is one browser's worth of cookies against a seeded node.
type visitor struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newVisitor(t *testing.T, s *seeded) *visitor {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.CloseIdleConnections)
	return &visitor{t: t, base: s.URL, c: c}
}

func (v *visitor) do(req *http.Request) (int, string, http.Header) {
	v.t.Helper()
	resp, err := v.c.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func (v *visitor) get(path string) (int, string) {
	v.t.Helper()
	req, _ := http.NewRequestWithContext(v.t.Context(), http.MethodGet, v.base+path, nil)
	code, body, _ := v.do(req)
	return code, body
}

func (v *visitor) post(path string, form url.Values) (int, string, http.Header) {
	v.t.Helper()
	req, _ := http.NewRequestWithContext(v.t.Context(), http.MethodPost, v.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return v.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token in a page's forms.
func (v *visitor) csrf(path string) string {
	v.t.Helper()
	_, body := v.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		v.t.Fatalf("%s has no CSRF token", path)
	}
	return m[1]
}

func (v *visitor) signIn(token string) {
	v.t.Helper()
	code, body, h := v.post("/console/signin", url.Values{"csrf": {v.csrf("/console/signin")}, "token": {token}})
	if code != http.StatusSeeOther || h.Get("Location") != "/console/" {
		v.t.Fatalf("sign-in: %d %q\n%s", code, h.Get("Location"), body)
	}
}

// verify posts a bundle as a file, with a nonce and other pins (field,
// value pairs), and returns the page.
func (v *visitor) verify(b []byte, nonce string, pins ...string) (int, string) {
	v.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("csrf", v.csrf("/console/verify"))
	_ = mw.WriteField("nonce", nonce)
	for i := 0; i+1 < len(pins); i += 2 {
		_ = mw.WriteField(pins[i], pins[i+1])
	}
	fw, _ := mw.CreateFormFile("bundle_file", "answer.json")
	_, _ = fw.Write(b)
	_ = mw.Close()
	req, _ := http.NewRequestWithContext(v.t.Context(), http.MethodPost, v.base+"/console/verify", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	code, body, _ := v.do(req)
	return code, body
}

func mustContain(t *testing.T, where, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s: no %q in the page", where, w)
		}
	}
}

// TestPages loads every page as anonymous, consumer and holder, checks
// what each shows and who sees what, and scans every page's HTML for the
// seeded records' values, salts and keys and for the tokens.
func TestPages(t *testing.T) {
	s := seed(t)
	l := s.Node.Ledger()
	anon, holder, consumer, admin := newVisitor(t, s), newVisitor(t, s), newVisitor(t, s), newVisitor(t, s)
	holder.signIn(s.HolderToken)
	consumer.signIn(s.ConsumerToken)
	admin.signIn(s.AdminToken)

	head := l.Head()
	pages := map[string]string{} // path as who -> HTML, for the canary scan
	load := func(v *visitor, who, path string, want int) string {
		t.Helper()
		code, body := v.get(path)
		if code != want {
			t.Errorf("%s as %s: %d, want %d\n%.600s", path, who, code, want, body)
		}
		pages[path+" as "+who] = body
		return body
	}

	// Overview: the tip height, the checkpoint, the collections.
	ov := load(anon, "anonymous", "/console/", 200)
	mustContain(t, "overview", ov, fmt.Sprintf(`id="tip-height" href="/console/ledger/block/%d">%d<`, head.Height, head.Height),
		"holder/benefits", "holder/coldchain", l.Origin(), "register collection")
	cp, _, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "overview", ov, strings.SplitN(string(cp), "\n", 3)[1]) // the checkpoint's size line

	// The ledger: blocks, a block, every transaction with its inclusion checked.
	mustContain(t, "blocks", load(anon, "anonymous", "/console/ledger", 200), fmt.Sprintf(`/console/ledger/block/%d"`, head.Height))
	for h := uint64(1); h <= head.Height; h++ {
		blk, _, err := l.Block(h)
		if err != nil {
			t.Fatal(err)
		}
		body := load(anon, "anonymous", fmt.Sprintf("/console/ledger/block/%d", h), 200)
		mustContain(t, fmt.Sprintf("block %d", h), body, fmt.Sprintf(`id="block-height">%d<`, h))
		for _, raw := range blk.GetTxs() {
			hash := sha256Hex(raw)
			tx := load(anon, "anonymous", "/console/ledger/tx/"+hash, 200)
			mustContain(t, "tx "+hash[:8], tx, `class="verdict pass"`, "Included: checked.")
		}
	}
	load(anon, "anonymous", "/console/ledger/tx/"+strings.Repeat("ab", 32), 404)
	load(anon, "anonymous", "/console/ledger/tx/nothex", 400)
	load(anon, "anonymous", fmt.Sprintf("/console/ledger/block/%d", head.Height+1), 404)
	mustContain(t, "consistency", load(anon, "anonymous", fmt.Sprintf("/console/ledger/consistency?from=2&to=%d", head.Height), 200),
		`id="consistency" class="verdict pass"`)
	load(anon, "anonymous", "/console/ledger/consistency?from=0&to=1", 400)

	// A collection: public part for everyone, the holder's part for its holder only.
	coll := "/console/collection/holder/benefits"
	for who, v := range map[string]*visitor{"anonymous": anon, "consumer": consumer, "admin": admin} {
		body := load(v, who, coll, 200)
		mustContain(t, coll+" as "+who, body, `id="schema"`, `id="anchors"`, "<svg", `id="record-count">10000<`)
		if strings.Contains(body, `id="owner"`) || strings.Contains(body, `id="policy"`) {
			t.Errorf("%s sees the holder's view of the collection", who)
		}
	}
	mine := load(holder, "holder", coll, 200)
	mustContain(t, "collection as holder", mine, `id="owner"`, `id="policy"`, "<td>"+seedConsumer+"</td>", `id="proving"`)
	load(anon, "anonymous", "/console/collection/holder/nothing", 404)

	// Audit: the holder sees both questions, the consumer its own; others none.
	code, body := anon.get("/console/audit")
	if code != http.StatusUnauthorized || !strings.Contains(body, "/console/signin?next=") {
		t.Errorf("audit without a session: %d", code)
	}
	load(admin, "admin", "/console/audit", http.StatusForbidden)
	au := load(holder, "holder", "/console/audit", 200)
	mustContain(t, "audit as holder", au, `id="audit"`, "<td>"+seedConsumer+"</td>", "<td>subject</td>", "<td>exists</td>", "2 entries", "<svg")
	mustContain(t, "audit filtered", load(holder, "holder", "/console/audit?collection=holder/coldchain", 200), "1 entries about holder/coldchain")
	mustContain(t, "audit of a consumer", load(holder, "holder", "/console/audit?consumer=nobody", 200), "0 entries by nobody")
	load(holder, "holder", "/console/audit?collection=other/thing", 404)
	mustContain(t, "audit as consumer", load(consumer, "consumer", "/console/audit", 200), "2 entries", "<td>subject</td>")

	// Devices, verify form, sign-in page, a page that does not exist.
	load(anon, "anonymous", "/console/devices", 200)
	load(anon, "anonymous", "/console/verify", 200)
	load(anon, "anonymous", "/console/signin", 200)
	load(anon, "anonymous", "/console/nothing", 404)

	// Verify: the good bundle (with its nonce), the same with another nonce,
	// a tampered one, and garbage.
	nonce := hex.EncodeToString(s.GoodNonce)
	code, body = anon.verify(s.GoodBundle, nonce)
	if code != 200 || !strings.Contains(body, `id="verdict" class="verdict pass"`) || !strings.Contains(body, "<strong>VALID</strong>") {
		t.Errorf("good bundle: %d\n%s", code, verdictOf(body))
	}
	mustContain(t, "good bundle", body, `satisfies: `, `<span class="check">proof</span> <span class="result">pass</span>`)
	pages["verify good"] = body
	mustContain(t, "good bundle, subject not pinned", body, "No subject was pinned",
		"single-party development setup") // the verdict's own warning: dev keys say so in every verdict
	// Everything pinned: valid, and no warning about what was not.
	blind := hex.EncodeToString(s.GoodBlind)
	code, body = anon.verify(s.GoodBundle, nonce, "kind", "subject", "collection", "holder/benefits", "query", s.GoodQuery,
		"subject", s.GoodSubject, "blind", blind)
	if code != 200 || !strings.Contains(body, "<strong>VALID</strong>") || strings.Contains(body, "was pinned") {
		t.Errorf("good bundle, all pinned: %d\n%s", code, verdictOf(body))
	}
	// The same bundle passed off as the answer about another subject, or
	// to another question, or about another collection: not valid.
	for _, tc := range []struct {
		name  string
		pins  []string
		check string
	}{
		{"another subject", []string{"subject", "C00001", "blind", blind}, "subject"},
		{"another question", []string{"query", "income <= 1"}, "expectation"},
		{"another collection", []string{"collection", "holder/coldchain"}, "expectation"},
		{"another kind", []string{"kind", "exists"}, "expectation"},
		{"an aggregate's field", []string{"field", "income"}, "expectation"},
		{"an aggregate's threshold", []string{"which", "sum", "relation", "<=", "value", "1"}, "expectation"},
	} {
		_, body := anon.verify(s.GoodBundle, nonce, tc.pins...)
		mustContain(t, "good bundle as "+tc.name, body, "NOT VALID", `<li class="fail"><span class="check">`+tc.check+`</span>`)
	}
	if code, _ := anon.verify(s.GoodBundle, nonce, "subject", s.GoodSubject); code != http.StatusBadRequest {
		t.Errorf("a subject pinned without its blind: %d", code)
	}
	other := strings.Repeat("0", 63) + "1"
	_, body = anon.verify(s.GoodBundle, other)
	mustContain(t, "another nonce", body, "NOT VALID", `<li class="fail"><span class="check">nonce</span>`)
	tampered := regexp.MustCompile(`"result":\s*true`).ReplaceAll(s.GoodBundle, []byte(`"result": false`))
	if bytes.Equal(tampered, s.GoodBundle) {
		t.Fatalf("the good bundle has no result to flip:\n%s", s.GoodBundle)
	}
	_, body = anon.verify(tampered, "")
	mustContain(t, "tampered bundle", body, "NOT VALID", `<li class="fail"><span class="check">proof</span>`)
	pages["verify tampered"] = body
	_, body = anon.verify([]byte("{not json"), "")
	mustContain(t, "garbage", body, "NOT VALID", `<li class="fail"><span class="check">decode</span>`)
	if code, _ := anon.verify(s.GoodBundle, "zz"); code != http.StatusBadRequest {
		t.Errorf("a nonce that is not hex: %d", code)
	}
	if code, _ := anon.verify(bytes.Repeat([]byte(" "), 4<<20), ""); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 4 MiB form: %d", code)
	}

	// No page shows a record value, salt, key or token.
	secrets := append(append([]string{}, s.Canaries...), s.HolderToken, s.AdminToken, s.ConsumerToken)
	for where, html := range pages {
		for _, c := range secrets {
			if c != "" && strings.Contains(strings.ToLower(html), strings.ToLower(c)) {
				t.Errorf("%s shows %q", where, c)
			}
		}
	}
	t.Logf("%d pages scanned for %d canaries", len(pages), len(secrets))
}

func verdictOf(body string) string {
	if i := strings.Index(body, `id="verdict"`); i >= 0 {
		return body[i:min(len(body), i+2000)]
	}
	return body[:min(len(body), 1000)]
}

// TestSessionAndCSRF: a holder page without a session is refused; a form
// without its CSRF token, with another visitor's, or with one from before
// the sign-in is refused and changes nothing; a cross-site post is
// refused; the session cookie is HttpOnly and SameSite=Strict; a wrong
// token signs no one in and is not echoed; signing out ends the session;
// a revoked participant's session ends.
func TestSessionAndCSRF(t *testing.T) {
	s := seed(t)
	v := newVisitor(t, s)
	if code, _ := v.get("/console/audit"); code != http.StatusUnauthorized {
		t.Errorf("audit without a session: %d", code)
	}

	before := v.csrf("/console/signin")
	for name, form := range map[string]url.Values{
		"no token":          {"token": {s.HolderToken}},
		"empty token":       {"token": {s.HolderToken}, "csrf": {""}},
		"forged token":      {"token": {s.HolderToken}, "csrf": {strings.Repeat("A", 43)}},
		"another visitor's": {"token": {s.HolderToken}, "csrf": {newVisitor(t, s).csrf("/console/signin")}},
	} {
		code, body, h := v.post("/console/signin", form)
		if code != http.StatusForbidden || !strings.Contains(body, "CSRF") {
			t.Errorf("sign-in with %s: %d", name, code)
		}
		if strings.Contains(h.Get("Set-Cookie"), "zkshare_session") {
			t.Errorf("sign-in with %s set a session", name)
		}
	}
	if code, _ := v.get("/console/audit"); code != http.StatusUnauthorized {
		t.Error("a refused sign-in signed in")
	}

	// A cross-site form post is refused even with a good token.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/console/signin",
		strings.NewReader(url.Values{"csrf": {before}, "token": {s.HolderToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if code, _, _ := v.do(req); code != http.StatusForbidden {
		t.Errorf("cross-site sign-in: %d", code)
	}

	// A wrong token.
	code, body, _ := v.post("/console/signin", url.Values{"csrf": {before}, "token": {"zks_not-a-token-of-this-node"}})
	if code != http.StatusUnauthorized || strings.Contains(body, "not-a-token") {
		t.Errorf("wrong token: %d (echoed: %v)", code, strings.Contains(body, "not-a-token"))
	}

	// Sign in: the cookie's flags.
	code, _, h := v.post("/console/signin", url.Values{"csrf": {before}, "token": {s.HolderToken}, "next": {"/console/audit"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/console/audit" {
		t.Fatalf("sign-in: %d %q", code, h.Get("Location"))
	}
	sc := h.Values("Set-Cookie")
	if len(sc) == 0 || !strings.Contains(sc[0], "HttpOnly") || !strings.Contains(sc[0], "SameSite=Strict") || !strings.Contains(sc[0], "Path=/console/") {
		t.Errorf("session cookie: %q", sc)
	}
	if code, _ := v.get("/console/audit"); code != 200 {
		t.Fatalf("audit after sign-in: %d", code)
	}
	// The token from before the sign-in no longer serves: sign-out with it is refused.
	if code, _, _ := v.post("/console/signout", url.Values{"csrf": {before}}); code != http.StatusForbidden {
		t.Errorf("sign-out with the pre-sign-in token: %d", code)
	}
	if code, _ := v.get("/console/audit"); code != 200 {
		t.Error("a refused sign-out signed out")
	}
	if code, _, _ := v.post("/console/signout", url.Values{"csrf": {v.csrf("/console/")}}); code != http.StatusSeeOther {
		t.Errorf("sign-out: %d", code)
	}
	if code, _ := v.get("/console/audit"); code != http.StatusUnauthorized {
		t.Error("still signed in after signing out")
	}

	// An open redirect is not one.
	w := newVisitor(t, s)
	_, _, h = w.post("/console/signin", url.Values{"csrf": {w.csrf("/console/signin")}, "token": {s.HolderToken}, "next": {"//evil.example/console/"}})
	if loc := h.Get("Location"); loc != "/console/" {
		t.Errorf("next=//evil.example: redirected to %q", loc)
	}

	// A revoked consumer's session ends at its next request.
	c := newVisitor(t, s)
	c.signIn(s.ConsumerToken)
	if code, _ := c.get("/console/audit"); code != 200 {
		t.Fatalf("consumer's audit: %d", code)
	}
	admin := zksharev1connect.NewAdminServiceClient(s.Client, s.URL, connect.WithInterceptors(client.Bearer(s.AdminToken)))
	if _, err := admin.Propose(t.Context(), &zkv1.ProposeRequest{Action: &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_RevokeParticipant{
		RevokeParticipant: &zkv1.RevokeParticipant{Id: seedConsumer}}}}); err != nil {
		t.Fatalf("revoking the consumer: %v", err)
	}
	if code, _ := c.get("/console/audit"); code != http.StatusUnauthorized {
		t.Errorf("a revoked consumer's session: %d", code)
	}
}

// TestSecurityHeaders: pages forbid inline script, framing and caching.
func TestSecurityHeaders(t *testing.T) {
	s := seed(t)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/console/", nil)
	_, _, h := newVisitor(t, s).do(req)
	for k, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
	} {
		if !strings.Contains(h.Get(k), want) {
			t.Errorf("%s: %q, want %q in it", k, h.Get(k), want)
		}
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestLogsNoSecrets: a sign-in, a refused one and a verify leave log lines
// with no token, key or form content.
func TestLogsNoSecrets(t *testing.T) {
	var logs syncBuf
	b := newBareConsole(t, console.Options{Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	v := newVisitor(t, b.s)
	v.signIn(b.holderTok)
	const wrong, subject = "zks_wrong-token-canary", "C77777"
	w := newVisitor(t, b.s)
	if code, _, _ := w.post("/console/signin", url.Values{"csrf": {w.csrf("/console/signin")}, "token": {wrong}}); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	w.verify([]byte("{not json"), "", "subject", subject, "blind", strings.Repeat("0", 63)+"1")
	out := logs.String()
	if !strings.Contains(out, "console sign-in") || !strings.Contains(out, "refused") {
		t.Fatalf("no sign-in log lines:\n%s", out)
	}
	for _, secret := range []string{b.holderTok, wrong, subject} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
}

// syncBuf is a bytes.Buffer safe for the server's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
