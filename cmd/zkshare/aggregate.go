package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// parseThreshold reads "count == 0", "max <= 8.0", "sum >= 12000".
func parseThreshold(s string) (*zkv1.AggregateThreshold, error) {
	parts := strings.Fields(s)
	if len(parts) != 3 {
		return nil, fmt.Errorf("--threshold %q: want AGGREGATE RELATION VALUE, e.g. \"count == 0\" or \"max <= 8.0\"", s)
	}
	return &zkv1.AggregateThreshold{Aggregate: parts[0], Relation: parts[1], Value: parts[2]}, nil
}

// cmdAggregate asks a node for an aggregate proof over a whole collection.
func cmdAggregate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("aggregate", stderr)
	r := remoteFlags(f)
	coll := f.String("collection", "", "collection name")
	field := f.String("field", "", "the aggregated field")
	q := f.String("query", "", "predicate, e.g. 'lot == \"L-2026-Q3\" AND max_temp > 8.0'")
	threshold := f.String("threshold", "", "reveal one bit only: AGGREGATE RELATION VALUE, e.g. \"count == 0\"")
	out := f.String("out", "", "write the bundle here (default: stdout)")
	auditOut := f.String("audit-receipt", "", "write the answer's audit receipt here (`audit check` reads it)")
	nonceHex := f.String("nonce", "", "verifier nonce (hex; default: fresh, printed)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || *coll == "" || *field == "" || *q == "" {
		return errors.New("aggregate: --server, --collection, --field and --query are required")
	}
	nonce, err := newNonceBytes(*nonceHex)
	if err != nil {
		return err
	}
	if *nonceHex == "" {
		fprintf(stderr, "nonce: %x (pin it: verify-aggregate --nonce)\n", nonce)
	}
	req := &zkv1.ProveAggregateRequest{Collection: *coll, Field: *field, Query: *q, Nonce: nonce}
	if *threshold != "" {
		t, err := parseThreshold(*threshold)
		if err != nil {
			return err
		}
		req.Threshold = t
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	fprintf(stderr, "proving over every record of %s (about 10 s per region of up to 384 records on 2 cores)\n", *coll)
	resp, err := c.ProveAggregate(ctx, req,
		client.WithProgress(func(done, total int) { fprintf(stderr, "\r  chunks proven: %d of %d", done, total) }))
	fprintln(stderr)
	if err != nil {
		return err
	}
	if *auditOut != "" {
		if err := writeAuditReceipt(resp.GetAudit(), *auditOut); err != nil {
			return err
		}
	}
	return writeBundle(resp.GetBundle(), resp.GetStatement(), *out, stdout, stderr)
}

// cmdVerifyAggregate checks an aggregate bundle with the verifier against a
// node's ledger (--server) or offline (--ledger-key), against what the
// asker pins. It is `verify` for aggregate bundles.
func cmdVerifyAggregate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("verify-aggregate", stderr)
	path := f.String("bundle", "", "aggregate bundle file")
	asJSON := f.Bool("json", false, "print the verdict as JSON")
	holderID := f.String("holder", "", "the collection's holder: qualifies a short --collection as HOLDER/NAME")
	ef := addExpectFlags(f, true)
	vf := addViewFlags(f)
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if *path == "" && f.NArg() == 1 {
		*path = f.Arg(0)
	}
	if *path == "" {
		return errors.New("verify-aggregate: --bundle is required")
	}
	exp, pe, err := ef.parse()
	if err != nil {
		return err
	}
	if err := qualifyPin(&exp, pe, *holderID); err != nil {
		return err
	}
	exp.Kind = bundle.KindAggregate
	verdict, err := verifyFile(ctx, vf, *path, exp, bundle.KindAggregate)
	if err != nil {
		return err
	}
	return report(verdict.Proto(), exp, *asJSON, stdout)
}
