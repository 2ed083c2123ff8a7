package node_test

import (
	"errors"
	"strings"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
)

// TestVerifyRequestRules: the engine refuses a malformed verify request
// (what a transport used to check) with ErrInvalidArgument naming the
// field, and its ledger reads say why not.
func TestVerifyRequestRules(t *testing.T) {
	n := open(t, "")
	ctx := t.Context()
	scalar := func(b byte) []byte { s := make([]byte, 32); s[31] = b; return s }
	for _, tc := range []struct {
		name  string
		r     node.VerifyRequest
		field string
	}{
		{"a window beyond the node's maximum", node.VerifyRequest{FreshnessSeconds: 25 * 3600}, "freshness_seconds"},
		{"an unknown kind", node.VerifyRequest{Expect: &zkv1.Expectation{Kind: 99}}, "expect.kind"},
		{"an unknown mode", node.VerifyRequest{Expect: &zkv1.Expectation{Mode: 99}}, "expect.mode"},
		{"a nonce not a scalar", node.VerifyRequest{Nonce: []byte{1}}, "nonce"},
		{"nonces that disagree", node.VerifyRequest{Nonce: scalar(1), Expect: &zkv1.Expectation{Nonce: scalar(2)}}, "nonce"},
		{"subjects that disagree", node.VerifyRequest{Subject: "a", Expect: &zkv1.Expectation{Subject: "b"}}, "subject"},
		{"a pinned query too long", node.VerifyRequest{Expect: &zkv1.Expectation{Query: strings.Repeat("x", node.MaxQueryBytes+1)}}, "expect"},
	} {
		_, err := n.Verify(ctx, tc.r)
		var ia *node.InvalidArgumentError
		if !errors.Is(err, node.ErrInvalidArgument) || !errors.As(err, &ia) || ia.Field != tc.field {
			t.Errorf("%s: %v, want an invalid %s", tc.name, err, tc.field)
		}
	}
	if v, err := n.Verify(ctx, node.VerifyRequest{Bundle: &zkv1.Bundle{}}); err != nil || v.Valid {
		t.Errorf("an empty bundle is a verdict, not valid: %+v %v", v, err)
	}
	if _, err := n.ConsistencyProof(ctx, 0, 1<<62); !errors.Is(err, node.ErrOutOfRange) {
		t.Errorf("a proof beyond the log: %v, want ErrOutOfRange", err)
	}
	if _, err := n.Circuit(ctx, make([]byte, 32), nil); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("an unknown circuit: %v, want ErrNotFound", err)
	}
	if _, err := n.Circuit(ctx, make([]byte, 32), make([]byte, 5)); !errors.Is(err, node.ErrInvalidArgument) {
		t.Errorf("a 5-byte verifying key hash: %v, want ErrInvalidArgument", err)
	}
	if _, err := n.Ceremony(ctx, make([]byte, 32)); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("an unknown ceremony: %v, want ErrNotFound", err)
	}
	if _, err := n.RecordContribution(ctx, &zkv1.ContributionReceipt{}); !errors.Is(err, node.ErrInvalidArgument) {
		t.Errorf("an empty receipt: %v, want ErrInvalidArgument", err)
	}
	if l := n.Circuits(ctx); !l.GetDevelopment() || len(l.GetCircuits()) == 0 {
		t.Errorf("registry of a node with development keys: development %v, %d circuits", l.GetDevelopment(), len(l.GetCircuits()))
	}
	if hdrs, err := n.Blocks(ctx, 0, 0); err != nil || len(hdrs) == 0 {
		t.Errorf("blocks from the start: %d, %v", len(hdrs), err)
	}
}
