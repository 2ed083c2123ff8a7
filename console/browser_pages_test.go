package console_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// stepTimeout bounds one page load or one wait for an element: a page that
// never comes fails its step, not the whole browser's lifetime later.
const stepTimeout = 30 * time.Second

// visitPage loads url in the tab and returns the HTTP status of the page.
func visitPage(ctx context.Context, t *testing.T, url string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	return resp.Status
}

// followTo runs steps that lead to another page (a click on a link or a
// button, Enter in a form), waits for that page to load and returns its
// HTTP status (after any redirect).
func followTo(ctx context.Context, t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

// waitShown waits until the element sel selects shows.
func waitShown(ctx context.Context, t *testing.T, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("waiting for %s: %v", sel, err)
	}
}

// evalJS evaluates a script in the page and returns its value.
func evalJS[T any](ctx context.Context, t *testing.T, script string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script))
	if err != nil {
		t.Fatalf("evaluating %.80q: %v", script, err)
	}
	return v
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// textsOf are the visible texts (innerText, trimmed) of the elements sel
// selects, in document order.
func textsOf(ctx context.Context, t *testing.T, sel string) []string {
	t.Helper()
	return evalJS[[]string](ctx, t, fmt.Sprintf(`[...document.querySelectorAll(%s)].map(e => e.innerText.trim())`, jsString(sel)))
}

// textOf is the visible text of the first element sel selects; a page
// without one fails the test.
func textOf(ctx context.Context, t *testing.T, sel string) string {
	t.Helper()
	ts := textsOf(ctx, t, sel)
	if len(ts) == 0 {
		t.Fatalf("%s: no %s on the page", tabURL(ctx, t), sel)
	}
	return ts[0]
}

// countOf is the number of elements sel selects.
func countOf(ctx context.Context, t *testing.T, sel string) int {
	t.Helper()
	return evalJS[int](ctx, t, fmt.Sprintf(`document.querySelectorAll(%s).length`, jsString(sel)))
}

// classesOf are the class attributes of the elements sel selects.
func classesOf(ctx context.Context, t *testing.T, sel string) []string {
	t.Helper()
	return evalJS[[]string](ctx, t, fmt.Sprintf(`[...document.querySelectorAll(%s)].map(e => e.className)`, jsString(sel)))
}

// tabURL is the tab's URL.
func tabURL(ctx context.Context, t *testing.T) string {
	t.Helper()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	return u
}

// signInForm signs in through /console/signin: the token typed into the
// form and sent with Enter. It returns the status of the page it lands on.
func signInForm(ctx context.Context, t *testing.T, base, token string) int64 {
	t.Helper()
	if code := visitPage(ctx, t, base+"/console/signin"); code != http.StatusOK {
		t.Fatalf("sign-in page: %d", code)
	}
	return followTo(ctx, t, "signing in",
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.KeyEvent(kb.Enter))
}

// pageSecrets are what no page may show: the seed's canaries and the tokens.
func pageSecrets(s *seeded) []string {
	return append(slices.Clone(s.Canaries), s.HolderToken, s.AdminToken, s.ConsumerToken)
}

// TestConsolePages walks the console in a browser as a visitor would:
// anonymous pages, the ledger by its links, a collection, signing in with
// the keyboard, the holder's pages and the audit filter, the verify form
// with a pasted and an attached bundle, the devices page, then signing out
// and the refusals (no session, no CSRF token). Every page is shot at both
// widths and scanned for the seeded records' values, salts, keys and the
// tokens; no page may log a script error or fail a load.
func TestConsolePages(t *testing.T) {
	s := seed(t)
	ctx := newBrowser(t)
	js := watchJS(ctx, t)
	secret := pageSecrets(s)
	base := s.URL + "/console"
	// check shoots the page and scans it.
	check := func(name string) {
		t.Helper()
		shot(ctx, t, name)
		noCanaries(ctx, t, name+" ("+tabURL(ctx, t)+")", secret)
	}
	head := s.Node.Ledger().Head().Height

	// Overview, anonymous.
	if code := visitPage(ctx, t, base+"/"); code != http.StatusOK {
		t.Fatalf("overview: %d", code)
	}
	if got := textOf(ctx, t, "#tip-height"); got != strconv.FormatUint(head, 10) {
		t.Errorf("overview: tip height %q, want %d", got, head)
	}
	if got := textsOf(ctx, t, "#collections tbody td:first-child a"); !slices.Contains(got, "holder/benefits") || !slices.Contains(got, "holder/coldchain") {
		t.Errorf("overview: collections %q, want holder/benefits and holder/coldchain", got)
	}
	if n := countOf(ctx, t, "#signed-in"); n != 0 {
		t.Error("overview: signed in before signing in")
	}
	check("overview")

	// The ledger, by its links: the newest block, a transaction of it, then
	// the consistency of the log between the first block and the tip.
	if code := visitPage(ctx, t, base+"/ledger"); code != http.StatusOK {
		t.Fatalf("ledger: %d", code)
	}
	if got := textOf(ctx, t, "#blocks tbody tr:first-child td:first-child a"); got != strconv.FormatUint(head, 10) {
		t.Errorf("ledger: newest block %q, want %d", got, head)
	}
	check("ledger")
	if code := followTo(ctx, t, "the newest block's link", chromedp.Click(chromedp.CSS("#blocks tbody tr:first-child td:first-child a"))); code != http.StatusOK {
		t.Fatalf("block %d: %d", head, code)
	}
	waitShown(ctx, t, "#block-height")
	if got := textOf(ctx, t, "#block-height"); got != strconv.FormatUint(head, 10) {
		t.Errorf("block page: height %q, want %d", got, head)
	}
	check("block")
	if n := countOf(ctx, t, "table.txs tbody tr"); n == 0 {
		t.Fatalf("block %d lists no transaction", head)
	}
	txHash := textOf(ctx, t, "table.txs tbody tr:first-child td.hash a")
	if code := followTo(ctx, t, "a transaction's link", chromedp.Click(chromedp.CSS("table.txs tbody tr:first-child td.hash a"))); code != http.StatusOK {
		t.Fatalf("transaction %s: %d", txHash, code)
	}
	waitShown(ctx, t, "#inclusion")
	if c := classesOf(ctx, t, "#inclusion"); len(c) != 1 || !slices.Contains(strings.Fields(c[0]), "pass") {
		t.Errorf("transaction page: #inclusion has class %q, want pass", c)
	}
	if got := textOf(ctx, t, "#inclusion"); !strings.Contains(got, "Included: checked.") {
		t.Errorf("transaction page: inclusion %q", got)
	}
	check("transaction")
	if code := visitPage(ctx, t, base+"/ledger/consistency"); code != http.StatusOK {
		t.Fatalf("consistency: %d", code)
	}
	if code := followTo(ctx, t, "checking consistency",
		chromedp.SetValue(chromedp.CSS("#from"), "2"),
		chromedp.SetValue(chromedp.CSS("#to"), strconv.FormatUint(head, 10)),
		chromedp.Click(chromedp.CSS("form.row button[type=submit]")),
	); code != http.StatusOK {
		t.Fatalf("consistency check: %d", code)
	}
	waitShown(ctx, t, "#consistency")
	if n := countOf(ctx, t, "#consistency.pass"); n != 1 {
		t.Errorf("consistency from block 2 to %d: %q", head, textOf(ctx, t, "#consistency"))
	}
	if u := tabURL(ctx, t); !strings.Contains(u, fmt.Sprintf("from=2&to=%d", head)) {
		t.Errorf("consistency: the form went to %s", u)
	}
	check("consistency")

	// A collection, anonymous: its anchors and their chart, not the holder's part.
	coll := base + "/collection/holder/benefits"
	if code := visitPage(ctx, t, coll); code != http.StatusOK {
		t.Fatalf("collection: %d", code)
	}
	if n := countOf(ctx, t, "#anchors tbody tr"); n == 0 {
		t.Error("collection: no anchor listed")
	}
	if n := countOf(ctx, t, "section[aria-labelledby=anchors-h] svg rect.bar"); n == 0 {
		t.Error("collection: the anchors chart has no bar")
	}
	if n := countOf(ctx, t, "#owner, #policy"); n != 0 {
		t.Error("collection: an anonymous visitor sees the holder's part")
	}
	check("collection-anonymous")

	// Sign in with the form: the token typed, Enter to send.
	if code := signInForm(ctx, t, s.URL, s.HolderToken); code != http.StatusOK {
		t.Fatalf("signing in: landed on a %d page", code)
	}
	if u := tabURL(ctx, t); u != base+"/" {
		t.Errorf("signing in landed on %s, want %s/", u, base)
	}
	if got := textOf(ctx, t, "#signed-in"); !strings.Contains(got, "Signed in as holder") {
		t.Errorf("after signing in the header says %q", got)
	}
	if c := evalJS[string](ctx, t, `document.cookie`); strings.Contains(c, "zkshare_session") {
		t.Errorf("a script reads the session cookie: %q", c)
	}
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(cookies.Cookies, func(c *network.Cookie) bool { return c.Name == "zkshare_session" }); i < 0 {
		t.Error("no session cookie after signing in")
	} else if c := cookies.Cookies[i]; !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/console/" {
		t.Errorf("session cookie: HttpOnly %v, SameSite %q, Path %q", c.HTTPOnly, c.SameSite, c.Path)
	}
	check("overview-holder")

	// The holder's views: the collection's own part, the audit trail and its filter.
	if code := visitPage(ctx, t, coll); code != http.StatusOK {
		t.Fatalf("collection as holder: %d", code)
	}
	if n := countOf(ctx, t, "#owner"); n != 1 {
		t.Error("collection as holder: no #owner")
	}
	if got := textsOf(ctx, t, "#policy tbody td:first-child"); !slices.Contains(got, seedConsumer) {
		t.Errorf("collection as holder: policy's consumers %q, want %s", got, seedConsumer)
	}
	check("collection-holder")
	if code := visitPage(ctx, t, base+"/audit"); code != http.StatusOK {
		t.Fatalf("audit as holder: %d", code)
	}
	rows := textsOf(ctx, t, "#audit tbody tr")
	if len(rows) < 2 || !slices.ContainsFunc(rows, func(r string) bool { return strings.Contains(r, seedConsumer) && strings.Contains(r, "subject") }) {
		t.Errorf("audit as holder: rows %q, want %s's subject question among them", rows, seedConsumer)
	}
	check("audit")
	if code := followTo(ctx, t, "filtering the audit trail",
		chromedp.SetValue(chromedp.CSS("#f-collection"), "holder/coldchain"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Filter"] button[type=submit]`)),
	); code != http.StatusOK {
		t.Fatalf("audit filtered: %d", code)
	}
	if got := textOf(ctx, t, "#audit-total"); !strings.HasPrefix(got, "1 entries") {
		t.Errorf("audit filtered by holder/coldchain: %q, want 1 entries", got)
	}
	if n := countOf(ctx, t, "#audit tbody tr"); n != 1 {
		t.Errorf("audit filtered by holder/coldchain: %d rows, want 1", n)
	}
	check("audit-coldchain")

	// Verify: the good bundle pasted with its nonce, then a tampered one attached as a file.
	if code := visitPage(ctx, t, base+"/verify"); code != http.StatusOK {
		t.Fatalf("verify: %d", code)
	}
	if code := followTo(ctx, t, "verifying the good bundle",
		chromedp.SetValue(chromedp.CSS("#bundle"), string(s.GoodBundle)),
		chromedp.SendKeys(chromedp.CSS("#nonce"), hex.EncodeToString(s.GoodNonce)),
		chromedp.Click(chromedp.CSS("#verify-form button[type=submit]")),
	); code != http.StatusOK {
		t.Fatalf("verify the good bundle: %d", code)
	}
	waitShown(ctx, t, "#verdict")
	if got := textOf(ctx, t, "#verdict strong"); got != "VALID" {
		t.Errorf("good bundle: verdict %q, want VALID", got)
	}
	checks := classesOf(ctx, t, "#checks li")
	if len(checks) == 0 || slices.ContainsFunc(checks, func(c string) bool { return c != "pass" }) {
		t.Errorf("good bundle: checks %q, want every one pass: %q", checks, textsOf(ctx, t, "#checks li"))
	}
	check("verify-valid")

	tampered := regexp.MustCompile(`"result":\s*true`).ReplaceAll(s.GoodBundle, []byte(`"result": false`))
	if bytes.Equal(tampered, s.GoodBundle) {
		t.Fatalf("the good bundle has no result to flip:\n%s", s.GoodBundle)
	}
	file := filepath.Join(t.TempDir(), "tampered.json")
	if err := os.WriteFile(file, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := visitPage(ctx, t, base+"/verify"); code != http.StatusOK {
		t.Fatalf("verify: %d", code)
	}
	if code := followTo(ctx, t, "verifying the tampered bundle",
		chromedp.SetUploadFiles(chromedp.CSS("#bundle_file"), []string{file}),
		chromedp.Click(chromedp.CSS("#verify-form button[type=submit]")),
	); code != http.StatusOK {
		t.Fatalf("verify the tampered bundle: %d", code)
	}
	waitShown(ctx, t, "#verdict")
	if got := textOf(ctx, t, "#verdict strong"); got != "NOT VALID" {
		t.Errorf("tampered bundle: verdict %q, want NOT VALID", got)
	}
	if failed := textsOf(ctx, t, "#checks li.fail .check"); !slices.Equal(failed, []string{"proof"}) {
		t.Errorf("tampered bundle: failed checks %q, want proof", failed)
	}
	if reason := textsOf(ctx, t, "#checks li.fail .reason"); len(reason) != 1 || reason[0] == "" {
		t.Errorf("tampered bundle: the failed check gives no reason (%q)", reason)
	}
	check("verify-tampered")

	// Devices: two sensors feed a device-fed collection, one with a gap
	// (devices_test.go); their readings' values are canaries too.
	secret = append(secret, seedDevices(t, s)...)
	if code := visitPage(ctx, t, base+"/devices"); code != http.StatusOK {
		t.Fatalf("devices: %d", code)
	}
	if got := textOf(ctx, t, "#devices"); !strings.Contains(got, sensorA) || !strings.Contains(got, sensorB) || !strings.Contains(got, "ColdTrack T8") {
		t.Errorf("devices: %q", got)
	}
	check("devices")

	// Until now no page logged an error or failed a load. The refusals
	// below are pages with 401 and 403 statuses, which the browser logs
	// as failed loads of those pages: only those may be added.
	if errs := js.errors(); len(errs) != 0 {
		t.Errorf("script errors or failed loads: %q", errs)
	}
	seen := len(js.errors())

	// Sign out with the header's button; the audit trail then needs a sign-in.
	if code := followTo(ctx, t, "signing out", chromedp.Click(chromedp.CSS(`header form[action="/console/signout"] button`))); code != http.StatusOK {
		t.Fatalf("signing out: landed on a %d page", code)
	}
	if n := countOf(ctx, t, "#signed-in"); n != 0 {
		t.Error("still signed in after signing out")
	}
	if code := visitPage(ctx, t, base+"/audit"); code != http.StatusUnauthorized {
		t.Errorf("audit after signing out: %d, want 401", code)
	}
	signin := `main a[href^="/console/signin?next="]`
	if n := countOf(ctx, t, signin); n != 1 {
		t.Errorf("the 401 page has no sign-in link: %q", textOf(ctx, t, "main"))
	}
	check("audit-signed-out")

	// A sign-in form without its CSRF token is refused.
	if code := followTo(ctx, t, "the sign-in link", chromedp.Click(chromedp.CSS(signin))); code != http.StatusOK {
		t.Fatalf("sign-in page: %d", code)
	}
	if next := evalJS[string](ctx, t, `document.querySelector('#signin-form input[name="next"]').value`); next != "/console/audit" {
		t.Errorf("the sign-in form returns to %q, want /console/audit", next)
	}
	if n := evalJS[int](ctx, t, `(() => { const i = document.querySelectorAll('#signin-form input[name="csrf"]'); i.forEach(e => e.remove()); return i.length; })()`); n != 1 {
		t.Fatalf("the sign-in form had %d csrf inputs", n)
	}
	if code := followTo(ctx, t, "signing in without a CSRF token",
		chromedp.SendKeys(chromedp.CSS("#token"), s.HolderToken),
		chromedp.KeyEvent(kb.Enter),
	); code != http.StatusForbidden {
		t.Errorf("sign-in without a CSRF token: %d, want 403", code)
	}
	if got := textOf(ctx, t, "main"); !strings.Contains(got, "CSRF") {
		t.Errorf("sign-in without a CSRF token: %q", got)
	}
	if n := countOf(ctx, t, "#signed-in"); n != 0 {
		t.Error("a sign-in without a CSRF token signed in")
	}
	check("csrf-refused")

	// What the refusals added: at most the failed loads of those two pages.
	if errs := unexpectedErrors(js.errors()[seen:], refusal(http.StatusUnauthorized, base+"/audit"), refusal(http.StatusForbidden, base+"/signin")); len(errs) != 0 {
		t.Errorf("script errors or failed loads on the refusal pages: %q", errs)
	}
}

// refusal is how the browser logs a page served with an error status.
func refusal(status int, url string) string {
	return fmt.Sprintf("network: Failed to load resource: the server responded with a status of %d (%s) %s", status, http.StatusText(status), url)
}

// unexpectedErrors are the errors other than the refusals named.
func unexpectedErrors(errs []string, refusals ...string) []string {
	return slices.DeleteFunc(slices.Clone(errs), func(e string) bool { return slices.Contains(refusals, e) })
}

// overflowJS measures the page's width against the viewport's and, when the
// page is wider, names the elements that stick out of the viewport outside
// any horizontal scroll container of their own (document order: the
// outermost first).
const overflowJS = `(() => {
	const root = document.documentElement, vw = root.clientWidth;
	const name = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
		(typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : "");
	const path = e => { const p = []; for (; e && e !== document.body; e = e.parentElement) p.unshift(name(e)); return p.join(" > "); };
	const clipped = e => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) { if (getComputedStyle(p).overflowX !== "visible") return true; } return false; };
	const out = [];
	if (root.scrollWidth > vw) {
		for (const e of document.body.querySelectorAll("*")) {
			const r = e.getBoundingClientRect();
			if (r.width > 0 && r.right > vw + 0.5 && !clipped(e)) {
				out.push(path(e) + " (" + Math.round(r.left) + " to " + Math.round(r.right) + " px: " + JSON.stringify((e.innerText || e.textContent || "").trim().slice(0, 40)) + ")");
			}
		}
	}
	return {viewport: vw, width: root.scrollWidth, over: out};
})()`

// overflowReport is what overflowJS measures.
type overflowReport struct {
	Viewport int      `json:"viewport"`
	Width    int      `json:"width"`
	Over     []string `json:"over"`
}

// unlabelledJS lists the visible form controls without a <label>.
const unlabelledJS = `[...document.querySelectorAll("input, select, textarea")]
	.filter(e => e.type !== "hidden" && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden")
	.filter(e => e.labels === null || e.labels.length === 0)
	.map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.name ? "[name=" + e.name + "]" : ""))`

// focusedJS describes the focused element and whether it shows inside the viewport.
const focusedJS = `(() => {
	const e = document.activeElement, r = e.getBoundingClientRect();
	return {tag: e.tagName.toLowerCase(), class: e.className || "", text: (e.innerText || "").trim(), href: e.getAttribute("href") || "",
		shown: r.width > 0 && r.left >= 0 && r.right <= document.documentElement.clientWidth && r.top >= 0};
})()`

// focusReport is what focusedJS reports.
type focusReport struct {
	Tag   string `json:"tag"`
	Class string `json:"class"`
	Text  string `json:"text"`
	Href  string `json:"href"`
	Shown bool   `json:"shown"`
}

// accessible checks the page in the tab at its current viewport: no wider
// than the viewport, every visible control labelled, and the first Tab
// focusing the skip link, which then shows. A page wider than the
// viewport is shot (at both widths) for the report.
func accessible(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	o := evalJS[overflowReport](ctx, t, overflowJS)
	if o.Viewport != int(phone.width) {
		t.Fatalf("%s: the viewport is %d px wide, want %d", name, o.Viewport, phone.width)
	}
	t.Logf("%s: %d px wide at a %d px viewport", name, o.Width, o.Viewport)
	if o.Width > o.Viewport {
		// ASSERTION (layout): the page scrolls sideways at a phone's width.
		t.Errorf("%s (%s) is %d px wide at a %d px viewport; sticking out:\n\t%s",
			name, tabURL(ctx, t), o.Width, o.Viewport, strings.Join(o.Over, "\n\t"))
		shot(ctx, t, "overflow-"+name)
		if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error { return setViewport(ctx, tg, phone) })); err != nil {
			t.Fatal(err)
		}
	}
	if un := evalJS[[]string](ctx, t, unlabelledJS); len(un) != 0 {
		// ASSERTION (labels): a form control without a <label>.
		t.Errorf("%s: controls without a label: %q", name, un)
	}
	// Focus starts at the top of the document; the first Tab lands on the skip link.
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`),
		chromedp.KeyEvent(kb.Tab),
	); err != nil {
		t.Fatal(err)
	}
	if f := evalJS[focusReport](ctx, t, focusedJS); f.Tag != "a" || f.Class != "skip" || f.Text != "Skip to content" || f.Href != "#main" || !f.Shown {
		// ASSERTION (keyboard): the first Tab must reach the visible skip link.
		t.Errorf("%s: the first Tab focuses %+v, want the skip link to #main, shown", name, f)
	}
}

// scriptsOff turns the tab's JavaScript off or back on (Emulation.setScriptExecutionDisabled).
func scriptsOff(ctx context.Context, t *testing.T, off bool) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: off}); err != nil {
		t.Fatalf("scripts off %v: %v", off, err)
	}
}

// TestConsoleAccessible: at a phone's width (390 px, mobile emulation)
// no page is wider than the screen (wide tables scroll inside their
// .scroll wrappers), every visible form control has a label, and the first
// Tab focuses the "Skip to content" link; with JavaScript off, the
// overview and the audit trail still show, and the verify form still
// checks a bundle.
func TestConsoleAccessible(t *testing.T) {
	s := seed(t)
	ctx := newBrowser(t)
	js := watchJS(ctx, t)
	base := s.URL + "/console"
	l := s.Node.Ledger()
	head := l.Head().Height
	blk, _, err := l.Block(head)
	if err != nil || len(blk.GetTxs()) == 0 {
		t.Fatalf("block %d: %v, %d transactions", head, err, len(blk.GetTxs()))
	}
	txPath := "/ledger/tx/" + sha256Hex(blk.GetTxs()[0])

	toPhone := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error { return setViewport(ctx, tg, phone) })
	if err := chromedp.Do(ctx, toPhone); err != nil {
		t.Fatal(err)
	}
	type page struct {
		name, path string
		status     int64
	}
	visit := func(pages ...page) {
		t.Helper()
		for _, p := range pages {
			if code := visitPage(ctx, t, base+p.path); code != p.status {
				t.Errorf("%s: %d, want %d", p.path, code, p.status)
			}
			accessible(ctx, t, p.name)
		}
	}
	visit(
		page{"overview-anonymous", "/", http.StatusOK},
		page{"collection-anonymous", "/collection/holder/benefits", http.StatusOK},
		page{"audit-anonymous", "/audit", http.StatusUnauthorized},
		page{"signin", "/signin", http.StatusOK},
		page{"not-found", "/nothing", http.StatusNotFound},
	)
	if code := signInForm(ctx, t, s.URL, s.HolderToken); code != http.StatusOK {
		t.Fatalf("signing in: %d", code)
	}
	visit(
		page{"overview", "/", http.StatusOK},
		page{"ledger", "/ledger", http.StatusOK},
		page{"block", fmt.Sprintf("/ledger/block/%d", head), http.StatusOK},
		page{"transaction", txPath, http.StatusOK},
		page{"consistency", fmt.Sprintf("/ledger/consistency?from=1&to=%d", head), http.StatusOK},
		page{"collection", "/collection/holder/benefits", http.StatusOK},
		page{"collection-coldchain", "/collection/holder/coldchain", http.StatusOK},
		page{"audit", "/audit", http.StatusOK},
		page{"audit-filtered", "/audit?collection=holder/coldchain&consumer=" + seedConsumer, http.StatusOK},
		page{"devices", "/devices", http.StatusOK},
		page{"verify", "/verify", http.StatusOK},
	)
	// A verdict, with its list of checks and warnings.
	if code := followTo(ctx, t, "verifying the good bundle",
		chromedp.SetValue(chromedp.CSS("#bundle"), string(s.GoodBundle)),
		chromedp.SetValue(chromedp.CSS("#nonce"), hex.EncodeToString(s.GoodNonce)),
		chromedp.Click(chromedp.CSS("#verify-form button[type=submit]")),
	); code != http.StatusOK {
		t.Fatalf("verify: %d", code)
	}
	accessible(ctx, t, "verify-valid")
	if errs := unexpectedErrors(js.errors(), refusal(http.StatusUnauthorized, base+"/audit"), refusal(http.StatusNotFound, base+"/nothing")); len(errs) != 0 {
		t.Errorf("script errors or failed loads: %q", errs)
	}

	// JavaScript off: the pages are read without it. The console's one
	// script marks a dragged-over bundle box; with scripts off it never ran.
	scriptsOff(ctx, t, true)
	const dragged = `(() => { const b = document.querySelector("textarea[data-drop]"); b.dispatchEvent(new Event("dragenter")); return b.classList.contains("dragging"); })()`
	visitPage(ctx, t, base+"/verify")
	if evalJS[bool](ctx, t, dragged) {
		t.Fatal("scripts still run after Emulation.setScriptExecutionDisabled")
	}
	if code := visitPage(ctx, t, base+"/"); code != http.StatusOK {
		t.Errorf("overview without JavaScript: %d", code)
	}
	waitShown(ctx, t, "#tip-height")
	if got := textOf(ctx, t, "#tip-height"); got != strconv.FormatUint(head, 10) {
		t.Errorf("overview without JavaScript: tip height %q, want %d", got, head)
	}
	if code := visitPage(ctx, t, base+"/audit"); code != http.StatusOK {
		t.Errorf("audit without JavaScript: %d", code)
	}
	waitShown(ctx, t, "#audit")
	if n := countOf(ctx, t, "#audit tbody tr"); n < 2 {
		t.Errorf("audit without JavaScript: %d rows, want 2", n)
	}
	// Scripts back on (shot waits for frames with a script), the page as
	// it loaded without them.
	scriptsOff(ctx, t, false)
	shot(ctx, t, "audit-nojs")
	visitPage(ctx, t, base+"/verify")
	if !evalJS[bool](ctx, t, dragged) {
		t.Error("the console's script does not mark a dragged-over bundle box")
	}
}
