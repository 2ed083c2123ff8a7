package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/verifier"
)

// ErrNoKeys means Verify was called on a client without pinned verifying
// keys: give New WithKeyDir (the key directory you trust) or WithVerifier.
var ErrNoKeys = errors.New("client: no pinned verifying keys: use WithKeyDir or WithVerifier")

// WithKeyDir pins the verifying keys of the key directory dir (DIR/NAME.vk
// with its manifest) for Verify. New loads them once; a directory without
// keys is an error naming it.
func WithKeyDir(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return fmt.Errorf("%w: WithKeyDir: an empty path", ErrOptions)
		}
		v, err := verifier.FromDir(dir)
		if err != nil {
			return fmt.Errorf("%w: WithKeyDir %s: %w", ErrOptions, dir, err)
		}
		c.pinned = v
		return nil
	}
}

// WithVerifier pins the keys of v for Verify (verifier.New or
// verifier.FromDir), for callers that hold their keys elsewhere.
func WithVerifier(v *verifier.Verifier) Option {
	return func(c *config) error {
		if v == nil {
			return fmt.Errorf("%w: WithVerifier: a nil verifier", ErrOptions)
		}
		c.pinned = v
		return nil
	}
}

// WithFreshness lets Verify accept a root that a newer anchor replaced at
// most d ago (default: only the collection's latest root verifies).
func WithFreshness(d time.Duration) CallOption {
	return func(c *callConfig) { c.freshness = d }
}

// Verify checks a bundle of any kind (subject, exists, aggregate, absent) in this
// process with the verifier package, against this client's node's ledger
// (verifier.Remote over the client's connection): key registry, anchor,
// freshness, schema, pinned key, statement, nonce, subject, proof. exp is
// what the caller asked: pin at least the collection (HOLDER/NAME) and the
// nonce it sent, or a valid verdict may answer another question.
//
// The verifying keys are the caller's, pinned with WithKeyDir or
// WithVerifier, never the node's: the bundle names its keys, and the node's
// registry only lists the hashes it registered, so keys taken from the
// node would let whoever runs it (or sits between) choose the keys a proof
// is checked with. The registry check still runs, against the pinned key's
// hash. Without pinned keys Verify returns ErrNoKeys.
//
// The error is for a verification that could not run (no keys); a bundle
// that fails a check is an invalid verdict, whose Err names the check. A
// verdict against a remote view rests on the node's word for its ledger:
// to verify without trusting a node, use verifier.NewOffline with the
// ledger's checkpoint key.
func (c *Client) Verify(ctx context.Context, b *zkv1.Bundle, exp verifier.Expect, opts ...CallOption) (*verifier.Verdict, error) {
	if c.pinned == nil {
		return nil, ErrNoKeys
	}
	if c.ledger == nil {
		return nil, errors.New("client: Verify needs the node's LedgerService (Wrap was given none)")
	}
	cfg := callOptions(opts)
	return c.pinned.Verify(ctx, verifier.Remote{C: c.ledger}, b, exp, verifier.Options{Freshness: cfg.freshness}), nil
}

// VerifyBytes is Verify of a bundle file's contents (protojson, as
// bundle.Marshal writes it). Bytes that are not a bundle, or an old
// version-1 JSON bundle, make an invalid verdict of the decode check that
// says why.
func (c *Client) VerifyBytes(ctx context.Context, data []byte, exp verifier.Expect, opts ...CallOption) (*verifier.Verdict, error) {
	if c.pinned == nil {
		return nil, ErrNoKeys
	}
	b, err := bundle.Parse(data)
	if err != nil {
		// Bytes that are not a bundle are a verdict (the decode check
		// failed), not a verification that could not run.
		return &verifier.Verdict{Failed: verifier.CheckDecode, Reason: err.Error()}, nil //nolint:nilerr // see above
	}
	return c.Verify(ctx, b, exp, opts...)
}

// VerifyFile is VerifyBytes of the file at path; an unreadable file is an
// error naming it.
func (c *Client) VerifyFile(ctx context.Context, path string, exp verifier.Expect, opts ...CallOption) (*verifier.Verdict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	return c.VerifyBytes(ctx, data, exp, opts...)
}
