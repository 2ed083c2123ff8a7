// Package bundle is the proof bundle: a self-contained, JSON-encoded
// statement, its public inputs and its Groth16 proof. It carries no record
// value, salt or raw key: a subject appears only as a key commitment bound
// to the verifier's nonce and blind.
package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Kinds of statement.
const (
	KindSubject = "subject"
	KindExists  = "exists"
)

// Version is the bundle format version.
const Version = 1

// MaxSize bounds an encoded bundle.
const MaxSize = 64 << 10

// Bundle is a proof with everything a verifier needs to check it.
type Bundle struct {
	Version       int             `json:"version"`
	Kind          string          `json:"kind"`
	Collection    string          `json:"collection"`
	CollectionID  string          `json:"collection_id"`
	Schema        json.RawMessage `json:"schema"`
	Query         string          `json:"query"`
	QueryHash     string          `json:"query_hash"`
	Root          string          `json:"root"`
	KeyCommitment string          `json:"key_commitment,omitempty"`
	Result        bool            `json:"result"`
	Nonce         string          `json:"nonce"`
	Circuit       string          `json:"circuit"`
	CircuitID     string          `json:"circuit_id"`
	VKSHA256      string          `json:"vk_sha256"`
	Proof         []byte          `json:"proof"`
}

// Marshal encodes a bundle as indented JSON.
func (b *Bundle) Marshal() ([]byte, error) { return json.MarshalIndent(b, "", "  ") }

// Parse decodes a bundle strictly: size-limited, no unknown fields, one
// value, the right version and kind.
func Parse(data []byte) (*Bundle, error) {
	var b Bundle
	if err := decodeStrict(data, MaxSize, "bundle", &b); err != nil {
		return nil, err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	return &b, nil
}

// check is the structural validation every decoded bundle passes.
func (b *Bundle) check() error {
	if b.Version != Version {
		return fmt.Errorf("bundle: version %d, want %d", b.Version, Version)
	}
	switch b.Kind {
	case KindSubject:
		if b.KeyCommitment == "" {
			return errors.New("bundle: subject statement without key_commitment")
		}
	case KindExists:
		if b.KeyCommitment != "" || !b.Result {
			return errors.New("bundle: an exists statement has no key commitment and a true result")
		}
	default:
		return fmt.Errorf("bundle: kind %q, want subject or exists", b.Kind)
	}
	if b.Circuit != b.Kind {
		return fmt.Errorf("bundle: circuit %q does not prove %s statements", b.Circuit, b.Kind)
	}
	return nil
}

// Statement renders the bundle's claim in words.
func (b *Bundle) Statement() string {
	switch b.Kind {
	case KindSubject:
		verdict := "satisfies"
		if !b.Result {
			verdict = "does not satisfy"
		}
		return fmt.Sprintf("the subject's record in %s %s: %s", b.Collection, verdict, b.Query)
	default:
		return fmt.Sprintf("some record in %s satisfies: %s", b.Collection, b.Query)
	}
}

// decodeStrict decodes one JSON value of at most limit bytes, refusing
// unknown fields and trailing data.
func decodeStrict(data []byte, limit int, what string, v any) error {
	if len(data) > limit {
		return fmt.Errorf("%s: %d bytes, limit %d", what, len(data), limit)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: trailing data", what)
	}
	return nil
}
