package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/verifier"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"
)

// subjectBundle has a consumer ask whether shipment S2 of a fresh
// collection stayed at or below 8.0 °C, and returns the bundle with the
// question as its asker pins it.
func subjectBundle(ctx context.Context, name, consumerID string) (*zkv1.Bundle, verifier.Expect) {
	h := holderWithShipments(ctx, name)
	buyer := consumer(ctx, consumerID)
	err := h.SetPolicy(ctx, name, &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{
		Consumer: consumerID, Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT}}}})
	if err != nil {
		log.Fatal(err)
	}
	nonce, blind := scalar(21), scalar(22)
	resp, err := buyer.Prove(ctx, &zkv1.ProveRequest{Collection: name, Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT,
		Subject: "S2", Query: "max_temp <= 8.0", Nonce: nonce, Blind: blind})
	if err != nil {
		log.Fatal(err)
	}
	var n, b fr.Element
	n.SetBytes(nonce)
	b.SetBytes(blind)
	return resp.GetBundle(), verifier.Expect{Kind: bundle.KindSubject, Collection: "holder/" + name,
		Query: "max_temp <= 8.0", Subject: "S2", Blind: &b, Nonce: &n}
}

// A third party verifies a bundle in its own process: the verifier runs
// here, reads the node's ledger, and checks the proof with the verifying
// keys the third party pinned (its key directory, never the node's). A
// bundle edited on the way fails, naming the check.
func ExampleClient_Verify() {
	ctx := context.Background()
	b, exp := subjectBundle(ctx, "verify-example", "verify-buyer")

	third, err := client.New(node.URL, client.WithKeyDir(node.KeyDir)) // no token: ledger reads are public
	if err != nil {
		log.Fatal(err)
	}
	v, err := third.Verify(ctx, b, exp)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Valid, v.Statement)

	// A relayer flips the answer: the proof no longer verifies.
	tampered := proto.Clone(b).(*zkv1.Bundle)
	tampered.Result = !tampered.Result
	v, err = third.Verify(ctx, tampered, exp)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Valid, verifier.CheckName(v.Failed))
	fmt.Println(v.Err())

	// The same bundle as a file's bytes (protojson).
	data, err := bundle.Marshal(b)
	if err != nil {
		log.Fatal(err)
	}
	v, err = third.VerifyBytes(ctx, data, exp)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Valid)
	// Output:
	// true the subject's record in holder/verify-example satisfies: max_temp <= 8.0
	// false proof
	// bundle is not valid: proof check failed: the proof does not verify for this statement
	// true
}

// Offline, a verifier needs no node: the bundle carries its anchor's
// inclusion proof under a signed checkpoint, checked against the ledger's
// checkpoint key, which the verifier obtained and trusts out of band
// (`zkshare ledger show` prints it; here it is read once from the node).
func ExampleClient_Verify_offline() {
	ctx := context.Background()
	b, exp := subjectBundle(ctx, "offline-example", "offline-buyer")

	// Once, out of band: the ledger's checkpoint key.
	c, err := client.New(node.URL)
	if err != nil {
		log.Fatal(err)
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		log.Fatal(err)
	}
	ledgerKey, err := note.NewEd25519VerifierKey(cp.GetOrigin(), cp.GetNodeKey())
	if err != nil {
		log.Fatal(err)
	}

	// Then, with no node: the verifier's own keys and the ledger key.
	pinned, err := verifier.FromDir(node.KeyDir)
	if err != nil {
		log.Fatal(err)
	}
	view, err := verifier.NewOffline(b, ledgerKey, pinned)
	if err != nil {
		log.Fatal(err)
	}
	v := pinned.Verify(ctx, view, b, exp, verifier.Options{})
	fmt.Println(v.Valid, v.Checked())

	// A bundle whose anchor evidence was replaced fails the anchor check.
	tampered := proto.Clone(b).(*zkv1.Bundle)
	tampered.AnchorLogIndex++
	view, err = verifier.NewOffline(tampered, ledgerKey, pinned)
	if err != nil {
		log.Fatal(err)
	}
	v = pinned.Verify(ctx, view, tampered, exp, verifier.Options{})
	fmt.Println(v.Valid, verifier.CheckName(v.Failed))
	// Output:
	// true [key registry anchor schema verifying key collection id query hash expectation nonce subject proof]
	// false anchor
}
