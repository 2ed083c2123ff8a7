package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func zk(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	full := args // not a command (help, a bad name): passed as is
	if c, rest, ok := lookup(args); ok {
		full = append(append(strings.Fields(c.name), "--log-level", "debug"), rest...)
	}
	err := run(context.Background(), full, &out, &errb)
	return out.String(), errb.String(), err
}

// TestCLIFlow runs the local flow through the CLI, then checks that no
// record value, salt or raw key shows up in any output or log line.
func TestCLIFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("key setup is slow")
	}
	dir := t.TempDir()
	data, keyDir := filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	schema := filepath.Join(dir, "schema.json")
	os.WriteFile(schema, []byte(`{"name":"people","key":"id","fields":[{"name":"income","type":"uint","width":32},{"name":"status","type":"string"}]}`), 0o644)
	csv := filepath.Join(dir, "r.csv")
	os.WriteFile(csv, []byte("id,income,status\nSECRET-ID-1,424242,SECRET-STATUS\nb,10,ok\n"), 0o644)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("id,income,status\nx,1,ok\ny,-3,ok\n"), 0o644)

	var logs strings.Builder
	step := func(args ...string) string {
		out, errs, err := zk(t, args...)
		logs.WriteString(out + errs)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errs)
		}
		return out
	}
	step("keys", "setup", "--keys", keyDir)
	if _, errs, _ := zk(t, "keys", "setup", "--keys", keyDir); !strings.Contains(errs, "up to date") {
		t.Fatalf("second setup rebuilt unchanged keys:\n%s", errs)
	}
	step("collection", "create", "--data", data, "--schema", schema)
	step("commit", "--data", data, "--collection", "people", csv)
	_, errs, err := zk(t, "commit", "--data", data, "--collection", "people", bad)
	if err == nil || !strings.Contains(err.Error(), "row 2, field income") {
		t.Fatalf("bad batch: %v", err)
	}
	logs.WriteString(errs + err.Error())

	nonce := strings.Repeat("0", 60) + "beef"
	blind := strings.Repeat("0", 59) + "b11d5"
	b := filepath.Join(dir, "b.json")
	step("prove", "--data", data, "--keys", keyDir, "--collection", "people", "--subject", "SECRET-ID-1",
		"--query", `income >= 400000 AND status != "ok"`, "--nonce", nonce, "--blind", blind, "--out", b)
	// A bundle from a private store rests on no anchor: it is never VALID.
	out, _, err := zk(t, "verify", "--keys", keyDir, "--subject", "SECRET-ID-1", "--blind", blind, "--nonce", nonce, b)
	if !errors.Is(err, errUnanchored) || !strings.HasPrefix(out, "NOT ANCHORED") || strings.Contains(out, "VALID") {
		t.Fatalf("verify of an unanchored bundle: %v\n%s", err, out)
	}
	logs.WriteString(out)
	if _, _, err := zk(t, "verify", "--keys", keyDir, "--subject", "someone-else", "--blind", blind, b); err == nil || !strings.Contains(err.Error(), "subject check failed") {
		t.Fatalf("verify for another subject: %v", err)
	}
	bundleBytes, _ := os.ReadFile(b)
	all := logs.String() + string(bundleBytes)
	for _, canary := range []string{"SECRET-ID-1", "424242", "SECRET-STATUS"} {
		// The CLI echoes its own arguments nowhere; only the bundle and logs are scanned.
		if strings.Contains(strings.ReplaceAll(all, "--subject SECRET-ID-1", ""), canary) {
			t.Errorf("%q appears in output, logs or bundle", canary)
		}
	}
	if _, _, err := zk(t, "frobnicate"); err == nil {
		t.Fatal("unknown command accepted")
	}
	if _, _, err := zk(t, "--help"); err != nil {
		t.Fatalf("--help: %v", err)
	}
}
