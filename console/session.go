package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zkshare/zkshare/node"
)

// Cookie names. Both are HttpOnly and SameSite=Strict, scoped to Prefix.
const (
	sessionCookie = "zkshare_session"
	csrfCookie    = "zkshare_csrf"
)

// maxFormBytes bounds a form post: a bundle (1 MiB) pasted or attached,
// with room for the form's encoding.
const maxFormBytes = 3 << 20

// session is one sign-in: who it is, until when.
type session struct {
	hash    [32]byte // SHA-256 of the cookie's value; the value is not kept
	caller  node.Caller
	expires time.Time
	created time.Time
}

// sessions keeps sign-ins in memory (a restart signs everyone out) and
// makes and checks CSRF tokens.
type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]*session
	ttl time.Duration
	max int
	now func() time.Time
	// key signs CSRF tokens; new at every start.
	key []byte
}

func newSessions(ttl time.Duration, maxN int, now func() time.Time) (*sessions, error) {
	if ttl <= 0 {
		ttl = 8 * time.Hour
	}
	if maxN <= 0 {
		maxN = 10_000
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("console: CSRF key: %w", err)
	}
	return &sessions{m: map[[32]byte]*session{}, ttl: ttl, max: maxN, now: now, key: key}, nil
}

// randomValue is 32 random bytes, base64url: a cookie value.
func randomValue() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	// Secure whenever the node serves TLS; over plain HTTP (loopback, or
	// behind a TLS-terminating proxy) a browser would drop a Secure cookie.
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge, //nolint:gosec // Secure is set under TLS, see above
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
}

// maxPerParticipant bounds one participant's sessions: its oldest goes
// for a new one, so no participant can fill the table and sign others out.
const maxPerParticipant = 16

var errSessionsFull = &pageError{http.StatusServiceUnavailable, "the node keeps as many sign-ins as it can: try again later"}

// start signs caller in: a new session, its cookie set on w. A
// participant's oldest session makes room for its new one; when the table
// is full of others' sessions, the sign-in is refused rather than signing
// anyone else out.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, caller node.Caller) error {
	v := randomValue()
	now := s.now()
	se := &session{hash: hashOf(v), caller: caller, expires: now.Add(s.ttl), created: now}
	s.mu.Lock()
	var own []*session
	for h, old := range s.m {
		switch {
		case !now.Before(old.expires):
			delete(s.m, h)
		case old.caller == caller:
			own = append(own, old)
		}
	}
	slices.SortFunc(own, func(a, b *session) int { return a.created.Compare(b.created) })
	for len(own) > 0 && (len(own) >= maxPerParticipant || len(s.m) >= s.max) {
		delete(s.m, own[0].hash)
		own = own[1:]
	}
	if len(s.m) >= s.max {
		s.mu.Unlock()
		return errSessionsFull
	}
	s.m[se.hash] = se
	s.mu.Unlock()
	http.SetCookie(w, cookie(r, sessionCookie, v, int(s.ttl/time.Second)))
	return nil
}

// end signs the request's session out.
func (s *sessions) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		h := hashOf(c.Value)
		s.mu.Lock()
		delete(s.m, h)
		s.mu.Unlock()
	}
	http.SetCookie(w, cookie(r, sessionCookie, "", -1))
}

// get is the request's live session, or nil: none, expired, or its
// participant revoked (or no longer of the role it signed in with) since.
func (s *sessions) get(r *http.Request, n *node.Node) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	h := hashOf(c.Value)
	s.mu.Lock()
	se, ok := s.m[h]
	if ok && !s.now().Before(se.expires) {
		delete(s.m, h)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return nil
	}
	p, ok := n.Ledger().State().Participants[se.caller.ID]
	if !ok || p.Revoked || p.Role != se.caller.Role {
		s.mu.Lock()
		delete(s.m, h)
		s.mu.Unlock()
		return nil
	}
	return se
}

// csrfToken is the token this visitor's forms carry: an HMAC of its CSRF
// cookie (set here when it has none) and its session, so a token taken
// before a sign-in does not serve after it.
func (s *sessions) csrfToken(w http.ResponseWriter, r *http.Request, se *session) string {
	var v string
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		v = c.Value
	} else {
		v = randomValue()
		http.SetCookie(w, cookie(r, csrfCookie, v, 0))
	}
	return s.sign(v, se)
}

func (s *sessions) sign(v string, se *session) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("zkshare console csrf\x00"))
	m.Write([]byte(v))
	if se != nil {
		m.Write([]byte{0})
		m.Write(se.hash[:])
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errCSRF = &pageError{http.StatusForbidden, "this form's CSRF token is missing or wrong: reload the page and send it again"}

// checkCSRF reads the posted form (bounded) and checks its csrf field
// against the visitor's cookie and session.
func (s *sessions) checkCSRF(w http.ResponseWriter, r *http.Request, se *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(maxFormBytes) //nolint:gosec // the body is bounded by MaxBytesReader above
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &pageError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the form is over %d bytes", maxFormBytes)}
		}
		return badRequest("the form could not be read")
	}
	c, err := r.Cookie(csrfCookie)
	got := r.PostFormValue("csrf")
	if err != nil || got == "" || !hmac.Equal([]byte(got), []byte(s.sign(c.Value, se))) {
		return errCSRF
	}
	return nil
}

func hashOf(v string) [32]byte { return sha256.Sum256([]byte(v)) }
