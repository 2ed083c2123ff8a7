package console

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

type signinData struct {
	Next    string
	Message string
}

func (c *Console) signinForm(r *request) (*view, error) {
	return &view{Page: "signin", Title: "Sign in", Data: signinData{Next: localNext(r.URL.Query().Get("next"))}}, nil
}

// signin checks a token as the Connect API does and starts a session for
// its participant. The token itself is not kept, and never shown.
func (c *Console) signin(r *request) (*view, error) {
	next := localNext(r.PostFormValue("next"))
	caller, err := c.n.Authenticate(strings.TrimSpace(r.PostFormValue("token")))
	if err != nil {
		// A wrong token is a page saying so; the error's text is not
		// shown, and the log names where it came from, never the token.
		c.log.WarnContext(r.ctx(), "console sign-in refused", "remote", r.RemoteAddr)
		return refused(next), nil //nolint:nilerr // see above
	}
	if err := c.sessions.start(r.w, r.Request, caller); err != nil {
		return nil, err
	}
	c.log.InfoContext(r.ctx(), "console sign-in", "participant", caller.ID, "role", caller.Role.String())
	return &view{Redirect: next}, nil
}

func refused(next string) *view {
	return &view{Page: "signin", Title: "Sign in", Status: http.StatusUnauthorized,
		Data: signinData{Next: next, Message: "That token is not one of this node's, or its participant is revoked."}}
}

func (c *Console) signout(r *request) (*view, error) {
	c.sessions.end(r.w, r.Request)
	return &view{Redirect: Prefix}, nil
}

// localNext keeps a redirect target on the console: anything else (another
// host, a scheme, "//host") goes to the overview.
func localNext(s string) string {
	u, err := url.Parse(s)
	if err != nil || s == "" || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(s, "//") || strings.Contains(s, "\\") {
		return Prefix
	}
	clean := path.Clean(u.Path)
	if !strings.HasPrefix(clean+"/", Prefix) {
		return Prefix
	}
	u.Path, u.RawPath = clean, ""
	if strings.HasSuffix(u.Path, "/console") {
		u.Path = Prefix
	}
	return u.RequestURI()
}
