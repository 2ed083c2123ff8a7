package node

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTokensIssueDurable: an issued token is in the saved file (mode 0600,
// no temporary file left) and authenticates after a reload.
func TestTokensIssueDurable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokens.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	tk, err := loadTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tk.issue("bank")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tokens.json.tmp")); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "tokens.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file: %v %v", fi, err)
	}
	again, err := loadTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := again.lookup(tok); !ok || id != "bank" {
		t.Fatalf("reloaded token: %q %v", id, ok)
	}
}
