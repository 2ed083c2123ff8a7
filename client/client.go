// Package client is the Go SDK for a zkshare node: a holder creates
// collections, commits records and answers questions; a consumer asks for
// proofs; anyone reads the ledger and verifies bundles (Verify runs the
// verifier package here, with keys the caller pinned); an admin registers
// participants and governs. It speaks Connect by default, or gRPC and gRPC-Web, over one
// connection per Client.
//
// Errors from the node are connect errors wrapped with the call's context:
// test them with connect.CodeOf (Unauthenticated: no or unknown token;
// PermissionDenied: wrong role or policy; FailedPrecondition: nothing to
// prove; ResourceExhausted: the node is busy, try again later).
package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/verifier"
)

// ErrBadURL means New was given a base URL it cannot use: give it
// http://HOST:PORT (h2c) or https://HOST:PORT, with no query or fragment.
var ErrBadURL = errors.New("client: base URL")

// ErrOptions means New was given options that do not go together (say,
// WithTLS with an http:// URL, or WithTLS and WithHTTPClient): drop one.
var ErrOptions = errors.New("client: options")

// Client talks to one node. It is safe for concurrent use.
type Client struct {
	baseURL string
	holder  zksharev1connect.HolderServiceClient
	ledger  zksharev1connect.LedgerServiceClient
	admin   zksharev1connect.AdminServiceClient
	device  zksharev1connect.DeviceServiceClient // nil in a Client made by Wrap
	pinned  *verifier.Verifier                   // for Verify
}

// Option configures New.
type Option func(*config) error

type config struct {
	token    string
	tls      *tls.Config
	caFile   string
	http     *http.Client
	protocol string // "connect", "grpc" or "grpcweb"
	extra    []connect.ClientOption
	pinned   *verifier.Verifier
}

// WithToken sends token as a bearer token on every call. Without it calls
// are anonymous: ledger reads and GetCollection work, the rest answer
// Unauthenticated.
func WithToken(token string) Option {
	return func(c *config) error {
		if token = strings.TrimSpace(token); token == "" {
			return fmt.Errorf("%w: WithToken: an empty token", ErrOptions)
		}
		c.token = token
		return nil
	}
}

// WithTLS uses cfg for an https:// node: root CAs, a client certificate
// for mutual TLS, a server name. It is cloned; HTTP/2 is negotiated.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) error {
		if cfg == nil {
			return fmt.Errorf("%w: WithTLS: a nil tls.Config", ErrOptions)
		}
		c.tls = cfg.Clone()
		return nil
	}
}

// WithCAFile trusts the PEM certificates in path (as well as the system's)
// for an https:// node with a private CA. It combines with WithTLS.
func WithCAFile(path string) Option {
	return func(c *config) error {
		if path == "" {
			return fmt.Errorf("%w: WithCAFile: an empty path", ErrOptions)
		}
		c.caFile = path
		return nil
	}
}

// WithHTTPClient sends every call through h, for callers that bring their
// own transport (proxies, tracing, tests). gRPC over http:// needs an h2c
// client such as HTTPClient. It excludes WithTLS and WithCAFile.
func WithHTTPClient(h *http.Client) Option {
	return func(c *config) error {
		if h == nil {
			return fmt.Errorf("%w: WithHTTPClient: a nil client", ErrOptions)
		}
		c.http = h
		return nil
	}
}

// WithGRPC speaks gRPC instead of Connect.
func WithGRPC() Option {
	return func(c *config) error { c.protocol = "grpc"; return nil }
}

// WithGRPCWeb speaks gRPC-Web instead of Connect.
func WithGRPCWeb() Option {
	return func(c *config) error { c.protocol = "grpcweb"; return nil }
}

// WithConnectOptions adds connect-go client options (interceptors,
// compression, read limits) to every service client.
func WithConnectOptions(opts ...connect.ClientOption) Option {
	return func(c *config) error { c.extra = append(c.extra, opts...); return nil }
}

// New returns a client of the node at baseURL (http:// for h2c, or
// https://). It does not dial: a node that is down shows in the first call
// as connect.CodeUnavailable.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrBadURL, baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w %q: want http://HOST:PORT or https://HOST:PORT", ErrBadURL, baseURL)
	}
	cfg := config{protocol: "connect"}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	hc, err := cfg.httpClient(u.Scheme)
	if err != nil {
		return nil, err
	}
	var copts []connect.ClientOption
	switch cfg.protocol {
	case "grpc":
		copts = append(copts, connect.WithGRPC())
	case "grpcweb":
		copts = append(copts, connect.WithGRPCWeb())
	}
	if cfg.token != "" {
		copts = append(copts, connect.WithInterceptors(Bearer(cfg.token)))
	}
	copts = append(copts, cfg.extra...)
	base := strings.TrimSuffix(u.String(), "/")
	return &Client{
		baseURL: base,
		holder:  zksharev1connect.NewHolderServiceClient(hc, base, copts...),
		ledger:  zksharev1connect.NewLedgerServiceClient(hc, base, copts...),
		admin:   zksharev1connect.NewAdminServiceClient(hc, base, copts...),
		device:  zksharev1connect.NewDeviceServiceClient(hc, base, copts...),
		pinned:  cfg.pinned,
	}, nil
}

// httpClient picks the transport: the caller's, h2c for http://, or
// HTTP/1.1 and HTTP/2 over TLS for https://.
func (c *config) httpClient(scheme string) (*http.Client, error) {
	if c.http != nil {
		if c.tls != nil || c.caFile != "" {
			return nil, fmt.Errorf("%w: WithHTTPClient excludes WithTLS and WithCAFile (configure TLS on that client)", ErrOptions)
		}
		return c.http, nil
	}
	if scheme == "http" {
		if c.tls != nil || c.caFile != "" {
			return nil, fmt.Errorf("%w: WithTLS and WithCAFile need an https:// URL", ErrOptions)
		}
		return HTTPClient(), nil
	}
	tc := c.tls
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("%w: WithCAFile: %w", ErrOptions, err)
		}
		pool := tc.RootCAs
		if pool == nil {
			if pool, err = x509.SystemCertPool(); err != nil {
				pool = x509.NewCertPool()
			}
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: WithCAFile %s: no PEM certificates", ErrOptions, c.caFile)
		}
		tc.RootCAs = pool
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p, TLSClientConfig: tc, ForceAttemptHTTP2: true}}, nil
}

// BaseURL is the node's URL as New was given it, without a trailing slash.
func (c *Client) BaseURL() string { return c.baseURL }

// wrap adds the call's name to a node's error; connect.CodeOf still sees
// the code.
func wrap(call string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", call, err)
}

// Wrap makes a Client of generated service clients that the caller built
// (with its own interceptors, say); any may be nil if its calls are not
// used. Such a Client pins no verifying keys: its Verify returns ErrNoKeys;
// it has no DeviceService client: SubmitReadings and ListDevices return
// ErrOptions.
func Wrap(holder zksharev1connect.HolderServiceClient, ledger zksharev1connect.LedgerServiceClient, admin zksharev1connect.AdminServiceClient) *Client {
	return &Client{holder: holder, ledger: ledger, admin: admin}
}
