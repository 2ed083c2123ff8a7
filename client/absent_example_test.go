package client_test

import (
	"context"
	"fmt"
	"log"

	"connectrpc.com/connect"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/verifier"
)

// A consumer asks whether a key has no live record (a revoked or
// sanctioned id, say): the answer is an absent bundle that names the key
// only by a commitment to it and to the consumer's blind. The consumer,
// knowing both, verifies it is about its key; a key that has a record
// cannot be proven absent (FailedPrecondition, naming no key or value).
func ExampleClient_Prove_absent() {
	ctx := context.Background()
	h := holderWithShipments(ctx, "absent-example")
	buyer := consumer(ctx, "absent-buyer")
	err := h.SetPolicy(ctx, "absent-example", &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{
		Consumer: "absent-buyer", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_ABSENT}}}})
	if err != nil {
		log.Fatal(err)
	}
	nonce, blind := scalar(41), scalar(42)
	resp, err := buyer.Prove(ctx, &zkv1.ProveRequest{Collection: "absent-example", Kind: zkv1.StatementKind_STATEMENT_KIND_ABSENT,
		Subject: "S9", Nonce: nonce, Blind: blind})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(bundle.KindName(resp.GetBundle().GetKind()), resp.GetAudit().GetStatement())

	// The consumer verifies with the key and blind it asked with.
	var n, b fr.Element
	n.SetBytes(nonce)
	b.SetBytes(blind)
	exp := verifier.Expect{Kind: bundle.KindAbsent, Collection: "holder/absent-example", Subject: "S9", Blind: &b, Nonce: &n}
	third, err := client.New(node.URL, client.WithKeyDir(node.KeyDir))
	if err != nil {
		log.Fatal(err)
	}
	v, err := third.Verify(ctx, resp.GetBundle(), exp)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Valid)
	// Pinned to another key, the same bundle fails the subject check.
	exp.Subject = "S2"
	v, _ = third.Verify(ctx, resp.GetBundle(), exp)
	fmt.Println(v.Valid, verifier.CheckName(v.Failed))

	_, err = buyer.Prove(ctx, &zkv1.ProveRequest{Collection: "absent-example", Kind: zkv1.StatementKind_STATEMENT_KIND_ABSENT,
		Subject: "S2", Nonce: scalar(43), Blind: blind})
	fmt.Println(connect.CodeOf(err)) // S2 has a record
	// Output:
	// absent absent
	// true
	// false subject
	// failed_precondition
}
