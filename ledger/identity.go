package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/mod/sumdb/note"
)

// Identity is a participant's signing key.
type Identity struct {
	ID  string
	Key ed25519.PrivateKey
}

// NewIdentity draws a fresh Ed25519 key for id.
func NewIdentity(id string) (*Identity, error) {
	return newIdentity(id, rand.Reader)
}

func newIdentity(id string, r io.Reader) (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", id, err)
	}
	return &Identity{ID: id, Key: priv}, nil
}

// Public returns the identity's public key.
func (id *Identity) Public() ed25519.PublicKey { return publicKey(id.Key) }

// publicKey returns key's public half; crypto/ed25519 documents that an
// ed25519.PrivateKey's Public is always an ed25519.PublicKey.
func publicKey(key ed25519.PrivateKey) ed25519.PublicKey {
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		panic(fmt.Sprintf("ed25519.PrivateKey.Public returned a %T", key.Public()))
	}
	return pub
}

type identityFile struct {
	ID        string `json:"id"`
	PublicKey []byte `json:"public_key"`
	Seed      []byte `json:"seed"`
}

// Save writes the identity to path, readable by its owner only.
func (id *Identity) Save(path string) error {
	b, err := json.MarshalIndent(identityFile{ID: id.ID, PublicKey: id.Public(), Seed: id.Key.Seed()}, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("save identity %s: %w", id.ID, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return errors.Join(fmt.Errorf("save identity %s: %w", id.ID, err), f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

// LoadIdentity reads an identity written by Save.
func LoadIdentity(path string) (*Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	var f identityFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("load identity %s: %w", path, err)
	}
	if len(f.Seed) != ed25519.SeedSize || f.ID == "" {
		return nil, fmt.Errorf("load identity %s: missing id or seed", path)
	}
	id := &Identity{ID: f.ID, Key: ed25519.NewKeyFromSeed(f.Seed)}
	if len(f.PublicKey) != 0 && !id.Public().Equal(ed25519.PublicKey(f.PublicKey)) {
		return nil, fmt.Errorf("load identity %s: public key does not match seed", path)
	}
	return id, nil
}

// noteSigner makes a signed-note signer named name from an Ed25519 key, in
// the key format golang.org/x/mod/sumdb/note defines.
func noteSigner(name string, key ed25519.PrivateKey) (note.Signer, error) {
	const algEd25519 = 1
	pub := append([]byte{algEd25519}, publicKey(key)...)
	h := sha256.Sum256(append([]byte(name+"\n"), pub...))
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, binary.BigEndian.Uint32(h[:4]),
		base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, key.Seed()...)))
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signer: %w", err)
	}
	return s, nil
}

// NoteVerifier returns the verifier of checkpoints signed by a ledger
// whose origin is name and whose node key is pub.
func NoteVerifier(name string, pub ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vkey)
}
