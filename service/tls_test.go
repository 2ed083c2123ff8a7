package service_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/service"
)

// issue makes a certificate signed by parent (self-signed when parent is nil).
func issue(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func TestMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("key setup is slow")
	}
	dir := t.TempDir()
	ca, caKey, caPEM, _ := issue(t, "zkshare test CA", nil, nil, true)
	_, _, srvPEM, srvKey := issue(t, "127.0.0.1", ca, caKey, false)
	_, _, cliPEM, cliKey := issue(t, "bank", ca, caKey, false)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tlsCfg := service.TLS{CertFile: write("srv.pem", srvPEM), KeyFile: write("srv.key", srvKey), ClientCA: write("ca.pem", caPEM)}

	srv, err := service.New(t.Context(), service.Config{Data: filepath.Join(dir, "node"), Keys: sharedKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Serve(ctx, service.NewHTTPServer(srv.Handler(), nil), ln, time.Second, tlsCfg) }()
	defer func() { cancel(); <-done }()

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	client := func(withCert bool) *http.Client {
		cfg := &tls.Config{RootCAs: roots}
		if withCert {
			pair, err := tls.X509KeyPair(cliPEM, cliKey)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	}
	url := "https://" + ln.Addr().String()
	if _, err := zksharev1connect.NewLedgerServiceClient(client(false), url).GetCheckpoint(t.Context(), &zkv1.GetCheckpointRequest{}); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	cp, err := zksharev1connect.NewLedgerServiceClient(client(true), url).GetCheckpoint(t.Context(), &zkv1.GetCheckpointRequest{})
	if err != nil || len(cp.GetCheckpoint()) == 0 {
		t.Fatalf("mTLS client: %v", err)
	}
}
