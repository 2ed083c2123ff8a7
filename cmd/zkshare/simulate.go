package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/device/sensor"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/records"
)

// coldLots are the lots simulated sensors measure, one lot per device.
var coldLots = []string{"L-2026-Q1", "L-2026-Q2", "L-2026-Q3", "L-2026-Q4", "L-2027-Q1"}

// cmdDeviceSimulate registers a fleet of cold-chain sensors, drives them
// at a steady rate through DeviceService, and tries each kind of forged or
// reused reading once, which the node must refuse: a load test and a
// demonstration that the refusals hold under load.
func cmdDeviceSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("device simulate", stderr)
	r := remoteFlags(f)
	coll := f.String("collection", "", "a device-fed collection with the cold-chain schema (testdata/coldchain/schema.json)")
	n := f.Int("devices", 4, "sensors to register and drive")
	rate := f.Int("rate", 10, "readings per second, all sensors together")
	duration := f.Duration("duration", 10*time.Second, "how long to run (unless --readings)")
	total := f.Int("readings", 0, "stop after this many good readings instead")
	badLot := f.String("bad-lot", "L-2026-Q3", "the lot whose sensors sometimes read above 8.0 °C (none: every lot keeps the limit)")
	prefix := f.String("prefix", "sim", "device ids are PREFIX-01, PREFIX-02, ... (ids are never reused: change it for a new fleet)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || *coll == "" || *n < 1 || *n > 99 || *rate < 1 || (*total == 0 && *duration <= 0) || *total < 0 {
		return errors.New("device simulate: want --server, --token (the holder's), --collection, --devices 1..99, --rate >= 1 and --duration or --readings")
	}
	s, err := newSimulation(ctx, r, *coll, *prefix, *n, *rate, *badLot)
	if err != nil {
		return err
	}
	fprintf(stderr, "registered %d sensors (%s-01..%s-%02d) for %s; driving them at %d readings/s\n", *n, *prefix, *prefix, *n, *coll, *rate)
	start := time.Now()
	if err := s.run(ctx, *rate, *duration, *total, progressLines(stderr)); err != nil {
		return err
	}
	return s.summary(stdout, time.Since(start))
}

// simulation drives a fleet of sensors against a node.
type simulation struct {
	devices *client.Client // anonymous: readings need no token
	fleet   []*sensor.Sensor
	sc      *records.Schema
	rng     *rand.Rand
	badLot  string
	next    int            // the fleet's next sensor, round robin
	replay  *zkv1.Reading  // an attested reading, to misuse
	sent    int            // readings sent, good or not
	ok      int            // readings attested
	refused map[string]int // by kind of misuse
	results []misuseResult // in the order tried
}

func newSimulation(ctx context.Context, r remote, coll, prefix string, n, rate int, badLot string) (*simulation, error) {
	holderClient, err := r.client()
	if err != nil {
		return nil, err
	}
	info, err := holderClient.GetCollection(ctx, coll)
	if err != nil {
		return nil, err
	}
	sc, err := records.ParseSchema(info.GetSchema())
	if err != nil {
		return nil, err
	}
	// The simulated measurements need no secrecy; each sensor's salts come from crypto/rand.
	s := &simulation{sc: sc, badLot: badLot, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)), refused: map[string]int{}} //nolint:gosec // G404: see above
	if _, err := s.values(0); err != nil {
		return nil, err
	}
	if s.devices, err = client.New(*r.server); err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%02d", prefix, i+1)
	}
	// Each sensor reports every n/rate seconds; it says so at registration.
	if s.fleet, err = registerSensors(ctx, holderClient, coll, sc, ids, "simulated cold-chain logger", time.Duration(n)*time.Second/time.Duration(rate)); err != nil {
		return nil, err
	}
	return s, nil
}

// values are a plausible cold-chain reading of sensor i's lot in the
// collection's field order; a sensor of the bad lot reads above 8.0 °C
// one time in five.
func (s *simulation) values(i int) ([]string, error) {
	lot := coldLots[i%len(coldLots)]
	temp := -25 + s.rng.Float64()*32.9 // up to 7.9
	if lot == s.badLot && s.rng.IntN(5) == 0 {
		temp = 8.1 + s.rng.Float64()*4
	}
	origins := []string{"NL", "DE", "FR", "ES", "IT", "PL", "BR", "CN"}
	suppliers := []string{"Glacier SA", "Frostline BV", "Polar Foods", "Norte Frío SL"}
	m := map[string]string{
		"lot":       lot,
		"supplier":  suppliers[i%len(suppliers)],
		"origin":    origins[s.rng.IntN(len(origins))],
		"max_temp":  strconv.FormatFloat(temp, 'f', 1, 64),
		"hours":     strconv.Itoa(24 + s.rng.IntN(180)),
		"co2_kg":    strconv.FormatFloat(100+s.rng.Float64()*2400, 'f', 2, 64),
		"certified": strconv.FormatBool(s.rng.IntN(4) != 0),
	}
	out := make([]string, len(s.sc.Fields))
	for j, fl := range s.sc.Fields {
		v, ok := m[fl.Name]
		if !ok {
			return nil, fmt.Errorf("device simulate: the collection has a field %q: simulate drives the cold-chain schema (testdata/coldchain/schema.json)", fl.Name)
		}
		out[j] = v
	}
	return out, nil
}

// run sends rate readings a second, each second's in one call, until the
// duration or the count of good readings is reached, and tries the misuses
// once after the first second. tick reports each second.
func (s *simulation) run(ctx context.Context, rate int, duration time.Duration, total int, tick func(string)) error {
	start := time.Now()
	for sec := 1; ; sec++ {
		want := rate
		if total > 0 {
			want = min(rate, total-s.ok)
		}
		if err := s.batch(ctx, want); err != nil {
			return err
		}
		if sec == 1 {
			if err := s.misuse(ctx); err != nil {
				return err
			}
		}
		el := time.Since(start)
		tick(fmt.Sprintf("%4ds  sent %d  accepted %d  refused %s  %.1f readings/s", sec, s.sent, s.ok, s.refusedLine(), float64(s.ok)/el.Seconds()))
		if (total > 0 && s.ok >= total) || (total == 0 && el >= duration) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(start.Add(time.Duration(sec) * time.Second))):
		}
	}
}

// batch sends the fleet's next n good readings in one call; a refusal of
// one of them is the simulation's failure.
func (s *simulation) batch(ctx context.Context, n int) error {
	rs := make([]*zkv1.Reading, 0, n)
	for range n {
		i := s.next % len(s.fleet)
		s.next++
		vals, err := s.values(i)
		if err != nil {
			return err
		}
		r, err := s.fleet[i].Read(vals, time.Now())
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	s.sent += len(rs)
	resp, err := s.devices.SubmitReadings(ctx, slices.Values(rs))
	if err != nil {
		return fmt.Errorf("device simulate: a good reading was refused: %w", err)
	}
	s.ok += int(resp.GetAccepted())
	if s.replay == nil && len(rs) > 0 {
		s.replay = rs[0]
	}
	return nil
}

// misuse is a misbehaving submission the node must refuse, with the code
// it must refuse it with.
type misuse struct {
	kind, what string
	want       connect.Code
	make       func(*simulation) (*zkv1.Reading, error)
}

type misuseResult struct {
	misuse
	got      connect.Code
	message  string
	accepted bool
}

// misuses are what simulate tries once each: a replay, an opening changed
// after signing, a device nobody registered, and a commitment swapped
// after signing.
var misuses = []misuse{
	// Without its opening, as any relayer could: the same reading with its
	// opening is a retry, which the node takes as a no-op.
	{"replay", "an attested reading's attestation sent again", connect.CodeFailedPrecondition, func(s *simulation) (*zkv1.Reading, error) {
		return &zkv1.Reading{Attestation: s.replay.GetAttestation()}, nil
	}},
	{"altered", "an attested reading's values changed after signing", connect.CodeInvalidArgument, func(s *simulation) (*zkv1.Reading, error) {
		return alteredOpening(s.replay, slices.IndexFunc(s.sc.Fields, func(f records.Field) bool { return f.Name == "max_temp" }), "4.0"), nil
	}},
	{"unknown-key", "a reading of a device nobody registered", connect.CodeUnauthenticated, func(s *simulation) (*zkv1.Reading, error) {
		rogue, err := sensor.New(s.fleet[0].ID+"-rogue", s.sc)
		if err != nil {
			return nil, err
		}
		vals, err := s.values(0)
		if err != nil {
			return nil, err
		}
		return rogue.Read(vals, time.Now())
	}},
	{"bad-signature", "a commitment swapped after signing", connect.CodeUnauthenticated, func(s *simulation) (*zkv1.Reading, error) {
		signed, err := s.values(0)
		if err != nil {
			return nil, err
		}
		swapped := slices.Clone(signed)
		swapped[slices.IndexFunc(s.sc.Fields, func(f records.Field) bool { return f.Name == "max_temp" })] = "2.0"
		return tamperedCommitment(s.fleet[0], signed, swapped, time.Now())
	}},
}

// misuse tries each misuse in a call of its own (a refusal ends a call).
func (s *simulation) misuse(ctx context.Context) error {
	for _, m := range misuses {
		r, err := m.make(s)
		if err != nil {
			return err
		}
		s.sent++
		res := misuseResult{misuse: m}
		resp, err := s.devices.SubmitReadings(ctx, slices.Values([]*zkv1.Reading{r}))
		switch {
		case err == nil:
			res.accepted = true
			s.ok += int(resp.GetAccepted())
		case connect.CodeOf(err) == connect.CodeUnavailable || ctx.Err() != nil:
			return err
		default:
			res.got, res.message = refusal(err)
			s.refused[m.kind]++
		}
		s.results = append(s.results, res)
	}
	return nil
}

func (s *simulation) refusedLine() string {
	total := 0
	var parts []string
	for _, m := range misuses {
		if c := s.refused[m.kind]; c > 0 {
			total += c
			parts = append(parts, fmt.Sprintf("%s %d", m.kind, c))
		}
	}
	if total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// summary prints the run and each misuse's outcome; a misuse the node
// accepted, or refused with another code than expected, fails the command.
func (s *simulation) summary(w io.Writer, took time.Duration) error {
	good := s.sent - len(s.results)
	fprintf(w, "%d sensors: %d good readings sent, %d attested in %s (%.1f readings/s)\n", len(s.fleet), good, s.ok-s.acceptedMisuses(), took.Round(time.Millisecond), float64(s.ok)/took.Seconds())
	fprintln(w, "misbehaving submissions:")
	tw := newTable(w)
	var bad []string
	for _, r := range s.results {
		switch {
		case r.accepted:
			fprintf(tw, "  %s\t%s\tACCEPTED (want %s)\n", r.kind, r.what, r.want)
			bad = append(bad, r.kind)
		case r.got != r.want:
			fprintf(tw, "  %s\t%s\trefused: %s (want %s): %s\n", r.kind, r.what, r.got, r.want, r.message)
			bad = append(bad, r.kind)
		default:
			fprintf(tw, "  %s\t%s\trefused: %s: %s\n", r.kind, r.what, r.got, r.message)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("device simulate: the node did not refuse as it must: %s", strings.Join(bad, ", "))
	}
	return nil
}

func (s *simulation) acceptedMisuses() int {
	n := 0
	for _, r := range s.results {
		if r.accepted {
			n++
		}
	}
	return n
}

// progressLines prints a line at a time when stderr is a terminal, and
// nothing otherwise (a log gets the summary only).
func progressLines(w io.Writer) func(string) {
	if !isTerminal(w) {
		return func(string) {}
	}
	return func(line string) { fprintln(w, line) }
}
