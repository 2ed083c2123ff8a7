package main

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"

	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
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
	url := serveForTest(t, keyDir, data)
	t.Setenv("ZKSHARE_KEYS", keyDir) // verify pins these keys, whichever the view
	holderTok := node.TokenPath(data, node.HolderID)
	adminTok := node.TokenPath(data, node.AdminID)
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
	blind := strings.Repeat("0", 59) + "b11d5"
	b := filepath.Join(dir, "b.json")
	ar := filepath.Join(dir, "audit.json")
	step("prove", "--server", url, "--token", bank[1], "--collection", "people", "--subject", "SECRET-ID-1", "--query", "income >= 400000", "--nonce", nonce, "--blind", blind, "--out", b, "--audit-receipt", ar)
	if out := step("verify", "--ledger", url, "--nonce", nonce, "--subject", "SECRET-ID-1", "--blind", blind, b); !strings.Contains(out, "key registry, anchor, freshness") {
		t.Fatalf("online verify: %s", out)
	}
	if _, _, err := zk(t, "verify", "--ledger", url, "--nonce", strings.Repeat("0", 60)+"dead", b); err == nil || !strings.Contains(err.Error(), "nonce check failed") {
		t.Fatalf("verify with another nonce: %v", err)
	}
	// Offline, a verdict rests on a checkpoint signed by a ledger key the
	// verifier names; without one it is "not anchored", never VALID.
	if out, _, err := zk(t, "verify", "--keys", keyDir, "--subject", "SECRET-ID-1", "--blind", blind, "--nonce", nonce, b); !errors.Is(err, errUnanchored) || !strings.HasPrefix(out, "NOT ANCHORED") {
		t.Fatalf("offline verify without a ledger key: %v\n%s", err, out)
	}
	cp := checkpointOf(t, url)
	vkey, err := note.NewEd25519VerifierKey(cp.GetOrigin(), cp.GetNodeKey())
	if err != nil {
		t.Fatal(err)
	}
	if out := step("verify", "--keys", keyDir, "--ledger-key", vkey, "--holder", node.HolderID, "--subject", "SECRET-ID-1", "--blind", blind, "--nonce", nonce, b); !strings.HasPrefix(out, "VALID") || !strings.Contains(out, "offline") || !strings.Contains(out, "development setup") {
		t.Fatalf("offline verify: %s", out)
	}
	other, _ := ledger.NewIdentity("elsewhere")
	otherKey, _ := note.NewEd25519VerifierKey(cp.GetOrigin(), other.Public())
	for name, args := range map[string][]string{
		"another ledger's key": {"--ledger-key", otherKey},
		"another holder's key": {"--ledger-key", vkey, "--holder-key", hex.EncodeToString(other.Public())},
	} {
		if out, _, err := zk(t, append(append([]string{"verify", "--keys", keyDir}, args...), b)...); err == nil || !strings.Contains(err.Error(), "anchor check failed") {
			t.Fatalf("offline verify, %s: %v\n%s", name, err, out)
		}
	}
	// The asker pins what it asked: the answer to another question fails.
	for name, args := range map[string][]string{
		"another kind":                {"--kind", "exists"},
		"another query":               {"--query", "income >= 1"},
		"another collection":          {"--collection", "holder/others"},
		"another holder's collection": {"--collection", "mallory/people"},
		"a short name (any holder's)": {"--collection", "people"},
		"another holder's short name": {"--holder", "mallory", "--collection", "people"},
		"a subject without its blind": {"--subject", "SECRET-ID-1"},
	} {
		if out, _, err := zk(t, append(append([]string{"verify", "--ledger", url}, args...), b)...); err == nil || !strings.Contains(err.Error(), "expectation check failed") {
			t.Fatalf("pinned %s: %v\n%s", name, err, out)
		}
	}
	if out, _, err := zk(t, "verify", "--ledger", url, "--subject", "SECRET-ID-1", "--blind", strings.Repeat("0", 59)+"0b11d", b); err == nil || !strings.Contains(err.Error(), "subject check failed") {
		t.Fatalf("pinned subject with another blind: %v\n%s", err, out)
	}
	// Collections are HOLDER/NAME; --holder qualifies a short pin.
	for _, pin := range [][]string{{"--collection", node.HolderID + "/people"}, {"--holder", node.HolderID, "--collection", "people"}} {
		if out := step(append(append([]string{"verify", "--ledger", url, "--kind", "subject"}, pin...), "--query", "income>=400000", "--nonce", nonce, b)...); !strings.Contains(out, "pinned: kind, collection, query, nonce") {
			t.Fatalf("pinned verify %v: %s", pin, out)
		}
	}
	// The subject's own proof from a receipt, offline.
	r := filepath.Join(dir, "r.json")
	step("receipt", "issue", "--server", url, "--token-file", holderTok, "--collection", "people", "--subject", "SECRET-ID-1", "--out", r)
	mine := filepath.Join(dir, "mine.json")
	step("prove", "--receipt", r, "--keys", keyDir, "--query", "age >= 65", "--blind", blind, "--out", mine)
	if out := step("verify", "--ledger", url, "--subject", "SECRET-ID-1", "--blind", blind, mine); !strings.HasPrefix(out, "VALID") {
		t.Fatalf("receipt proof: %s", out)
	}
	if out := step("audit", "--server", url, "--token", bank[1], "--consumer", "bank"); strings.Count(out, `"statement":"subject"`) != 1 {
		t.Fatalf("audit: %s", out)
	}
	// The consumer's audit receipt opens the ledger's entry (which shows no
	// more than a commitment); a changed receipt does not.
	if out := step("audit", "check", "--server", url, "--receipt", ar, "--ledger-key", vkey); !strings.HasPrefix(out, "OK") || !strings.Contains(out, "bank's subject question") {
		t.Fatalf("audit check: %s", out)
	}
	rb, _ := os.ReadFile(ar)
	var rec zkv1.AuditReceipt
	if err := protojson.Unmarshal(rb, &rec); err != nil {
		t.Fatal(err)
	}
	rec.Result = !rec.Result
	fb, _ := protojson.Marshal(&rec)
	forged := filepath.Join(dir, "forged.json")
	os.WriteFile(forged, fb, 0o600)
	if _, _, err := zk(t, "audit", "check", "--server", url, "--receipt", forged); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("audit check of a changed receipt: %v", err)
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

// serveForTest runs `zkshare serve` on a free loopback port until the test
// ends, and returns its URL once it accepts connections. Startup compiles
// the circuits (the aggregate's 330k constraints among them), so the wait
// allows minutes on a loaded machine: it is a wait, not a timed assertion.
func serveForTest(t *testing.T, keyDir, data string) string {
	t.Helper()
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
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := os.Stat(node.TokenPath(data, node.HolderID)); err == nil {
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
	return url
}

// TestAggregateCLI: a supplier's node, a buyer asking with `zkshare
// aggregate` (threshold and reveal), and `zkshare verify-aggregate`.
func TestAggregateCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("aggregate keys are slow")
	}
	keyDir, cleanup, err := testkeys.Dir(t.Context(), append(append([]string{}, keys.Core...), keys.Aggregates...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	dir := t.TempDir()
	data := filepath.Join(dir, "node")
	url := serveForTest(t, keyDir, data)
	t.Setenv("ZKSHARE_KEYS", keyDir) // verify-aggregate pins these keys
	holderTok, adminTok := node.TokenPath(data, node.HolderID), node.TokenPath(data, node.AdminID)
	csv := filepath.Join(dir, "shipments.csv")
	all, err := os.ReadFile(filepath.Join("..", "..", "testdata", "coldchain", "shipments.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(all), "\n")
	os.WriteFile(csv, []byte(strings.Join(lines[:301], "")), 0o644)
	step := func(args ...string) (string, string) {
		t.Helper()
		out, errs, err := zk(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errs)
		}
		return out, errs
	}
	out, _ := step("participant", "add", "--server", url, "--token-file", adminTok, "--id", "buyer", "--out", filepath.Join(dir, "buyer.json"))
	buyer := regexp.MustCompile(`token: (\S+)`).FindStringSubmatch(out)[1]
	step("collection", "create", "--server", url, "--token-file", holderTok, "--schema", filepath.Join("..", "..", "testdata", "coldchain", "schema.json"))
	step("policy", "set", "--server", url, "--token-file", holderTok, "--collection", "coldchain", "--consumer", "buyer", "--kinds", "aggregate", "--aggregate-fields", "max_temp,co2_kg", "--aggregate-modes", "reveal,threshold")
	step("commit", "--server", url, "--token-file", holderTok, "--collection", "coldchain", csv)
	q3 := filepath.Join(dir, "q3.json")
	_, errs := step("aggregate", "--server", url, "--token", buyer, "--collection", "coldchain", "--field", "max_temp",
		"--query", `lot == "L-2026-Q3" AND max_temp > 8.0`, "--threshold", "count == 0", "--out", q3)
	if !strings.Contains(errs, "chunks proven: 1 of 1") {
		t.Errorf("no progress shown: %q", errs)
	}
	out, _ = step("verify-aggregate", "--server", url, "--bundle", q3)
	if !strings.HasPrefix(out, "VALID:") || !strings.Contains(out, "count == 0") {
		t.Fatalf("verify-aggregate: %q", out)
	}
	// Offline too: an aggregate bundle carries its anchor evidence.
	cp := checkpointOf(t, url)
	vkey, err := note.NewEd25519VerifierKey(cp.GetOrigin(), cp.GetNodeKey())
	if err != nil {
		t.Fatal(err)
	}
	if out, _ = step("verify-aggregate", "--ledger-key", vkey, "--bundle", q3); !strings.HasPrefix(out, "VALID:") || !strings.Contains(out, "offline") {
		t.Fatalf("offline verify-aggregate: %q", out)
	}
	// A tampered bundle is refused with the failing check named.
	// protojson varies its whitespace on purpose (from build to build), so
	// the edit matches any.
	b, _ := os.ReadFile(q3)
	relation := regexp.MustCompile(`"relation":\s*"=="`)
	if !relation.Match(b) {
		t.Fatalf("no relation to tamper with in %s", b)
	}
	os.WriteFile(q3, relation.ReplaceAll(b, []byte(`"relation": "<="`)), 0o644)
	if out, errs, err := zk(t, "verify-aggregate", "--server", url, "--bundle", q3); err == nil {
		t.Fatalf("tampered bundle verified: %s%s", out, errs)
	}
	// Reveal mode prints the decoded figures and the average.
	co2 := filepath.Join(dir, "co2.json")
	step("aggregate", "--server", url, "--token", buyer, "--collection", "coldchain", "--field", "co2_kg", "--query", `lot == "L-2026-Q1"`, "--out", co2)
	if out, _ = step("verify-aggregate", "--server", url, "--bundle", co2); !strings.Contains(out, "average") {
		t.Fatalf("reveal: %q", out)
	}
	// The collection pinned by its full name, or short with --holder; a
	// short name alone is any holder's and pins nothing.
	if out, _ = step("verify-aggregate", "--server", url, "--bundle", co2, "--holder", node.HolderID, "--collection", "coldchain"); !strings.HasPrefix(out, "VALID:") {
		t.Fatalf("pinned with --holder: %q", out)
	}
	if _, _, err := zk(t, "verify-aggregate", "--server", url, "--bundle", co2, "--collection", "coldchain"); err == nil || !strings.Contains(err.Error(), "HOLDER/NAME") {
		t.Fatalf("a short pin: %v", err)
	}
	// Bad arguments are refused before any work.
	if _, _, err := zk(t, "aggregate", "--server", url, "--token", buyer, "--collection", "coldchain", "--field", "co2_kg", "--query", "x", "--threshold", "count"); err == nil {
		t.Fatal("a malformed threshold was accepted")
	}
}

// checkpointOf is the node's latest checkpoint, read through the SDK.
func checkpointOf(t *testing.T, url string) *zkv1.GetCheckpointResponse {
	t.Helper()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := c.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return cp
}
