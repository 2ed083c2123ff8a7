package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/ceremony"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
)

// ceremonyCircuits is the circuit registry of the ceremony commands: the
// keys package's; tests swap in small circuits.
var ceremonyCircuits = keys.Circuits

func openCeremony(dir string) (*ceremony.Ceremony, error) {
	if dir == "" {
		return nil, errors.New("--dir is required: the ceremony directory")
	}
	return ceremony.Open(dir, ceremony.WithCircuits(ceremonyCircuits))
}

// ceremonyProgress prints a ceremony's steps on w: on a terminal, a line a
// step whose elapsed time ticks once the step has run for a second;
// elsewhere, a line as each step ends.
func ceremonyProgress(w io.Writer) ceremony.Progress {
	term := isTerminal(w)
	var (
		stop chan struct{}
		wg   sync.WaitGroup
	)
	return func(e ceremony.Event) {
		status := e.Elapsed.Round(time.Millisecond).String()
		if e.Err != nil {
			status = "failed after " + status
		}
		switch {
		case !term && e.Done:
			fprintf(w, "  %s: %s\n", e.Step, status)
		case !term:
		case !e.Done:
			fprintf(w, "  %s ...", e.Step)
			stop = make(chan struct{})
			start := time.Now()
			wg.Go(func() {
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						fprintf(w, "\r  %s ... %s", e.Step, time.Since(start).Round(time.Second))
					}
				}
			})
		default:
			if stop != nil {
				close(stop)
				wg.Wait()
				stop = nil
			}
			fprintf(w, "\r  %s ... %s   \n", e.Step, status)
		}
	}
}

func cmdCeremonyInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("ceremony init", stderr)
	dir := f.String("dir", "", "ceremony directory to create")
	circuitList := f.String("circuits", strings.Join(keys.Core, ","), "circuits to set up, comma-separated, or all (with the aggregates: phase 1 then has 2^20 powers)")
	participants := f.String("participants", "", "the contributors in order, comma-separated: ID:HEXPUBKEY, or an identity file (its id and public key)")
	height := f.Uint64("beacon-height", 0, "the ledger block whose hash seals the ceremony (0: none; finalize then takes --beacon)")
	origin := f.String("origin", "", "the ledger's origin, recorded in the plan")
	r := remoteFlags(f)
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if *dir == "" || *participants == "" {
		return errors.New("ceremony init: --dir and --participants are required")
	}
	// With --server the plan names that ledger (its genesis hash), and
	// with an admin's token it is opened there: the ledger then takes the
	// planned participants' contributions, in order, and nobody else's.
	var cl *client.Client
	genesis := ""
	if r.on() {
		if *height == 0 {
			return errors.New("ceremony init: --server needs --beacon-height: the ledger block whose hash will seal the ceremony")
		}
		var err error
		if cl, err = r.client(); err != nil {
			return err
		}
		cp, err := cl.Checkpoint(ctx)
		if err != nil {
			return err
		}
		if cp.GetHeight() >= *height {
			return fmt.Errorf("ceremony init: --beacon-height %d: the ledger is at %d already; pick a height the contributions will take to reach", *height, cp.GetHeight())
		}
		genesis = hex.EncodeToString(cp.GetGenesisHash())
		if *origin == "" {
			*origin = cp.GetOrigin()
		}
	}
	names, err := ceremonyCircuitNames(*circuitList)
	if err != nil {
		return err
	}
	plan := ceremony.Plan{BeaconHeight: *height, Origin: *origin, GenesisHash: genesis}
	for _, n := range names {
		plan.Circuits = append(plan.Circuits, ceremony.Circuit{Name: n})
	}
	if plan.Participants, err = parseParticipants(*participants); err != nil {
		return err
	}
	fprintf(stderr, "compiling %s ...\n", strings.Join(names, ", "))
	c, err := ceremony.Init(ctx, *dir, plan, ceremony.WithCircuits(ceremonyCircuits))
	if err != nil {
		return err
	}
	plan = c.Plan()
	fprintf(stdout, "ceremony %x\n", c.ID())
	for _, pc := range plan.Circuits {
		fprintf(stdout, "  circuit %-20s %7d constraints, domain %d\n", pc.Name, pc.Constraints, pc.Domain)
	}
	fprintf(stdout, "phase 1: N=%d powers\n", plan.N)
	if plan.BeaconHeight == 0 {
		fprintf(stdout, "beacon: none fixed; finalize takes one by hand (--beacon HEX). The ledger records only ceremonies with a beacon height.\n")
	} else {
		fprintf(stdout, "beacon: the hash of ledger block %d; every contribution must be recorded before that block\n", plan.BeaconHeight)
	}
	fprintf(stdout, "contributions, in order:\n")
	for k := 1; k <= plan.Contributions(); k++ {
		st := plan.Step(k)
		fprintf(stdout, "  %03d  phase %d  %s\n", k, st.Phase, st.Participant)
	}
	fprintf(stdout, "then: zkshare ceremony finalize --dir %s --keys OUT\n", *dir)
	if cl != nil {
		if err := openOnLedger(ctx, cl, r, *dir, stdout); err != nil {
			return err
		}
	}
	first := plan.Step(1).Participant
	fprintf(stdout, "pass %s to %s first: zkshare ceremony contribute --dir %s --identity %s.json\n", *dir, first, *dir, first)
	return nil
}

// openOnLedger proposes the OpenCeremony of dir's plan as the admin whose
// token r carries (it applies at once unless governance takes M of N).
func openOnLedger(ctx context.Context, cl *client.Client, r remote, dir string, stdout io.Writer) error {
	if tok, err := r.bearer(); err != nil || tok == "" {
		fprintf(stdout, "not opened on the ledger (no admin --token-file): an admin opens it with the same command and a token, before the first contribution\n")
		return err
	}
	plan, err := os.ReadFile(filepath.Join(dir, "ceremony.json"))
	if err != nil {
		return err
	}
	resp, err := cl.Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActOpenCeremony(plan)})
	if err != nil {
		return fmt.Errorf("opening the ceremony on the ledger: %w", err)
	}
	if st := resp.GetStatus(); !st.GetApplied() {
		fprintf(stdout, "opening proposed (%d of %d approvals): other governors approve it with `zkshare governance approve %x`\n", len(st.GetApprovals()), st.GetNeeded(), st.GetProposalId())
		return nil
	}
	fprintf(stdout, "opened on the ledger: it takes the planned contributions, in order, until its beacon block\n")
	return nil
}

// ceremonyCircuitNames parses --circuits.
func ceremonyCircuitNames(s string) ([]string, error) {
	var all []string
	for n := range ceremonyCircuits {
		all = append(all, n)
	}
	slices.Sort(all)
	if s == "all" {
		return all, nil
	}
	var out []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if _, ok := ceremonyCircuits[n]; !ok {
			return nil, fmt.Errorf("--circuits: unknown circuit %q (want some of %s, or all)", n, strings.Join(all, ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

// parseParticipants parses --participants: ID:HEXPUBKEY or an identity
// file, of which only the id and public key are used.
func parseParticipants(s string) ([]ceremony.Participant, error) {
	var out []ceremony.Participant
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			q, err := participantFile(p)
			if err != nil {
				return nil, err
			}
			out = append(out, q)
			continue
		}
		i := strings.LastIndex(p, ":")
		if i <= 0 {
			return nil, fmt.Errorf("--participants: %q: want ID:HEXPUBKEY or an identity file", p)
		}
		key, err := hex.DecodeString(p[i+1:])
		if err != nil || len(key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("--participants: %q: the public key must be %d bytes in hex", p, ed25519.PublicKeySize)
		}
		out = append(out, ceremony.Participant{ID: p[:i], PublicKey: hex.EncodeToString(key)})
	}
	return out, nil
}

// participantFile reads a participant's id and public key from an identity
// file: one with its seed (ledger.Identity.Save), or only the public half.
func participantFile(path string) (ceremony.Participant, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ceremony.Participant{}, err
	}
	var f struct {
		ID        string `json:"id"`
		PublicKey []byte `json:"public_key"`
		Seed      []byte `json:"seed"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return ceremony.Participant{}, fmt.Errorf("--participants: %s: %w", path, err)
	}
	if len(f.Seed) != 0 {
		id, err := ledger.LoadIdentity(path)
		if err != nil {
			return ceremony.Participant{}, err
		}
		return ceremony.Participant{ID: id.ID, PublicKey: hex.EncodeToString(id.Public())}, nil
	}
	if f.ID == "" || len(f.PublicKey) != ed25519.PublicKeySize {
		return ceremony.Participant{}, fmt.Errorf("--participants: %s: no id and public key", path)
	}
	return ceremony.Participant{ID: f.ID, PublicKey: hex.EncodeToString(f.PublicKey)}, nil
}

func cmdCeremonyContribute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("ceremony contribute", stderr)
	dir := f.String("dir", "", "ceremony directory")
	identity := f.String("identity", "", "your ledger identity file (its id must be the next contributor's)")
	r := remoteFlags(f)
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	c, err := openCeremony(*dir)
	if err != nil {
		return err
	}
	var cl *client.Client
	if r.on() {
		if cl, err = ceremonyClient(r, c); err != nil {
			return err
		}
		// Relay what an earlier contributor did not: the ledger takes
		// receipts in order only.
		if _, err := compareLedger(ctx, cl, c, stdout, true); err != nil {
			return err
		}
	}
	st, done, err := c.Next()
	if err != nil {
		return err
	}
	if done {
		if cl != nil {
			fprintf(stdout, "every contribution is made and recorded: run `zkshare ceremony finalize --dir %s`\n", *dir)
			return nil
		}
		return fmt.Errorf("every contribution is made: run `zkshare ceremony finalize --dir %s`", *dir)
	}
	if *identity == "" {
		return fmt.Errorf("--identity is required: %s is next", st)
	}
	id, err := ledger.LoadIdentity(*identity)
	if err != nil {
		return err
	}
	fprintf(stderr, "%s, as %s:\n", st, id.ID)
	rc, err := c.Contribute(ctx, id, ceremonyProgress(stderr))
	if err != nil {
		return err
	}
	fprintf(stdout, "%s: made, receipt %x\n", st, ledger.ReceiptHash(rc))
	if cl != nil {
		resp, err := cl.RecordContribution(ctx, rc)
		if err != nil {
			return fmt.Errorf("%s is made in %s, but the ledger did not record it (the next `zkshare ceremony contribute --server` relays it): %w", st, *dir, err)
		}
		fprintf(stdout, "recorded on the ledger at height %d, transaction %x\n", resp.GetHeight(), resp.GetTxHash())
	}
	next, done, err := c.Next()
	switch {
	case err != nil:
		return err
	case done:
		fprintf(stdout, "every contribution is made: run `zkshare ceremony finalize --dir %s --keys OUT`\n", *dir)
	default:
		fprintf(stdout, "next: pass %s to %s (%s)\n", *dir, next.Participant, next)
	}
	return nil
}

func ceremonyClient(r remote, c *ceremony.Ceremony) (*client.Client, error) {
	if c.Plan().BeaconHeight == 0 {
		return nil, errors.New("--server: the plan fixes no beacon height, and the ledger records only ceremonies with one (their contributions end before that block)")
	}
	return r.client()
}

// compareLedger checks the ledger's record of the ceremony against the
// receipts in its directory: each recorded contribution must be the
// local one. With relay, it records the local receipts the ledger lacks.
// It returns the ledger's record (nil for none).
func compareLedger(ctx context.Context, cl *client.Client, c *ceremony.Ceremony, stdout io.Writer, relay bool) (*zkv1.GetCeremonyResponse, error) {
	local, err := c.Receipts(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := cl.Ceremony(ctx, c.ID())
	if connect.CodeOf(err) == connect.CodeNotFound {
		rec, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec != nil && rec.GetBeaconHeight() != c.Plan().BeaconHeight {
		return nil, fmt.Errorf("the ledger records beacon height %d for this ceremony, the plan's is %d", rec.GetBeaconHeight(), c.Plan().BeaconHeight)
	}
	recorded := rec.GetContributions()
	for i, lc := range recorded {
		if i >= len(local) {
			return nil, fmt.Errorf("the ledger records contribution %d (by %s), which %s does not have", lc.GetIndex(), lc.GetContributor(), c.Dir())
		}
		l := local[i]
		if lc.GetIndex() != l.GetIndex() || lc.GetContributor() != l.GetContributor() ||
			!bytes.Equal(lc.GetReceiptHash(), ledger.ReceiptHash(l)) || !bytes.Equal(lc.GetStateHash(), l.GetStateHash()) {
			return nil, fmt.Errorf("contribution %d: the ledger records receipt %x by %s, %s holds %x by %s", l.GetIndex(),
				lc.GetReceiptHash(), lc.GetContributor(), c.Dir(), ledger.ReceiptHash(l), l.GetContributor())
		}
	}
	if !relay {
		return rec, nil
	}
	for _, l := range local[len(recorded):] {
		resp, err := cl.RecordContribution(ctx, l)
		if err != nil {
			return nil, fmt.Errorf("relay contribution %d: %w", l.GetIndex(), err)
		}
		fprintf(stdout, "relayed contribution %d (%s) to the ledger: height %d\n", l.GetIndex(), l.GetContributor(), resp.GetHeight())
	}
	if len(local) > len(recorded) {
		return cl.Ceremony(ctx, c.ID())
	}
	return rec, nil
}

func cmdCeremonyVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("ceremony verify", stderr)
	dir := f.String("dir", "", "ceremony directory")
	r := remoteFlags(f)
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	c, err := openCeremony(*dir)
	if err != nil {
		return err
	}
	t, err := c.Verify(ctx, ceremonyProgress(stderr))
	if err != nil {
		return fmt.Errorf("ceremony %.8x does not verify: %w", c.ID(), err)
	}
	if _, err := t.WriteTo(stdout); err != nil {
		return err
	}
	if !t.Complete() {
		next, _, err := c.Next()
		if err != nil {
			return err
		}
		fprintf(stdout, "next: %s\n", next)
	}
	if r.on() {
		cl, err := ceremonyClient(r, c)
		if err != nil {
			return err
		}
		rec, err := compareLedger(ctx, cl, c, stdout, false)
		if err != nil {
			return err
		}
		fprintf(stdout, "the ledger records %d of these %d contributions, as they are here\n", len(rec.GetContributions()), len(t.Contributions))
		if t.Final != nil {
			switch b := rec.GetBeacon(); {
			case len(b) == 0:
				return fmt.Errorf("final.json's beacon cannot be the ledger's: block %d does not exist yet", c.Plan().BeaconHeight)
			case hex.EncodeToString(b) != t.Final.Beacon:
				return fmt.Errorf("final.json's beacon %.16s… is not the hash of ledger block %d, %x", t.Final.Beacon, c.Plan().BeaconHeight, b)
			}
			fprintf(stdout, "the beacon is the hash of ledger block %d\n", c.Plan().BeaconHeight)
		}
	}
	fprintf(stderr, "ceremony %.8x: verified\n", c.ID())
	return nil
}

func cmdCeremonyFinalize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("ceremony finalize", stderr)
	dir := f.String("dir", "", "ceremony directory")
	beaconHex := f.String("beacon", "", "the beacon in hex, for a plan that fixes no beacon height: a public value no contributor could know")
	height := f.Uint64("beacon-height", 0, "with --server: the plan's beacon height, whose block hash the ledger gives")
	out := f.String("keys", "", "key directory to write the keys into")
	identity := f.String("identity", "", "with --server: a participant's ledger identity file, to attest the keys on the ledger (they register once every participant has)")
	r := remoteFlags(f)
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if *identity != "" && !r.on() {
		return errors.New("ceremony finalize: --identity attests the keys on a ledger: give --server too")
	}
	if *out == "" {
		return errors.New("ceremony finalize: --keys is required: the directory to write the keys into")
	}
	c, err := openCeremony(*dir)
	if err != nil {
		return err
	}
	plan := c.Plan()
	var beacon []byte
	switch {
	case *beaconHex != "" && r.on():
		return errors.New("ceremony finalize: --beacon or --server, not both")
	case *beaconHex != "":
		if plan.BeaconHeight != 0 {
			return fmt.Errorf("ceremony finalize: the plan fixes beacon height %d, so the beacon is that ledger block's hash: finalize with --server URL --beacon-height %d, not --beacon", plan.BeaconHeight, plan.BeaconHeight)
		}
		if *height != 0 {
			return errors.New("ceremony finalize: --beacon-height goes with --server; the plan fixes no beacon height")
		}
		if beacon, err = hex.DecodeString(*beaconHex); err != nil {
			return fmt.Errorf("--beacon: %w", err)
		}
	case r.on():
		if plan.BeaconHeight == 0 {
			return errors.New("ceremony finalize: the plan fixes no beacon height: give the beacon with --beacon HEX")
		}
		if *height != 0 && *height != plan.BeaconHeight {
			return fmt.Errorf("ceremony finalize: --beacon-height %d, the plan fixes %d", *height, plan.BeaconHeight)
		}
		*height = plan.BeaconHeight
		cl, err := ceremonyClient(r, c)
		if err != nil {
			return err
		}
		rec, err := compareLedger(ctx, cl, c, stdout, false)
		if err != nil {
			return err
		}
		if len(rec.GetContributions()) != plan.Contributions() {
			return fmt.Errorf("ceremony finalize: the ledger records %d of %d contributions: relay the rest with `zkshare ceremony contribute --dir %s --server URL`", len(rec.GetContributions()), plan.Contributions(), *dir)
		}
		if beacon = rec.GetBeacon(); len(beacon) == 0 {
			return fmt.Errorf("ceremony finalize: ledger block %d does not exist yet, so neither does the beacon: finalize once the ledger has passed it", plan.BeaconHeight)
		}
		fprintf(stderr, "beacon: the hash of ledger block %d, %x\n", plan.BeaconHeight, beacon)
	default:
		return errors.New("ceremony finalize: give --beacon HEX (a plan with no beacon height) or --server URL (the plan's beacon block)")
	}
	fprintf(stderr, "verifying every contribution, then sealing:\n")
	fin, err := c.Finalize(ctx, beacon, *height, *out, ceremonyProgress(stderr))
	if err != nil {
		return err
	}
	for _, fc := range fin.Circuits {
		fprintf(stdout, "%-20s vk_sha256=%s circuit_id=%.16s\n", fc.Name, fc.VKSHA256, fc.CircuitID)
	}
	fprintf(stdout, "keys in %s (setup=%s, transcript %.16s); final.json in %s\n", *out, keys.SetupCeremony, fin.TranscriptHash, *dir)
	if *identity == "" {
		if r.on() {
			fprintf(stdout, "not attested: each participant runs finalize with --identity, and the keys register once all have\n")
		}
		return nil
	}
	id, err := ledger.LoadIdentity(*identity)
	if err != nil {
		return err
	}
	a, err := fin.Attestation(id)
	if err != nil {
		return err
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	if _, err := cl.AttestCeremonyKeys(ctx, a); err != nil {
		return fmt.Errorf("attesting the keys as %s: %w", id.ID, err)
	}
	if rec, err := cl.Ceremony(ctx, c.ID()); err == nil {
		fprintf(stdout, "attested as %s: %d of %d participants have attested these keys\n", id.ID, len(rec.GetAttesters()), len(rec.GetParticipants()))
	}
	return nil
}
