package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
)

// TestGovernanceCLI runs the README's governance commands against a
// served single node (one governor: M = 1).
func TestGovernanceCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("key setup is slow")
	}
	keyDir, cleanup, err := testkeys.Dir(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	dir := t.TempDir()
	data := filepath.Join(dir, "node")
	url := serveForTest(t, keyDir, data)
	adminTok, holderTok := node.TokenPath(data, node.AdminID), node.TokenPath(data, node.HolderID)
	step := func(args ...string) (string, string) {
		t.Helper()
		out, errs, err := zk(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errs)
		}
		return out, errs
	}
	for _, cmd := range [][]string{{"governance", "propose"}, {"governance", "approve"}, {"governance", "list"}, {"collection", "confirmers"}} {
		if _, _, err := zk(t, append(cmd, "--help")...); err != nil {
			t.Errorf("%v --help: %v", cmd, err)
		}
	}
	if _, errs := step("governance", "list", "--server", url, "--token-file", adminTok); !strings.Contains(errs, "governors: admin; 1 of them") || !strings.Contains(errs, "no open proposals") {
		t.Fatalf("list on a new node: %s", errs)
	}
	// M = 1: the admin's proposal applies at once.
	out, _ := step("governance", "propose", "--server", url, "--token-file", adminTok, "--register", "shop", "--role", "holder", "--out", filepath.Join(dir, "shop.json"))
	if !strings.Contains(out, ": applied (1 of 1 approvals: admin)") || !regexp.MustCompile(`token: zks_\S+`).MatchString(out) {
		t.Fatalf("propose --register: %s", out)
	}
	if _, err := ledger.LoadIdentity(filepath.Join(dir, "shop.json")); err != nil {
		t.Fatal(err)
	}
	later, _ := ledger.NewIdentity("shop")
	out, _ = step("governance", "propose", "--server", url, "--token-file", adminTok, "--rotate", "shop", "--public-key", hex.EncodeToString(later.Public()), "--json")
	var st struct {
		Status struct {
			Applied bool   `json:"applied"`
			Needed  int    `json:"needed"`
			ID      string `json:"proposal_id"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || !st.Status.Applied || st.Status.Needed != 1 || len(st.Status.ID) != 64 {
		t.Fatalf("propose --rotate --json: %v %s", err, out)
	}

	// The holder proposes its collection's confirmers; the admin lists and
	// approves the proposal.
	schema := filepath.Join(dir, "schema.json")
	os.WriteFile(schema, []byte(`{"name":"people","key":"id","fields":[{"name":"income","type":"uint","width":32}]}`), 0o644)
	step("collection", "create", "--server", url, "--token-file", holderTok, "--schema", schema)
	out, errs := step("collection", "confirmers", "--server", url, "--token-file", holderTok, "--collection", "people", "--confirmers", "shop", "--required", "1")
	m := regexp.MustCompile(`proposal ([0-9a-f]{64}): open, 0 of 1 approvals`).FindStringSubmatch(out)
	if len(m) < 2 || !strings.Contains(errs, "governance approve "+m[1]) {
		t.Fatalf("collection confirmers: %s%s", out, errs)
	}
	if out, _ := step("governance", "list", "--server", url, "--token-file", adminTok); !strings.Contains(out, m[1]) || !strings.Contains(out, "1 of [shop]") || !strings.Contains(out, "0/1") {
		t.Fatalf("list: %s", out)
	}
	out, _ = step("governance", "list", "--server", url, "--token-file", holderTok, "--json")
	var p struct {
		ID       string `json:"id"`
		Kind     string `json:"kind"`
		Proposer string `json:"proposer"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.ID != m[1] || p.Kind != "set_confirmers" || p.Proposer != node.HolderID {
		t.Fatalf("list --json: %v %s", err, out)
	}
	if out, _ := step("governance", "approve", "--server", url, "--token-file", adminTok, m[1]); !strings.Contains(out, "applied (1 of 1 approvals: admin)") {
		t.Fatalf("approve: %s", out)
	}
	if _, errs := step("governance", "list", "--server", url, "--token-file", adminTok); !strings.Contains(errs, "no open proposals") {
		t.Fatalf("list after approval: %s", errs)
	}

	// Refusals: bad arguments before any call, then the node's.
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"two actions":           {[]string{"governance", "propose", "--server", url, "--token-file", adminTok, "--revoke", "shop", "--rotate", "shop"}, "one of --register"},
		"a short key":           {[]string{"governance", "propose", "--server", url, "--token-file", adminTok, "--rotate", "shop", "--public-key", "abcd"}, "--public-key"},
		"a bad proposal id":     {[]string{"governance", "approve", "--server", url, "--token-file", adminTok, "xyz"}, "64 hex digits"},
		"an applied one":        {[]string{"governance", "approve", "--server", url, "--token-file", adminTok, m[1]}, "not_found"},
		"a holder proposing":    {[]string{"governance", "propose", "--server", url, "--token-file", holderTok, "--revoke", "shop"}, "permission_denied"},
		"a pinned circuit":      {[]string{"governance", "propose", "--server", url, "--token-file", adminTok, "--circuit", "subject", "--keys", keyDir}, "is registered"},
		"an unknown circuit":    {[]string{"governance", "propose", "--server", url, "--token-file", adminTok, "--circuit", "nope", "--keys", keyDir}, "not in"},
		"a short consensus key": {[]string{"governance", "propose", "--server", url, "--token-file", adminTok, "--rotate-consensus", "node", "--consensus-key", "abcd"}, "--consensus-key"},
		// A single node runs no consensus engine: no validator has a consensus key.
		"a consensus key without an engine": {[]string{"governance", "propose", "--server", url, "--token-file", adminTok, "--register", "v2", "--role", "validator",
			"--public-key", strings.Repeat("ab", 32), "--consensus-key", strings.Repeat("cd", 32)}, "failed_precondition"},
		"too many required": {[]string{"collection", "confirmers", "--server", url, "--token-file", holderTok, "--collection", "people", "--confirmers", "shop", "--required", "2"}, "confirmations_required"},
	} {
		if out, errs, err := zk(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q\n%s%s", name, err, c.want, out, errs)
		}
	}
	if out, _ := step("governance", "propose", "--server", url, "--token-file", adminTok, "--revoke", "shop"); !strings.Contains(out, "applied") {
		t.Fatalf("propose --revoke: %s", out)
	}
}
