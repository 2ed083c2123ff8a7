package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
)

// ledgerStub answers GetCheckpoint with the bearer token it got.
type ledgerStub struct {
	zksharev1connect.UnimplementedLedgerServiceHandler
}

func (ledgerStub) GetCheckpoint(ctx context.Context, _ *zkv1.GetCheckpointRequest) (*zkv1.GetCheckpointResponse, error) {
	info, _ := connect.CallInfoForHandlerContext(ctx)
	return &zkv1.GetCheckpointResponse{Origin: info.RequestHeader().Get("Authorization")}, nil
}

// TestTLS: an https:// node is reached with WithCAFile or WithTLS, over
// every protocol, with the token; without its CA the call fails.
func TestTLS(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(zksharev1connect.NewLedgerServiceHandler(ledgerStub{}))
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	for _, p := range protocols {
		for _, tc := range []struct {
			name string
			opt  client.Option
			code connect.Code
		}{
			{"ca file", client.WithCAFile(caFile), 0},
			{"tls config", client.WithTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}), 0},
			{"unknown CA", nil, connect.CodeUnavailable},
		} {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				c := dial(t, srv.URL, p.opt, tc.opt, client.WithToken("tok"))
				cp, err := c.Checkpoint(t.Context())
				if (err == nil) != (tc.code == 0) || (err != nil && connect.CodeOf(err) != tc.code) {
					t.Fatalf("checkpoint: %v, want code %v", err, tc.code)
				}
				if err == nil && cp.GetOrigin() != "Bearer tok" {
					t.Errorf("the node got %q, want the bearer token", cp.GetOrigin())
				}
			})
		}
	}
}
