package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/net/netutil"
)

// Limits of the HTTP server: what clients can hold open.
const (
	// MaxConnections is how many connections Serve keeps open at once;
	// more wait in the listen queue until one closes.
	MaxConnections = 1024
	// MaxConcurrentStreams is how many requests one HTTP/2 connection
	// carries at once.
	MaxConcurrentStreams = 100
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes = 64 << 10
	// ReadHeaderTimeout: a client that sends no complete headers in this
	// time is disconnected; IdleTimeout: an idle keep-alive connection is
	// closed after this.
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 2 * time.Minute
)

// maxConnections is MaxConnections; tests lower it.
var maxConnections = MaxConnections

// NewHTTPServer serves h over HTTP/1.1 and unencrypted HTTP/2 (h2c), so
// Connect, gRPC and gRPC-Web clients all reach it on one port, with bounded
// headers, idle connections and HTTP/2 streams (Serve bounds connections).
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           h,
		Protocols:         p,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: MaxConcurrentStreams},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// TLS configures HTTPS, and mutual TLS when ClientCA is set.
type TLS struct {
	CertFile, KeyFile string
	// ClientCA, when set, is a PEM file of the CAs whose client
	// certificates are required (mTLS), in addition to bearer tokens.
	ClientCA string
}

// Serve runs srv on ln, at most MaxConnections connections at once, until
// ctx ends, then shuts down gracefully: no new connections, in-flight
// requests get up to grace to finish. With t, it
// serves HTTPS (HTTP/1.1 and HTTP/2) instead of h2c.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, t ...TLS) error {
	ln = netutil.LimitListener(ln, maxConnections)
	errc := make(chan error, 1)
	if len(t) > 0 && t[0].CertFile != "" {
		if t[0].ClientCA != "" {
			pem, err := os.ReadFile(t[0].ClientCA)
			if err != nil {
				return fmt.Errorf("client CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("client CA %s: no PEM certificates", t[0].ClientCA)
			}
			srv.TLSConfig = &tls.Config{ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
		}
		p := new(http.Protocols)
		p.SetHTTP1(true)
		p.SetHTTP2(true)
		srv.Protocols = p
		go func() { errc <- srv.ServeTLS(ln, t[0].CertFile, t[0].KeyFile) }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
