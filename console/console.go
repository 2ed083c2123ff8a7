// Package console is the node's web console: server-rendered pages over
// the same engine calls as the Connect API, served by `zkshare serve`
// under /console/ on the API's port. Public pages show what the ledger
// already makes public (blocks, transactions, anchors, devices) and check
// bundles; a holder's, consumer's or admin's pages need a sign-in with a
// token, kept as an HttpOnly, SameSite cookie session, and every form
// carries a CSRF token. Templates, styles and the one small script are
// embedded in the binary; no page needs JavaScript to be read.
package console

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/zkshare/zkshare/internal/clientlimit"
	"github.com/zkshare/zkshare/node"
)

// Prefix is where the console is served.
const Prefix = "/console/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a console.
type Options struct {
	Log *slog.Logger
	// SessionTTL is how long a sign-in lasts (0: 8 hours).
	SessionTTL time.Duration
	// MaxSessions bounds the sessions kept at once (0: 10,000); each
	// participant keeps at most 16, its oldest going for a new one.
	MaxSessions int
	// Now is the clock (nil: time.Now); tests set it.
	Now func() time.Time
	// AggregateLimit bounds the aggregate bundles the verify page checks
	// (nil: one at a time per core, 30 a minute per client); the service
	// passes the Connect API's own, so the two share it.
	AggregateLimit *clientlimit.Limit
}

// Console serves the pages of one node.
type Console struct {
	n        *node.Node
	log      *slog.Logger
	pages    map[string]*template.Template
	sessions *sessions
	// verifying bounds the bundles checked at once (a public form);
	// aggregates, up to 129 Groth16 verifications each, take aggregates.
	verifying  chan struct{}
	aggregates *clientlimit.Limit
	now        func() time.Time
}

// New builds the console of node n.
func New(n *node.Node, o Options) (*Console, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s, err := newSessions(o.SessionTTL, o.MaxSessions, o.Now)
	if err != nil {
		return nil, err
	}
	if o.AggregateLimit == nil {
		o.AggregateLimit = clientlimit.New(runtime.GOMAXPROCS(0), 30)
	}
	return &Console{n: n, log: o.Log, pages: pages, sessions: s, now: o.Now,
		verifying: make(chan struct{}, runtime.GOMAXPROCS(0)), aggregates: o.AggregateLimit}, nil
}

// parsePages parses each page with the shared layout: one template set a
// page, so each page's "content" is its own.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// Handler serves the console's routes (paths begin with Prefix).
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static") // the embedded directory exists
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/{$}", c.page(c.overview))
	mux.HandleFunc("GET /console/ledger", c.page(c.blocks))
	mux.HandleFunc("GET /console/ledger/block/{height}", c.page(c.block))
	mux.HandleFunc("GET /console/ledger/tx/{hash}", c.page(c.tx))
	mux.HandleFunc("GET /console/ledger/consistency", c.page(c.consistency))
	mux.HandleFunc("POST /console/ledger/consistency", c.page(c.consistency))
	mux.HandleFunc("GET /console/collection/{holder}/{name}", c.page(c.collection))
	mux.HandleFunc("GET /console/audit", c.page(c.audit))
	mux.HandleFunc("GET /console/verify", c.page(c.verifyForm))
	mux.HandleFunc("POST /console/verify", c.page(c.verify))
	mux.HandleFunc("GET /console/devices", c.page(c.devices))
	mux.HandleFunc("GET /console/signin", c.page(c.signinForm))
	mux.HandleFunc("POST /console/signin", c.page(c.signin))
	mux.HandleFunc("POST /console/signout", c.page(c.signout))
	mux.HandleFunc("/console/", c.page(func(*request) (*view, error) {
		return nil, notFound("no such page")
	}))
	return c.secure(http.NewCrossOriginProtection().Handler(mux))
}

// secure sets the headers every console response carries: no script,
// style or frame from elsewhere, no inline script, no framing, no
// caching of pages (a signed-in page may show what others may not see).
func (c *Console) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !strings.HasPrefix(r.URL.Path, "/console/static/") {
			h.Set("Cache-Control", "no-store")
		}
		// A bug in a page is a 500 and a log line, not a dropped
		// connection; what the page had written is lost with it, as pages
		// render into a buffer first.
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler { //nolint:errorlint // net/http's own sentinel, panicked as is
					panic(p)
				}
				c.log.ErrorContext(r.Context(), "console: panic", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// request is one page request: who asks, and its CSRF token.
type request struct {
	*http.Request
	w       http.ResponseWriter
	session *session // nil: not signed in
	csrf    string   // the token this visitor's forms carry
}

func (r *request) ctx() context.Context { return r.Context() }

// view is what a page renders: its template and data, or a redirect.
type view struct {
	Page     string
	Nav      string // the menu item (default: Page)
	Title    string
	Data     any
	Status   int
	Redirect string
}

// layoutData is what the layout sees, with the page's own data in Page.
type layoutData struct {
	Title  string
	Nav    string
	Caller *node.Caller
	CSRF   string
	Page   any
}

// pageError is an error a page shows as is, with its HTTP status.
type pageError struct {
	status int
	msg    string
}

func (e *pageError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &pageError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &pageError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// needSignIn refuses a page that needs a session, naming what it needs.
func needSignIn(what string) error {
	return &pageError{http.StatusUnauthorized, what}
}

func forbidden(format string, args ...any) error {
	return &pageError{http.StatusForbidden, fmt.Sprintf(format, args...)}
}

// page adapts a page function: it finds the session and CSRF token,
// checks the CSRF token of every POST before the page runs, renders the
// view into a buffer (a template error never leaves half a page), and
// maps errors to a page with the right status. Engine errors are shown
// only as their kind: their text may name what the caller may not see.
func (c *Console) page(f func(*request) (*view, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := &request{Request: r, w: w}
		req.session = c.sessions.get(r, c.n)
		req.csrf = c.sessions.csrfToken(w, r, req.session)
		var (
			v   *view
			err error
		)
		if r.Method == http.MethodPost {
			err = c.sessions.checkCSRF(w, r, req.session)
			if r.MultipartForm != nil {
				defer func() { _ = r.MultipartForm.RemoveAll() }() // parts beyond memory: none, as the body is bounded
			}
		}
		if err == nil {
			v, err = f(req)
		}
		if err != nil {
			v = c.errorView(r, err)
		}
		if v.Redirect != "" {
			http.Redirect(w, r, v.Redirect, http.StatusSeeOther)
			return
		}
		c.render(w, req, v)
	}
}

func (c *Console) errorView(r *http.Request, err error) *view {
	var pe *pageError
	if !errors.As(err, &pe) {
		pe = engineError(err)
		if pe.status >= 500 {
			c.log.ErrorContext(r.Context(), "console page", "path", r.URL.Path, "err", err)
		}
	}
	d := errorData{Msg: pe.msg}
	if r.Method == http.MethodGet {
		d.Next = r.URL.RequestURI()
	}
	return &view{Page: "error", Nav: navOf(r.URL.Path), Title: http.StatusText(pe.status), Status: pe.status, Data: d}
}

// navOf is the menu item a path belongs to, so an error page keeps its
// place in the menu.
func navOf(path string) string {
	for _, p := range []struct{ prefix, nav string }{
		{"/console/ledger", "blocks"}, {"/console/audit", "audit"}, {"/console/verify", "verify"}, {"/console/devices", "devices"},
	} {
		if strings.HasPrefix(path, p.prefix) {
			return p.nav
		}
	}
	return ""
}

type errorData struct {
	Msg  string
	Next string // the page to return to after signing in
}

// engineError maps an engine error to a status and a message that names
// only its kind.
func engineError(err error) *pageError {
	switch {
	case errors.Is(err, node.ErrNotFound):
		return &pageError{http.StatusNotFound, "not found"}
	case errors.Is(err, node.ErrPermissionDenied):
		return &pageError{http.StatusForbidden, "not allowed for this sign-in"}
	case errors.Is(err, node.ErrInvalidArgument):
		return &pageError{http.StatusBadRequest, "the request is not valid"}
	case errors.Is(err, node.ErrUnauthenticated):
		return &pageError{http.StatusUnauthorized, "sign in first"}
	}
	return &pageError{http.StatusInternalServerError, "the node could not build this page; its log says why"}
}

func (c *Console) render(w http.ResponseWriter, r *request, v *view) {
	t, ok := c.pages[v.Page]
	if !ok {
		c.log.Error("console: no template", "page", v.Page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	d := layoutData{Title: v.Title, Nav: cmp.Or(v.Nav, v.Page), CSRF: r.csrf, Page: v.Data}
	if r.session != nil {
		d.Caller = &r.session.caller
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		c.log.Error("console: render", "page", v.Page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if v.Status != 0 {
		w.WriteHeader(v.Status)
	}
	_, _ = w.Write(buf.Bytes()) // a client gone away has no one to tell
}
