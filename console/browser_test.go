package console_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
)

// The browser: Debian's Chromium (`apt-get install chromium`; the
// Makefile's browser target installs it). ZKSHARE_CHROMIUM names another
// Chromium or Chrome binary, e.g. on a developer's laptop.
const (
	chromiumPath = "/usr/bin/chromium"
	chromiumEnv  = "ZKSHARE_CHROMIUM"
	// screenshotsEnv names a directory for the screenshots (one
	// subdirectory a test); without it they go to the test's artifact
	// directory (kept under -outputdir with `go test -artifacts`).
	screenshotsEnv = "ZKSHARE_SCREENSHOTS"
	// browserLifetime bounds a test's browser: a wait for something that
	// never shows fails the test with "context deadline exceeded" instead
	// of hanging until go test's -timeout.
	browserLifetime = 5 * time.Minute
)

// A viewport a screenshot is taken at.
type viewport struct {
	name          string
	width, height int64
	mobile        bool // mobile emulation: the viewport meta tag, touch
}

var (
	desktop = viewport{name: "desktop", width: 1280, height: 800}
	phone   = viewport{name: "phone", width: 390, height: 844, mobile: true}
	// viewports are those shot takes every page at.
	viewports = []viewport{desktop, phone}
)

// chromium returns the browser binary. Without one, the test is skipped,
// unless CI is set (.ci/run sets it): there a browser test that does not
// run is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	candidates := []string{chromiumPath, "chromium"}
	if p := os.Getenv(chromiumEnv); p != "" {
		candidates = []string{p}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		t.Skipf("no browser (%s): apt-get install chromium, or name one in %s", strings.Join(candidates, ", "), chromiumEnv)
	}
	t.Fatalf("chromium is required: apt-get install chromium (looked for %s)", strings.Join(candidates, ", "))
	return ""
}

// newBrowser starts a headless Chromium for the test, with a fresh
// profile, and returns its context (one tab) for chromedp.Run and
// chromedp.Do. The browser stops when the test ends; it lives at most
// browserLifetime. The window is desktop-sized.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := chromium(t)
	profile := t.TempDir() // removed after the browser stops (cleanups run last-in first-out)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(int(desktop.width), int(desktop.height)),
		// As root (CI containers) Chromium refuses to start without it;
		// the browser only loads the test's own loopback pages.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// Nothing but the test's server: no QUIC probes, component or
		// sync downloads, first-run work. (Some repeat chromedp's
		// defaults; the list is the one known to work here.)
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun,
	)
	base, cancelBase := context.WithTimeout(context.Background(), browserLifetime)
	alloc, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		// Closes the browser gracefully and waits for it to exit.
		if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("stopping chromium: %v", err)
		}
		cancel()
		cancelAlloc()
		cancelBase()
	})
	// The first Run starts the browser and binds it to ctx; later actions
	// may use contexts derived from ctx with their own timeouts.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return ctx
}

// shot takes full-page screenshots of the current page at desktop and
// phone widths, writes them as <name>-desktop.png and <name>-phone.png
// into the test's screenshot directory, and returns their paths. The tab
// is back at the desktop size afterwards.
func shot(ctx context.Context, t *testing.T, name string) []string {
	t.Helper()
	dir := screenshotDir(t)
	var paths []string
	for _, vp := range viewports {
		png, err := chromedp.Run(ctx, fullPage(vp))
		if err != nil {
			t.Fatalf("screenshot %s at %s width: %v", name, vp.name, err)
		}
		p := filepath.Join(dir, fileName(name)+"-"+vp.name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		paths = append(paths, p)
	}
	if err := chromedp.Do(ctx, resetViewport()); err != nil {
		t.Fatalf("screenshot %s: resetting the viewport: %v", name, err)
	}
	t.Logf("screenshots: %s", strings.Join(paths, ", "))
	return paths
}

var screenshotDirs sync.Map // test name -> directory

// screenshotDir is $ZKSHARE_SCREENSHOTS/<test name> when that is set, else
// the test's artifact directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv(screenshotsEnv)
	if root == "" {
		return t.ArtifactDir()
	}
	dir := filepath.Join(root, fileName(t.Name()))
	if _, seen := screenshotDirs.LoadOrStore(t.Name(), dir); !seen {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("screenshots: %v", err)
		}
	}
	return dir
}

var unsafeInName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileName makes a test or page name safe as a file name.
func fileName(s string) string { return strings.Trim(unsafeInName.ReplaceAllString(s, "_"), "._") }

// maxShotHeight bounds a full-page screenshot (Chromium's largest texture).
const maxShotHeight = 16384

// fullPage sets the viewport to vp, waits for the page to lay out, and
// captures the whole page as PNG (the width of vp, or wider when the page
// overflows it: a layout bug the screenshot then shows).
func fullPage(vp viewport) chromedp.Action[[]byte] {
	return func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		if err := setViewport(ctx, t, vp); err != nil {
			return nil, err
		}
		if _, err := settled(ctx, t); err != nil {
			return nil, err
		}
		m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return nil, fmt.Errorf("layout metrics: %w", err)
		}
		w, h := float64(vp.width), float64(vp.height)
		if c := m.CSSContentSize; c != nil {
			w, h = max(w, c.Width), min(max(h, c.Height), maxShotHeight)
		}
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:                page.CaptureScreenshotFormatPng,
			CaptureBeyondViewport: new(true),
			FromSurface:           new(true),
			Clip:                  &page.Viewport{Width: w, Height: h, Scale: 1},
		})
		if err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		return r.Data, nil
	}
}

// settled waits until the page's fonts are loaded and two frames have
// been laid out and painted since (after a viewport change, say).
var settled = chromedp.Evaluate[chromedp.Void](
	`document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r()))))`,
	chromedp.EvalAwaitPromise)

// resetViewport returns the tab to the desktop viewport, without mobile
// or touch emulation. It sets the desktop size explicitly rather than
// clearing the override: back at the window's own size, the page learns
// its width only after a round trip through the browser, so a test reading
// it at once could still see the phone's.
func resetViewport() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if err := setViewport(ctx, t, desktop); err != nil {
			return err
		}
		_, err := settled(ctx, t)
		return err
	})
}

// setViewport emulates vp: its size, and for a phone the mobile viewport
// (the viewport meta tag honoured) and touch.
func setViewport(ctx context.Context, t *chromedp.Target, vp viewport) error {
	orientation := &emulation.ScreenOrientation{Type: emulation.ScreenOrientationTypeLandscapePrimary, Angle: 90}
	if vp.mobile {
		orientation = &emulation.ScreenOrientation{Type: emulation.ScreenOrientationTypePortraitPrimary}
	}
	if _, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: vp.width, Height: vp.height, DeviceScaleFactor: 1, Mobile: vp.mobile, ScreenOrientation: orientation,
	}); err != nil {
		return fmt.Errorf("viewport %s: %w", vp.name, err)
	}
	if _, err := cdp.Call(ctx, t, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: vp.mobile}); err != nil {
		return fmt.Errorf("touch: %w", err)
	}
	return nil
}

// pageHTML returns the current page's document as the browser has it
// (after any script ran), for a scan such as noCanaries.
func pageHTML(ctx context.Context, t *testing.T) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		t.Fatalf("page HTML: %v", err)
	}
	return s
}

// leaks returns the canaries that text contains.
func leaks(text string, canaries []string) []string {
	var found []string
	for _, c := range canaries {
		if c != "" && strings.Contains(text, c) {
			found = append(found, c)
		}
	}
	return found
}

// noCanaries fails the test when the current page's HTML holds any of the
// canaries; where names the page in the failure.
func noCanaries(ctx context.Context, t *testing.T, where string, canaries []string) {
	t.Helper()
	if found := leaks(pageHTML(ctx, t), canaries); len(found) > 0 {
		t.Errorf("%s shows %q", where, found)
	}
}

// jsLog collects what the browser reports as errors while a test runs:
// uncaught exceptions, console.error calls and error log entries (failed
// loads of scripts, styles or images among them, but not of the
// /favicon.ico the browser asks for unprompted).
type jsLog struct {
	mu   sync.Mutex
	msgs []string
}

// watchJS starts collecting the tab's errors (from this call on).
func watchJS(ctx context.Context, t *testing.T) *jsLog {
	t.Helper()
	l := &jsLog{}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + exceptionText(e.ExceptionDetails)
		case *runtime.EventConsoleAPICalled:
			if e.Type != runtime.ConsoleAPICalledTypeError {
				return
			}
			var args []string
			for _, a := range e.Args {
				args = append(args, remoteText(a))
			}
			msg = "console.error: " + strings.Join(args, " ")
		case *log.EventEntryAdded:
			// The browser asks for /favicon.ico on its own; a page
			// that links no icon has no error in its absence.
			if e.Entry == nil || e.Entry.Level != log.EntryLevelError || strings.HasSuffix(e.Entry.URL, "/favicon.ico") {
				return
			}
			msg = fmt.Sprintf("%s: %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
		default:
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.msgs = append(l.msgs, msg)
	})
	if err != nil {
		t.Fatalf("watching the page's errors: %v", err)
	}
	return l
}

// errors returns the errors collected so far.
func (l *jsLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return ""
	}
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return d.Text
}

func remoteText(o *runtime.RemoteObject) string {
	switch {
	case o == nil:
		return ""
	case o.Description != "":
		return o.Description
	case len(o.Value) > 0:
		return strings.Trim(string(o.Value), `"`)
	}
	return string(o.Type)
}

// harnessServer serves a page with a form, taller than any viewport (/),
// the form's answer (/echo) and a page that throws, logs an error and
// loads a missing image (/broken).
func harnessServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Harness</title></head>
<body><h1 id="title">Harness</h1>
<form method="post" action="/echo"><label>Name <input id="name" name="name"></label> <button id="send" type="submit">Send</button></form>
<div style="height:2000px;background:linear-gradient(#fff,#369)">tall</div></body></html>`)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Echo</title></head>
<body><p id="echo">Hello, %s</p></body></html>`, html.EscapeString(r.FormValue("name")))
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Broken</title>
<script>console.error("harness-console-error"); throw new Error("harness-exception");</script></head>
<body><p id="broken">broken</p><img src="/missing.png" alt=""></body></html>`)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

// TestBrowserHarness drives a trivial page through the harness: a form
// filled in and sent, text read back, screenshots at both widths, errors
// collected.
func TestBrowserHarness(t *testing.T) {
	ts := harnessServer(t)
	ctx := newBrowser(t)
	js := watchJS(ctx, t)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#title")),
	); err != nil {
		t.Fatal(err)
	}
	if title, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#title"))); err != nil || title != "Harness" {
		t.Fatalf("title %q, %v", title, err)
	}
	paths := shot(ctx, t, "harness")
	if len(paths) != len(viewports) {
		t.Fatalf("%d screenshots, want %d", len(paths), len(viewports))
	}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("%s is not a PNG (%d bytes)", p, len(b))
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		// The whole page (2,000 px of it below the form), at the viewport's width.
		if vp := viewports[i]; int64(cfg.Width) != vp.width || cfg.Height < 2000 {
			t.Errorf("%s is %d×%d, want %d wide and the whole page (over 2000 high)", p, cfg.Width, cfg.Height, vp.width)
		}
	}
	// shot left the tab at the desktop width.
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`window.innerWidth`)); err != nil || w != desktop.width {
		t.Fatalf("after the screenshots the page is %d wide (%v), want %d", w, err, desktop.width)
	}

	const name = `browser <&> "test"`
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.Click(chromedp.CSS("#send")),
		chromedp.WaitVisible(chromedp.CSS("#echo")),
	); err != nil {
		t.Fatal(err)
	}
	if echo, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#echo"))); err != nil || echo != "Hello, "+name {
		t.Fatalf("echo %q, %v", echo, err)
	}
	noCanaries(ctx, t, "the echo page", []string{"CANARY-absent"})
	if errs := js.errors(); len(errs) != 0 {
		t.Fatalf("errors on clean pages: %q", errs)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/broken"), chromedp.WaitVisible(chromedp.CSS("#broken"))); err != nil {
		t.Fatal(err)
	}
	// The image's failed load may be logged after the page shows.
	want := []string{"harness-console-error", "harness-exception", "missing.png"}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`new Promise(r => { const i = document.querySelector("img"); i.complete ? r() : i.onerror = () => r(); })`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(js.errors(), "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("the collected errors lack %q:\n%s", w, got)
		}
	}
}

// TestLeaks: the canary scan finds each canary a text holds, and only those.
func TestLeaks(t *testing.T) {
	for _, tc := range []struct {
		text     string
		canaries []string
		want     []string
	}{
		{"<p>nothing</p>", []string{"C00005", "Glacier SA"}, nil},
		{"<td>C00005</td>", []string{"C00005", "Glacier SA"}, []string{"C00005"}},
		{"Glacier SA, C00005", []string{"C00005", "Glacier SA"}, []string{"C00005", "Glacier SA"}},
		{"anything", []string{""}, nil},
	} {
		if got := leaks(tc.text, tc.canaries); !slices.Equal(got, tc.want) {
			t.Errorf("leaks(%q, %q) = %q, want %q", tc.text, tc.canaries, got, tc.want)
		}
	}
}

// TestSeed checks the seeded node: both collections, the good bundle
// verifies, the audit trail has the two questions, and the browser's
// HTTP/1.1 reaches the same port as the Connect clients' h2c.
func TestSeed(t *testing.T) {
	s := seed(t)
	ctx := t.Context()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req) // HTTP/1.1, as a browser connects
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 {
		t.Fatalf("GET /healthz over HTTP/1.1: %s %s", resp.Proto, resp.Status)
	}
	for _, name := range []string{"benefits", "coldchain"} {
		if id := s.CollectionIDs[name]; len(id) != 64 {
			t.Fatalf("collection %s: id %q", name, id)
		}
	}

	b, err := bundle.Parse(s.GoodBundle)
	if err != nil {
		t.Fatal(err)
	}
	vf := zksharev1connect.NewVerifierServiceClient(s.Client, s.URL)
	for name, req := range map[string]*zkv1.VerifyRequest{
		"alone":             {Bundle: b},
		"with expectations": {Bundle: b, Nonce: s.GoodNonce, Subject: s.GoodSubject, Expect: &zkv1.Expectation{Blind: s.GoodBlind}},
	} {
		v, err := vf.Verify(ctx, req)
		if err != nil || !v.GetValid() {
			t.Fatalf("GoodBundle %s: %v %v", name, v, err)
		}
	}
	if v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: b, Subject: "C00001", Expect: &zkv1.Expectation{Blind: s.GoodBlind}}); err != nil || v.GetValid() {
		t.Fatalf("GoodBundle for another subject: %v %v", v, err)
	}

	// The holder sees each collection's entry; the consumer its two.
	lc := func(tok string) zksharev1connect.LedgerServiceClient {
		return zksharev1connect.NewLedgerServiceClient(s.Client, s.URL, connect.WithInterceptors(client.Bearer(tok)))
	}
	held := 0
	for name, id := range s.CollectionIDs {
		raw, err := hex.DecodeString(id)
		if err != nil {
			t.Fatal(err)
		}
		res, err := lc(s.HolderToken).ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{CollectionId: raw})
		if err != nil || len(res.GetEntries()) != 1 {
			t.Fatalf("the holder's audit entries of %s: %v %v", name, res, err)
		}
		held += len(res.GetEntries())
	}
	if held < 2 {
		t.Fatalf("the holder's audit trail has %d entries, want at least 2", held)
	}
	mine, err := lc(s.ConsumerToken).ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{Consumer: seedConsumer})
	if err != nil || len(mine.GetEntries()) != 2 {
		t.Fatalf("the consumer's audit entries: %v %v", mine, err)
	}
	for _, tok := range []string{s.AdminToken, s.HolderToken, s.ConsumerToken} {
		if !strings.HasPrefix(tok, "zks_") {
			t.Fatalf("token %q", tok)
		}
	}

	// Canaries: the subject, two other records' keys and values, two salts;
	// none is in the bundle a verifier sees.
	salts := 0
	for _, c := range s.Canaries {
		if len(c) == 64 {
			if _, err := hex.DecodeString(c); err == nil {
				salts++
			}
		}
	}
	if len(s.Canaries) < 8 || salts != 2 || !slices.Contains(s.Canaries, s.GoodSubject) {
		t.Fatalf("canaries %q", s.Canaries)
	}
	if found := leaks(string(s.GoodBundle), s.Canaries); len(found) != 0 {
		t.Fatalf("the good bundle holds %q", found)
	}
}
