package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/service"
	"github.com/zkshare/zkshare/verifier"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
)

// errUnanchored: the proof checks out, but nothing ties its root to a
// collection anchored on a ledger, so it shows nothing about one.
var errUnanchored = errors.New("not anchored: the proof shows nothing about any anchored collection (verify with --server, or offline with --ledger-key)")

// expectFlags are the flags with which an asker pins what it asked.
type expectFlags struct {
	kind, collection, query, subject, blind, nonce *string
	field, mode, threshold                         *string
}

func addExpectFlags(f *flags, aggregate bool) expectFlags {
	e := expectFlags{
		collection: f.String("collection", "", "the collection you asked about: HOLDER/NAME, or NAME with --holder"),
		query:      f.String("query", "", "the query you asked (compared by its canonical hash)"),
		nonce:      f.String("nonce", "", "the nonce you sent with the question (hex)"),
	}
	if aggregate {
		e.field = f.String("field", "", "the field you asked to aggregate")
		e.mode = f.String("mode", "", "the answer you asked for: reveal or threshold")
		e.threshold = f.String("threshold", "", "the threshold you asked about, e.g. \"count == 0\" (implies --mode threshold)")
		return e
	}
	e.kind = f.String("kind", "", "the kind of question you asked: subject or exists (--subject implies subject)")
	e.subject = f.String("subject", "", "the subject you asked about")
	e.blind = f.String("blind", "", "the blind you sent with a subject question (hex; `prove` prints it)")
	return e
}

func optString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// parse turns the flags into the verifier's expectation and the RPC's.
func (e expectFlags) parse() (verifier.Expect, *zkv1.Expectation, error) {
	exp := verifier.Expect{Collection: *e.collection, Query: *e.query, Subject: optString(e.subject), Field: optString(e.field), Mode: optString(e.mode)}
	pe := &zkv1.Expectation{Collection: exp.Collection, Query: exp.Query, Subject: exp.Subject, Field: exp.Field}
	switch k := optString(e.kind); k {
	case "":
	case bundle.KindSubject:
		exp.Kind, pe.Kind = k, zkv1.StatementKind_STATEMENT_KIND_SUBJECT
	case bundle.KindExists:
		exp.Kind, pe.Kind = k, zkv1.StatementKind_STATEMENT_KIND_EXISTS
	default:
		return exp, nil, fmt.Errorf("--kind %q: want subject or exists", k)
	}
	if t := optString(e.threshold); t != "" {
		th, err := parseThreshold(t)
		if err != nil {
			return exp, nil, err
		}
		pe.Threshold = th
		exp.Threshold = &verifier.Threshold{Which: th.GetAggregate(), Relation: th.GetRelation(), Value: th.GetValue()}
		if exp.Mode == "" {
			exp.Mode = verifier.ModeThreshold
		}
	}
	switch exp.Mode {
	case "":
	case verifier.ModeReveal:
		pe.Mode = zkv1.AggregateMode_AGGREGATE_MODE_REVEAL
	case verifier.ModeThreshold:
		pe.Mode = zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD
	default:
		return exp, nil, fmt.Errorf("--mode %q: want reveal or threshold", exp.Mode)
	}
	for _, s := range []struct {
		flag string
		text string
		el   **fr.Element
		out  *[]byte
	}{{"--nonce", *e.nonce, &exp.Nonce, &pe.Nonce}, {"--blind", optString(e.blind), &exp.Blind, &pe.Blind}} {
		if s.text == "" {
			continue
		}
		v, err := records.ParseElement(s.text)
		if err != nil {
			return exp, nil, fmt.Errorf("%s: %w", s.flag, err)
		}
		b := v.Bytes()
		*s.el, *s.out = &v, b[:]
	}
	return exp, pe, nil
}

// qualifyPin: collections are named HOLDER/NAME on the ledger, and a short
// name is any holder's, so a short --collection pins nothing until --holder
// qualifies it.
func qualifyPin(exp *verifier.Expect, pe *zkv1.Expectation, holder string) error {
	if holder == "" || exp.Collection == "" {
		return nil
	}
	exp.Collection = ledger.Qualify(holder, exp.Collection)
	if h, _, ok := ledger.SplitName(exp.Collection); !ok || h != holder {
		return fmt.Errorf("--collection %q is not a collection of --holder %q", exp.Collection, holder)
	}
	pe.Collection = exp.Collection
	return nil
}

// freshnessSeconds is --freshness on the wire: whole seconds, 0 for the
// server's default. A window the wire cannot carry is refused rather than
// rounded into a looser one.
func freshnessSeconds(d time.Duration) (uint32, error) {
	if d == 0 {
		return 0, nil
	}
	if d < time.Second || d%time.Second != 0 || d/time.Second > math.MaxUint32 {
		return 0, fmt.Errorf("--freshness %s: want whole seconds, at least 1s", d)
	}
	return uint32(d / time.Second), nil
}

// pinned lists what the asker pinned, for the verdict's text.
func pinned(exp verifier.Expect) string {
	var p []string
	for _, x := range []struct {
		name string
		set  bool
	}{{"kind", exp.Kind != ""}, {"collection", exp.Collection != ""}, {"query", exp.Query != ""}, {"subject", exp.Subject != ""},
		{"nonce", exp.Nonce != nil}, {"field", exp.Field != ""}, {"mode", exp.Mode != ""}, {"threshold", exp.Threshold != nil}} {
		if x.set {
			p = append(p, x.name)
		}
	}
	if len(p) == 0 {
		return "nothing (pass --collection, --query, --subject, --nonce ... to pin what you asked)"
	}
	return strings.Join(p, ", ")
}

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("verify", stderr)
	keyDir := f.String("keys", envOr("ZKSHARE_KEYS", "keys.d"), "key directory whose verifying keys are pinned (offline)")
	asJSON := f.Bool("json", false, "print the verdict as JSON")
	ledgerKey := f.String("ledger-key", envOr("ZKSHARE_LEDGER_KEY", ""), "the ledger's checkpoint key: verify the anchor offline")
	holderID := f.String("holder", "", "the collection's holder: qualifies a short --collection as HOLDER/NAME; offline, the anchor must be its")
	freshness := f.Duration("freshness", 0, "with --server: how long a replaced root still verifies (default: the server's)")
	ef := addExpectFlags(f, false)
	r := remoteFlags(f)
	f.StringVar(r.server, "ledger", *r.server, "a node's URL: verify online against its ledger (same as --server)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if f.NArg() != 1 {
		return errors.New("verify: want one bundle file")
	}
	exp, pe, err := ef.parse()
	if err != nil {
		return err
	}
	if err := qualifyPin(&exp, pe, *holderID); err != nil {
		return err
	}
	fresh, err := freshnessSeconds(*freshness)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(f.Arg(0))
	if err != nil {
		return err
	}
	pb, perr := parseProtoBundle(data)
	var resp *zkv1.VerifyResponse
	switch {
	case perr == nil && r.on():
		opts, err := r.options()
		if err != nil {
			return err
		}
		c := zksharev1connect.NewVerifierServiceClient(service.HTTPClient(), *r.server, opts...)
		if resp, err = c.Verify(ctx, &zkv1.VerifyRequest{Bundle: pb, Expect: pe, FreshnessSeconds: fresh}); err != nil {
			return err
		}
	case perr == nil:
		if resp, err = verifyOffline(pb, *keyDir, *ledgerKey, *holderID, exp); err != nil {
			return err
		}
	default:
		// A bare bundle from a local store: no anchor at all.
		v, err := verifier.FromDir(*keyDir)
		if err != nil {
			return err
		}
		verdict := v.VerifyBytes(data, exp)
		resp = &zkv1.VerifyResponse{Statement: verdict.Statement, Checks: verdict.Checked, FailedCheck: verdict.Failed, Reason: verdict.Reason}
		if verdict.Valid {
			resp.FailedCheck, resp.Reason = service.CheckAnchor, errUnanchored.Error()
		}
	}
	return report(resp, exp, *asJSON, stdout)
}

// report prints a verdict and returns its error: a verdict that does not
// rest on an anchor is never VALID.
func report(resp *zkv1.VerifyResponse, exp verifier.Expect, asJSON bool, stdout io.Writer) error {
	if asJSON {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", EmitUnpopulated: true}.Marshal(resp)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		switch {
		case resp.GetValid():
			fmt.Fprintf(stdout, "VALID: %s\nchecked: %s\npinned: %s\n", resp.GetStatement(), strings.Join(resp.GetChecks(), ", "), pinned(exp))
			if resp.GetAnchorHeight() > 0 {
				fmt.Fprintf(stdout, "anchored at height %d, %s\n", resp.GetAnchorHeight(), time.UnixMilli(resp.GetAnchorTimeUnixMs()).UTC().Format(time.RFC3339))
			}
		case resp.GetReason() == errUnanchored.Error():
			fmt.Fprintf(stdout, "NOT ANCHORED: the proof is well formed for \"%s\", but nothing ties it to a collection anchored on a ledger: it shows nothing about any holder's records\n", resp.GetStatement())
		default:
			fmt.Fprintf(stdout, "INVALID: %s check failed: %s\n", resp.GetFailedCheck(), resp.GetReason())
		}
		for _, w := range resp.GetWarnings() {
			fmt.Fprintf(stdout, "warning: %s\n", w)
		}
	}
	if resp.GetReason() == errUnanchored.Error() {
		return errUnanchored
	}
	if !resp.GetValid() {
		return fmt.Errorf("%w: %s check failed: %s", verifier.ErrInvalid, resp.GetFailedCheck(), resp.GetReason())
	}
	return nil
}

// verifyOffline checks a service bundle without a node: the anchor is
// included under a checkpoint signed by the named ledger key (the ledger
// accepts an anchor only from the collection's holder), then the
// statement, the pins and the proof against the key directory's keys.
// Without a ledger key the verdict is "not anchored".
func verifyOffline(pb *zkv1.Bundle, keyDir, ledgerKey, holder string, exp verifier.Expect) (*zkv1.VerifyResponse, error) {
	resp := &zkv1.VerifyResponse{}
	b, err := bundle.FromProto(pb)
	if err != nil {
		resp.FailedCheck, resp.Reason = verifier.CheckDecode, err.Error()
		return resp, nil
	}
	resp.Statement = b.Statement()
	anchored := false
	if ledgerKey != "" {
		sender, err := checkAnchorOffline(pb, ledgerKey, holder)
		if err != nil {
			resp.FailedCheck, resp.Reason = service.CheckAnchor, err.Error()
			return resp, nil
		}
		anchored = true
		resp.Checks = append(resp.Checks, fmt.Sprintf("%s (by %s, included under the signed checkpoint)", service.CheckAnchor, sender))
		resp.Warnings = append(resp.Warnings, "offline: whether the root was since replaced, whether the anchor got the M-of-N confirmations its collection may require, and whether the keys are the ledger's registered ones, need --server")
	}
	v, err := verifier.FromDir(keyDir)
	if err != nil {
		return nil, err
	}
	if m, err := keys.ReadManifest(keyDir); err == nil && m.Circuits[b.Circuit].Setup != keys.SetupCeremony {
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("the %s keys in %s come from a single-party development setup: whoever ran it can forge proofs", b.Circuit, keyDir))
	}
	verdict := v.Verify(b, exp)
	resp.Checks = append(resp.Checks, verdict.Checked...)
	resp.Valid, resp.FailedCheck, resp.Reason = verdict.Valid, verdict.Failed, verdict.Reason
	if verdict.Valid && !anchored {
		resp.Valid, resp.FailedCheck, resp.Reason = false, service.CheckAnchor, errUnanchored.Error()
	}
	return resp, nil
}

// checkAnchorOffline: the bundle's anchor transaction anchors its
// collection's root and is included under a checkpoint signed by vkey. It
// returns the anchor's sender, which must be holder when one is named.
func checkAnchorOffline(pb *zkv1.Bundle, vkey, holder string) (string, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return "", fmt.Errorf("--ledger-key: %w", err)
	}
	if _, err := ledger.VerifyInclusion(pb.GetCheckpoint(), v.Name(), v, pb.GetAnchorTx(), pb.GetAnchorLogIndex(), pb.GetAnchorInclusion()); err != nil {
		return "", err
	}
	tx, err := ledger.DecodeTx(pb.GetAnchorTx())
	if err != nil {
		return "", err
	}
	a := tx.Body.GetAnchor()
	if a == nil || !bytes.Equal(a.GetCollectionId(), pb.GetCollectionId()) || !bytes.Equal(a.GetRoot(), pb.GetRoot()) {
		return "", errors.New("the anchor transaction does not anchor this collection's root")
	}
	if holder != "" && tx.Body.GetSender() != holder {
		return "", fmt.Errorf("anchored by %q, not by %q", tx.Body.GetSender(), holder)
	}
	// The ledger registers HOLDER/NAME for HOLDER only, and takes its
	// anchors from its holder only.
	if h, _, ok := ledger.SplitName(pb.GetCollection()); ok && h != tx.Body.GetSender() {
		return "", fmt.Errorf("anchored by %q, but collection %q is %q's", tx.Body.GetSender(), pb.GetCollection(), h)
	}
	return tx.Body.GetSender(), nil
}
