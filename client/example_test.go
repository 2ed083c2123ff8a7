package client_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
)

// The examples talk to a node started by TestMain: node.URL is its base
// URL (http://127.0.0.1:PORT), node.HolderToken and node.AdminToken the
// tokens a node writes to DATA/identities/{holder,admin}.token.

// shipmentsSchema is a collection's schema: a key and typed fields.
const shipmentsSchema = `{"name": "shipments", "key": "shipment_id", "fields": [
  {"name": "lot", "type": "string"},
  {"name": "max_temp", "type": "decimal", "scale": 1, "width": 16}]}`

// shipmentsCSV are its records, as a holder exports them.
const shipmentsCSV = `shipment_id,lot,max_temp
S1,L-1,4.5
S2,L-1,7.9
S3,L-2,9.2
S4,L-2,3.0
`

// holderWithShipments creates the collection name from shipmentsSchema
// and commits shipmentsCSV to it, as the holder.
func holderWithShipments(ctx context.Context, name string) *client.Client {
	h, err := client.New(node.URL, client.WithToken(node.HolderToken))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(shipmentsSchema), Name: name}); err != nil {
		log.Fatal(err)
	}
	sc, _ := records.ParseSchema([]byte(shipmentsSchema))
	recs, err := sc.ReadCSV(strings.NewReader(shipmentsCSV))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := h.Commit(ctx, name, slices.Values(recs)); err != nil {
		log.Fatal(err)
	}
	return h
}

// consumer registers a consumer as the admin and returns its client.
func consumer(ctx context.Context, id string) *client.Client {
	admin, err := client.New(node.URL, client.WithToken(node.AdminToken))
	if err != nil {
		log.Fatal(err)
	}
	ident, err := ledger.NewIdentity(id)
	if err != nil {
		log.Fatal(err)
	}
	reg, err := admin.RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: id, Role: zkv1.Role_ROLE_CONSUMER, PublicKey: ident.Public()})
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New(node.URL, client.WithToken(reg.GetToken()))
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// scalar is a 32-byte big-endian field element, as nonces and blinds
// travel (use prover.NewNonce for real ones).
func scalar(b byte) []byte {
	s := make([]byte, 32)
	s[31] = b
	return s
}

// A client of a node over Connect (the default); WithGRPC and WithGRPCWeb
// pick the other protocols on the same port. Ledger reads need no token.
func ExampleNew() {
	ctx := context.Background()
	c, err := client.New(node.URL) // e.g. "http://127.0.0.1:8080"
	if err != nil {
		log.Fatal(err)
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cp.GetOrigin())

	g, err := client.New(node.URL, client.WithGRPC())
	if err != nil {
		log.Fatal(err)
	}
	cp2, err := g.Checkpoint(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cp2.GetOrigin())
	// Output:
	// zkshare.local/ledger
	// zkshare.local/ledger
}

// Errors are connect errors with the call named: test the code.
func ExampleNew_unauthenticated() {
	c, err := client.New(node.URL) // no token
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.CreateCollection(context.Background(), &zkv1.CreateCollectionRequest{Schema: []byte(shipmentsSchema)})
	fmt.Println(connect.CodeOf(err))
	// Output:
	// unauthenticated
}

// A holder defines a collection; the ledger names it HOLDER/NAME.
func ExampleClient_CreateCollection() {
	ctx := context.Background()
	h, err := client.New(node.URL, client.WithToken(node.HolderToken))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(shipmentsSchema), Name: "create-example"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetCollection().GetName())

	info, err := h.GetCollection(ctx, "create-example")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.GetName(), info.GetRecordCount(), len(info.GetId()))
	// Output:
	// holder/create-example
	// holder/create-example 0 32
}

// Commit streams records read from a file in chunks of client.CommitChunk
// and anchors the new root; Update and Delete change a few by key.
func ExampleClient_Commit() {
	ctx := context.Background()
	h, err := client.New(node.URL, client.WithToken(node.HolderToken))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(shipmentsSchema), Name: "commit-example"}); err != nil {
		log.Fatal(err)
	}
	sc, err := records.ParseSchema([]byte(shipmentsSchema))
	if err != nil {
		log.Fatal(err)
	}
	recs, err := sc.ReadCSV(strings.NewReader(shipmentsCSV))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := h.Commit(ctx, "commit-example", slices.Values(recs),
		client.WithProgress(func(sent, _ int) { fmt.Printf("sent %d of %d\n", sent, len(recs)) }))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("inserted %d, %d records, anchored: %v\n", resp.GetInserted(), resp.GetRecordCount(), resp.GetAnchorHeight() > 0)

	up, err := h.Update(ctx, "commit-example", []records.Record{{Key: "S3", Values: []string{"L-2", "7.5"}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("updated %d\n", up.GetUpdated())

	del, err := h.Delete(ctx, "commit-example", "S4")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("deleted %d, %d records left\n", del.GetDeleted(), del.GetRecordCount())
	// Output:
	// sent 4 of 4
	// inserted 4, 4 records, anchored: true
	// updated 1
	// deleted 1, 3 records left
}

// A holder says who may ask what.
func ExampleClient_SetPolicy() {
	ctx := context.Background()
	h := holderWithShipments(ctx, "policy-example")
	consumer(ctx, "analyst") // a policy names registered consumers, or "*"
	err := h.SetPolicy(ctx, "policy-example", &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{
		Consumer: "analyst", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT}, RatePerMinute: 60}}})
	if err != nil {
		log.Fatal(err)
	}
	p, err := h.GetPolicy(ctx, "policy-example")
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range p.GetRules() {
		fmt.Println(r.GetConsumer(), r.GetKinds(), r.GetRatePerMinute())
	}
	// Output:
	// analyst [STATEMENT_KIND_SUBJECT] 60
}

// A consumer asks a question about one record; the answer is a bundle
// with a proof, anchored on the ledger, and an audit receipt.
func ExampleClient_Prove() {
	ctx := context.Background()
	h := holderWithShipments(ctx, "prove-example")
	buyer := consumer(ctx, "prove-buyer")
	err := h.SetPolicy(ctx, "prove-example", &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{
		Consumer: "prove-buyer", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT, zkv1.StatementKind_STATEMENT_KIND_EXISTS}}}})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := buyer.Prove(ctx, &zkv1.ProveRequest{Collection: "prove-example", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT,
		Subject: "S2", Query: "max_temp <= 8.0", Nonce: scalar(1), Blind: scalar(2)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetBundle().GetResult(), resp.GetAudit().GetConsumer())

	_, err = buyer.Prove(ctx, &zkv1.ProveRequest{Collection: "prove-example", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS,
		Query: "max_temp > 20.0", Nonce: scalar(3)})
	fmt.Println(connect.CodeOf(err)) // no such record: nothing to prove
	// Output:
	// true prove-buyer
	// failed_precondition
}

// An aggregate over every record: here one bit, whether no shipment of
// lot L-1 went above 8.0 °C, with the node's progress.
func ExampleClient_ProveAggregate() {
	ctx := context.Background()
	h := holderWithShipments(ctx, "aggregate-example")
	buyer := consumer(ctx, "agg-buyer")
	err := h.SetPolicy(ctx, "aggregate-example", &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{
		Consumer: "agg-buyer", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_AGGREGATE},
		AggregateFields: []string{"max_temp"}, AggregateModes: []zkv1.AggregateMode{zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD}}}})
	if err != nil {
		log.Fatal(err)
	}
	var chunks int
	resp, err := buyer.ProveAggregate(ctx, &zkv1.ProveAggregateRequest{Collection: "aggregate-example", Field: "max_temp",
		Query: `lot == "L-1" AND max_temp > 8.0`, Threshold: &zkv1.AggregateThreshold{Aggregate: "count", Relation: "==", Value: "0"}, Nonce: scalar(4)},
		client.WithProgress(func(done, total int) { chunks = total }))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(chunks, resp.GetBundle() != nil, resp.GetAudit().GetResult())
	// Output:
	// 1 true true
}

// A holder gives a subject its own record, to prove facts offline.
func ExampleClient_IssueReceipt() {
	ctx := context.Background()
	h := holderWithShipments(ctx, "receipt-example")
	r, err := h.IssueReceipt(ctx, "receipt-example", "S1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.GetCollection())
	// Output:
	// holder/receipt-example
}

// A holder changes who must co-sign its collection's anchors: the
// governors approve it.
func ExampleClient_SetConfirmers() {
	ctx := context.Background()
	h := holderWithShipments(ctx, "confirmers-example")
	resp, err := h.SetConfirmers(ctx, &zkv1.SetConfirmersRequest{Collection: "confirmers-example", Confirmers: []string{"holder"}, ConfirmationsRequired: 1})
	if err != nil {
		fmt.Println(connect.CodeOf(err))
		return
	}
	fmt.Println(resp.GetStatus().GetApplied(), resp.GetStatus().GetNeeded())
	// Output:
	// false 1
}

// The audit trail: every question answered, with its opening, in pages.
func ExampleClient_Audit() {
	ctx := context.Background()
	h := holderWithShipments(ctx, "audit-example")
	asker := consumer(ctx, "auditee")
	err := h.SetPolicy(ctx, "audit-example", &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{
		Consumer: "auditee", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT}}}})
	if err != nil {
		log.Fatal(err)
	}
	for i, subject := range []string{"S1", "S3"} {
		if _, err := asker.Prove(ctx, &zkv1.ProveRequest{Collection: "audit-example", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT,
			Subject: subject, Query: "max_temp <= 8.0", Nonce: scalar(byte(10 + i)), Blind: scalar(9)}); err != nil {
			log.Fatal(err)
		}
	}
	for e, err := range asker.Audit(ctx, client.AuditFilter{Consumer: "auditee", PageSize: 1}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.GetReceipt().GetConsumer(), e.GetReceipt().GetStatement(), e.GetReceipt().GetResult())
	}
	// Output:
	// auditee subject true
	// auditee subject false
}

// Ledger reads: the checkpoint, blocks, a transaction with its inclusion
// proof, and a consistency proof between two log sizes.
func ExampleClient_Checkpoint() {
	ctx := context.Background()
	h := holderWithShipments(ctx, "ledger-example")
	info, err := h.GetCollection(ctx, "ledger-example")
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New(node.URL)
	if err != nil {
		log.Fatal(err)
	}
	a, err := c.Anchor(ctx, &zkv1.GetAnchorRequest{CollectionId: info.GetId()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.GetHolder(), a.GetStatus())
	tx, err := c.Transaction(ctx, a.GetTxHash())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tx.GetHeight() == a.GetHeight(), len(tx.GetCheckpoint()) > 0)
	blocks, err := c.Blocks(ctx, 1, 2)
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range blocks {
		fmt.Println("block", b.GetHeight())
	}
	if _, err := c.ConsistencyProof(ctx, 1, tx.GetLogIndex()+1); err != nil {
		log.Fatal(err)
	}
	fmt.Println("consistent")
	// Output:
	// holder ANCHOR_STATUS_LATEST
	// true true
	// block 1
	// block 2
	// consistent
}

// WatchBlocks follows the ledger as it grows; break to stop (breaking
// closes the stream; so does ending ctx).
func ExampleClient_WatchBlocks() {
	ctx := context.Background()
	c, err := client.New(node.URL)
	if err != nil {
		log.Fatal(err)
	}
	n := 0
	for b, err := range c.WatchBlocks(ctx, 1) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("block", b.GetHeight())
		if n++; n == 2 {
			break
		}
	}
	// Output:
	// block 1
	// block 2
}

// The admin registers participants and governs the ledger.
func ExampleClient_RegisterParticipant() {
	ctx := context.Background()
	admin, err := client.New(node.URL, client.WithToken(node.AdminToken))
	if err != nil {
		log.Fatal(err)
	}
	ident, err := ledger.NewIdentity("regulator")
	if err != nil {
		log.Fatal(err)
	}
	reg, err := admin.RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: ident.ID, Role: zkv1.Role_ROLE_CONSUMER, PublicKey: ident.Public()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reg.GetToken() != "", reg.GetPending())
	ps, err := admin.ListProposals(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ps.GetGovernors(), ps.GetNeeded())
	// Output:
	// true false
	// [admin] 1
}
