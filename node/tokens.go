package node

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// tokens maps bearer tokens to participants. Only SHA-256 hashes of tokens
// are stored; a token is shown once, when it is issued.
type tokens struct {
	path string
	mu   sync.RWMutex
	byID map[string][]byte // participant -> SHA-256(token)
}

func loadTokens(data string) (*tokens, error) {
	t := &tokens{path: tokensPath(data), byID: map[string][]byte{}}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	if err := json.Unmarshal(b, &t.byID); err != nil {
		return nil, fmt.Errorf("tokens %s: %w", t.path, err)
	}
	return t, nil
}

// issue makes a new token for id, replacing any earlier one, and saves.
func (t *tokens) issue(id string) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := "zks_" + base64.RawURLEncoding.EncodeToString(raw)
	h := sha256.Sum256([]byte(tok))
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byID[id] = h[:]
	b, err := json.MarshalIndent(t.byID, "", "  ")
	if err != nil {
		return "", err
	}
	// Write a synced temporary file, rename it over the old one, then sync
	// the directory: after a crash the file is the old one or the new one.
	tmp := t.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, t.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(t.path))
	}
	if err != nil {
		return "", fmt.Errorf("tokens: %w", err)
	}
	return tok, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// lookup returns the participant whose token this is, comparing every
// stored hash in constant time.
func (t *tokens) lookup(tok string) (string, bool) {
	h := sha256.Sum256([]byte(tok))
	t.mu.RLock()
	defer t.mu.RUnlock()
	found := ""
	for id, want := range t.byID {
		if subtle.ConstantTimeCompare(h[:], want) == 1 {
			found = id
		}
	}
	return found, found != ""
}

// Caller is the authenticated participant a request comes from. The
// transport resolves it (Authenticate) and passes it to every call that
// depends on who asks.
type Caller struct {
	ID   string
	Role zkv1.Role
}

// Authenticate resolves a bearer token to the active ledger participant it
// was issued to. It fails with ErrUnauthenticated for an unknown token or a
// participant revoked or not (yet) registered.
func (n *Node) Authenticate(token string) (Caller, error) {
	id, ok := n.tokens.lookup(token)
	if !ok {
		return Caller{}, errorf(ErrUnauthenticated, "unknown token")
	}
	p, ok := n.ledger.State().Participants[id]
	if !ok || p.Revoked {
		return Caller{}, errorf(ErrUnauthenticated, "participant %q is not active on the ledger", id)
	}
	return Caller{ID: id, Role: p.Role}, nil
}
