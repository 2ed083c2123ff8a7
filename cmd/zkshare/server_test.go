package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkshare/zkshare/service"
)

// TestServerCLI runs the README's node walk-through: a node on loopback,
// then every client command against it.
func TestServerCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("key setup is slow")
	}
	dir := t.TempDir()
	keyDir, data := filepath.Join(dir, "keys"), filepath.Join(dir, "node")
	if _, _, err := zk(t, "keys", "setup", "--keys", keyDir); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	var serveOut, serveErr strings.Builder
	go func() {
		served <- run(ctx, []string{"serve", "--data", data, "--keys", keyDir, "--addr", addr}, &serveOut, &serveErr)
	}()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(service.TokenPath(data, service.HolderID)); err == nil {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node did not start: %s", serveErr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	holderTok := service.TokenPath(data, service.HolderID)
	adminTok := service.TokenPath(data, service.AdminID)
	schema := filepath.Join(dir, "schema.json")
	os.WriteFile(schema, []byte(`{"name":"people","key":"id","fields":[{"name":"income","type":"uint","width":32},{"name":"age","type":"uint","width":8}]}`), 0o644)
	csv := filepath.Join(dir, "r.csv")
	os.WriteFile(csv, []byte("id,income,age\nSECRET-ID-1,424242,70\nb,10,20\n"), 0o644)

	step := func(args ...string) string {
		t.Helper()
		out, errs, err := zk(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errs)
		}
		return out
	}
	out := step("participant", "add", "--server", url, "--token-file", adminTok, "--id", "bank", "--out", filepath.Join(dir, "bank.json"))
	bank := regexp.MustCompile(`token: (\S+)`).FindStringSubmatch(out)
	if bank == nil {
		t.Fatalf("no token in %q", out)
	}
	step("collection", "create", "--server", url, "--token-file", holderTok, "--schema", schema)
	step("policy", "set", "--server", url, "--token-file", holderTok, "--collection", "people", "--consumer", "bank", "--kinds", "subject,exists", "--rate", "60")
	if out := step("commit", "--server", url, "--token-file", holderTok, "--collection", "people", csv); !strings.Contains(out, "committed 2 new") {
		t.Fatalf("commit: %s", out)
	}
	nonce := strings.Repeat("0", 60) + "beef"
	b := filepath.Join(dir, "b.json")
	step("prove", "--server", url, "--token", bank[1], "--collection", "people", "--subject", "SECRET-ID-1", "--query", "income >= 400000", "--nonce", nonce, "--out", b)
	if out := step("verify", "--ledger", url, "--nonce", nonce, "--subject", "SECRET-ID-1", b); !strings.Contains(out, "key registry, anchor, freshness") {
		t.Fatalf("online verify: %s", out)
	}
	if _, _, err := zk(t, "verify", "--ledger", url, "--nonce", strings.Repeat("0", 60)+"dead", b); err == nil || !strings.Contains(err.Error(), "nonce check failed") {
		t.Fatalf("verify with another nonce: %v", err)
	}
	if out := step("verify", "--keys", keyDir, "--subject", "SECRET-ID-1", b); !strings.Contains(out, "offline") {
		t.Fatalf("offline verify: %s", out)
	}
	// The subject's own proof from a receipt, offline.
	r := filepath.Join(dir, "r.json")
	step("receipt", "issue", "--server", url, "--token-file", holderTok, "--collection", "people", "--subject", "SECRET-ID-1", "--out", r)
	mine := filepath.Join(dir, "mine.json")
	step("prove", "--receipt", r, "--keys", keyDir, "--query", "age >= 65", "--out", mine)
	if out := step("verify", "--ledger", url, "--subject", "SECRET-ID-1", mine); !strings.HasPrefix(out, "VALID") {
		t.Fatalf("receipt proof: %s", out)
	}
	if out := step("audit", "--server", url, "--token", bank[1], "--consumer", "bank"); strings.Count(out, `"statement":"subject"`) != 1 {
		t.Fatalf("audit: %s", out)
	}
	if _, _, err := zk(t, "prove", "--server", url, "--collection", "people", "--exists", "--query", "age > 1"); err == nil || !strings.Contains(err.Error(), "unauthenticated") {
		t.Fatalf("prove without a token: %v", err)
	}
	// Nothing the holder keeps private shows in what consumers get.
	bb, _ := os.ReadFile(b)
	for _, canary := range []string{"SECRET-ID-1", "424242"} {
		if strings.Contains(string(bb), canary) {
			t.Errorf("%q in the bundle", canary)
		}
	}
}
