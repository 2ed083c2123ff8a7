package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
	"google.golang.org/protobuf/encoding/protojson"
)

// errUnanchored: the proof checks out, but nothing ties its root to a
// collection anchored on a ledger, so it shows nothing about one.
var errUnanchored = verifier.ErrUnanchored

// expectFlags are the flags with which an asker pins what it asked.
type expectFlags struct {
	kind, collection, query, subject, absent, blind, nonce *string
	field, mode, threshold                                 *string
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
	e.kind = f.String("kind", "", "the kind of question you asked: subject, exists or absent (--subject implies subject, --absent absent)")
	e.subject = f.String("subject", "", "the subject you asked about")
	e.absent = f.String("absent", "", "the key you asked to have no live record")
	e.blind = f.String("blind", "", "the blind you sent with a subject or absent question (hex; `prove` prints it)")
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
	exp := verifier.Expect{Collection: *e.collection, Query: *e.query, Subject: optString(e.subject), Field: optString(e.field)}
	pe := &zkv1.Expectation{Collection: exp.Collection, Query: exp.Query, Subject: exp.Subject, Field: exp.Field}
	switch k := optString(e.kind); k {
	case "":
	case "subject":
		exp.Kind, pe.Kind = bundle.KindSubject, bundle.KindSubject
	case "exists":
		exp.Kind, pe.Kind = bundle.KindExists, bundle.KindExists
	case "absent":
		exp.Kind, pe.Kind = bundle.KindAbsent, bundle.KindAbsent
	default:
		return exp, nil, fmt.Errorf("--kind %q: want subject, exists or absent", k)
	}
	if a := optString(e.absent); a != "" {
		if exp.Subject != "" || (exp.Kind != 0 && exp.Kind != bundle.KindAbsent) {
			return exp, nil, errors.New("--absent pins an absent question: it goes with neither --subject nor another --kind")
		}
		exp.Kind, pe.Kind, exp.Subject, pe.Subject = bundle.KindAbsent, bundle.KindAbsent, a, a
	}
	if t := optString(e.threshold); t != "" {
		th, err := parseThreshold(t)
		if err != nil {
			return exp, nil, err
		}
		pe.Threshold = th
		if exp.Threshold, err = pinnedThreshold(th); err != nil {
			return exp, nil, err
		}
		exp.Mode = verifier.ModeThreshold
	}
	switch m := optString(e.mode); m {
	case "":
	case "reveal":
		exp.Mode = verifier.ModeReveal
	case "threshold":
		exp.Mode = verifier.ModeThreshold
	default:
		return exp, nil, fmt.Errorf("--mode %q: want reveal or threshold", m)
	}
	pe.Mode = exp.Mode
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
	}{{"kind", exp.Kind != 0}, {"collection", exp.Collection != ""}, {"query", exp.Query != ""}, {"subject", exp.Subject != ""},
		{"nonce", exp.Nonce != nil}, {"field", exp.Field != ""}, {"mode", exp.Mode != 0}, {"threshold", exp.Threshold != nil}} {
		if x.set {
			p = append(p, x.name)
		}
	}
	if len(p) == 0 {
		return "nothing (pass --collection, --query, --subject, --nonce ... to pin what you asked)"
	}
	return strings.Join(p, ", ")
}

// viewFlags choose the ledger view a verification rests on: a node
// (--server, or its alias --ledger), or offline the bundle's own evidence
// against --ledger-key. Neither: the verdict is NOT ANCHORED.
type viewFlags struct {
	r         remote
	keyDir    *string
	ledgerKey *string
	holderKey *string
	freshness *time.Duration
}

func addViewFlags(f *flags) viewFlags {
	v := viewFlags{
		keyDir:    f.String("keys", envOr("ZKSHARE_KEYS", "keys.d"), "key directory whose verifying keys are pinned"),
		ledgerKey: f.String("ledger-key", envOr("ZKSHARE_LEDGER_KEY", ""), "the ledger's checkpoint key: verify offline with the bundle's own evidence (no node is asked, even with --server)"),
		holderKey: f.String("holder-key", "", "offline: the holder's Ed25519 public key (hex), known out of band: the anchor must be signed with it"),
		freshness: f.Duration("freshness", 0, "how long a replaced root still verifies (default: only the latest)"),
		r:         remoteFlags(f),
	}
	f.StringVar(v.r.server, "ledger", *v.r.server, "a node's URL: verify against its ledger (same as --server)")
	return v
}

// verifyFile runs the verifier on a bundle file through the chosen view:
// a node's ledger through the SDK (--server), the bundle's own evidence
// against --ledger-key (offline: no node is asked, even with --server), or
// none (never VALID). The verifying keys are always --keys.
func verifyFile(ctx context.Context, vf viewFlags, path string, exp verifier.Expect, want zkv1.StatementKind) (*verifier.Verdict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := bundle.Parse(data)
	if err != nil {
		return &verifier.Verdict{Failed: verifier.CheckDecode, Reason: fmt.Sprintf("%s: %v", path, err)}, nil
	}
	if want != 0 && b.GetKind() != want {
		return &verifier.Verdict{Statement: bundle.Statement(b), Failed: verifier.CheckExpect,
			Reason: fmt.Sprintf("want a %s bundle, got a %s bundle", bundle.KindName(want), bundle.KindName(b.GetKind()))}, nil
	}
	pinned, err := verifier.FromDir(*vf.keyDir)
	if err != nil {
		return nil, fmt.Errorf("--keys: %w", err)
	}
	opts := verifier.Options{Freshness: *vf.freshness}
	switch {
	case *vf.ledgerKey != "":
		off, err := verifier.NewOffline(b, *vf.ledgerKey, pinned)
		if err != nil {
			return nil, fmt.Errorf("--ledger-key: %w", err)
		}
		if *vf.holderKey != "" {
			k, err := hex.DecodeString(*vf.holderKey)
			if err != nil || len(k) != ed25519.PublicKeySize {
				return nil, errors.New("--holder-key: want 32 bytes of hex, an Ed25519 public key")
			}
			off.HolderKey = k
		}
		if m, err := keys.ReadManifest(*vf.keyDir); err == nil {
			off.Manifest = m
		}
		return pinned.Verify(ctx, off, b, exp, opts), nil
	case vf.r.on():
		c, err := vf.r.client(client.WithVerifier(pinned))
		if err != nil {
			return nil, err
		}
		return c.Verify(ctx, b, exp, client.WithFreshness(*vf.freshness))
	default:
		return pinned.Verify(ctx, nil, b, exp, opts), nil
	}
}

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("verify", stderr)
	asJSON := f.Bool("json", false, "print the verdict as JSON")
	holderID := f.String("holder", "", "the collection's holder: qualifies a short --collection as HOLDER/NAME")
	ef := addExpectFlags(f, false)
	vf := addViewFlags(f)
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
	verdict, err := verifyFile(ctx, vf, f.Arg(0), exp, 0)
	if err != nil {
		return err
	}
	return report(verdict.Proto(), exp, *asJSON, stdout)
}

// report prints a verdict and returns its error: a verdict that does not
// rest on an anchor is never VALID.
func report(resp *zkv1.VerifyResponse, exp verifier.Expect, asJSON bool, stdout io.Writer) error {
	if asJSON {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", EmitUnpopulated: true}.Marshal(resp)
		if err != nil {
			return err
		}
		fprintf(stdout, "%s\n", b)
	} else {
		switch {
		case resp.GetValid():
			fprintf(stdout, "VALID: %s\nchecked: %s\npinned: %s\n", resp.GetStatement(), strings.Join(resp.GetChecks(), ", "), pinned(exp))
			if resp.GetAnchorHeight() > 0 {
				fprintf(stdout, "anchored at height %d, %s\n", resp.GetAnchorHeight(), time.UnixMilli(resp.GetAnchorTimeUnixMs()).UTC().Format(time.RFC3339))
			}
			for _, c := range resp.GetCircuits() {
				by := ""
				if len(c.GetContributors()) > 0 {
					var who []string // each participant contributes once a phase
					for _, w := range c.GetContributors() {
						if !slices.Contains(who, w) {
							who = append(who, w)
						}
					}
					by = ", contributors " + strings.Join(who, ", ")
				}
				fprintf(stdout, "circuit %s version %d (%s keys, verifying key %.16x…%s)\n", c.GetName(), c.GetVersion(),
					strings.ToLower(strings.TrimPrefix(c.GetSetup().String(), "SETUP_KIND_")), c.GetVkSha256(), by)
			}
		case resp.GetReason() == errUnanchored.Error():
			fprintf(stdout, "NOT ANCHORED: the proof is well formed for \"%s\", but nothing ties it to a collection anchored on a ledger: it shows nothing about any holder's records\n", resp.GetStatement())
		default:
			fprintf(stdout, "INVALID: %s check failed: %s\n", resp.GetFailedCheck(), resp.GetReason())
		}
		for _, w := range resp.GetWarnings() {
			fprintf(stdout, "warning: %s\n", w)
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

// pinnedThreshold is a --threshold in the verifier's typed terms.
func pinnedThreshold(th *zkv1.AggregateThreshold) (*verifier.Threshold, error) {
	t, err := records.ParseThreshold(th.GetAggregate(), th.GetRelation(), th.GetValue())
	if err != nil {
		return nil, fmt.Errorf("--threshold: %w", err)
	}
	return t, nil
}
