package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
)

// soakLimit is the node's memory limit in the soak test (GOMEMLIMIT),
// and peakLimit the peak resident size it must stay under: the limit plus
// room for what the Go runtime does not count (stacks, badger's mmaps).
const (
	soakLimit = 1 << 30
	peakLimit = 2 << 30
)

// TestSoak runs a node as a process under several clients that commit,
// update, delete, prove and verify at once, kills it with -9 in the
// middle, starts it again and goes on; then it checks every acknowledged
// write (the records' values, through receipts) and that a change whose
// answer was lost is all or nothing. It reports operations, errors by
// kind, proof latencies and the node's peak memory, which must stay under
// peakLimit with GOMEMLIMIT set and a bounded prove queue.
//
// ZKSHARE_SOAK sets how long the load runs (default 30s, half before the
// kill, half after).
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Groth16 keys")
	}
	if os.Getenv(testkeys.Env) == "" {
		t.Skip("set ZKSHARE_TEST_KEYS (make test does)")
	}
	// The core circuits only: a node loads them in seconds.
	keys, cleanup, err := testkeys.Dir(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	dur := 30 * time.Second
	if s := os.Getenv("ZKSHARE_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	zk, err := exec.LookPath("zkshare")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	data := filepath.Join(t.TempDir(), "d")
	if out, err := exec.CommandContext(ctx, zk, "ledger", "init", "--dev", "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("ledger init: %v: %s", err, out)
	}
	s := &soak{t: t, zk: zk, data: data, keys: keys, acked: map[string]string{}, errs: map[string]int{}, ops: map[string]int{}}
	s.port = freePort(t)
	// A test that stops early must not leave its node running.
	t.Cleanup(func() {
		s.mu.Lock()
		cmd := s.cmd
		s.mu.Unlock()
		if cmd != nil {
			_ = cmd.Process.Kill() // an error: it has exited already
		}
	})
	s.log = filepath.Join(t.TempDir(), "serve.log")
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	admin, hc := s.client("admin"), s.client("holder")
	bankID, err := ledger.NewIdentity("bank")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := admin.RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: "bank", Role: zkv1.Role_ROLE_CONSUMER, PublicKey: bankID.Public()})
	if err != nil {
		t.Fatal(err)
	}
	s.bank = reg.GetToken()
	schema := `{"name":"people","key":"id","fields":[{"name":"income","type":"uint","width":32}]}`
	if _, err := hc.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema)}); err != nil {
		t.Fatal(err)
	}
	all := []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT, zkv1.StatementKind_STATEMENT_KIND_EXISTS}
	if err := hc.SetPolicy(ctx, "people", &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{Consumer: "*", Kinds: all}}}); err != nil {
		t.Fatal(err)
	}
	s.commit(ctx, hc, 0, 500) // something to prove from the start

	// The clients run throughout; the node is killed half way and started
	// again while they go on.
	restarted := make(chan error, 1)
	go func() {
		time.Sleep(dur / 2)
		s.kill()
		restarted <- s.start()
	}()
	s.load(ctx, dur)
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	s.check(ctx)
	peak := s.peakRSS()
	s.stop()
	s.checkStore(ctx)
	t.Logf("soak %s (2 cores): operations %v; errors %v; proofs p50 %s p99 %s (%d); peak RSS %d MiB before the kill, %d MiB after (limit %d MiB, GOMEMLIMIT %d MiB)",
		dur, s.ops, s.errs, s.pct(50), s.pct(99), len(s.lat), s.peak/(1<<20), peak/(1<<20), peakLimit>>20, soakLimit>>20)
	if max(s.peak, peak) > peakLimit {
		t.Errorf("peak RSS %d MiB over %d MiB", max(s.peak, peak)>>20, peakLimit>>20)
	}
}

type soak struct {
	t               *testing.T
	zk, data, keys  string
	port            int
	log             string
	cmd             *exec.Cmd
	done            chan error
	bank, holderTok string
	mu              sync.Mutex
	acked           map[string]string // key -> income, of acknowledged writes ("" deleted)
	doubt           []map[string]string
	next            int // next new key
	ops, errs       map[string]int
	lat             []time.Duration
	peak            int64 // peak RSS of the first node process
}

// start runs the node and waits until it is ready.
func (s *soak) start() error {
	cmd := exec.Command(s.zk, "serve", "--data", s.data, "--keys", s.keys, "--addr", fmt.Sprintf("127.0.0.1:%d", s.port),
		"--prove-concurrency", "2", "--prove-queue", "4")
	cmd.Env = append(os.Environ(), fmt.Sprintf("GOMEMLIMIT=%d", soakLimit), "ZKSHARE_LOG_LEVEL=warn")
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logf.Close() }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	if s.holderTok == "" {
		b, err := os.ReadFile(filepath.Join(s.data, "identities", "holder.token"))
		if err != nil {
			return err
		}
		s.holderTok = strings.TrimSpace(string(b))
	}
	c, err := client.New(fmt.Sprintf("http://127.0.0.1:%d", s.port))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if _, err := c.Checkpoint(context.Background()); err == nil {
			return nil
		}
		select {
		case err := <-done:
			out, _ := os.ReadFile(s.log)
			return fmt.Errorf("node exited: %w\n%s", err, out)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("node not ready after 4 minutes")
		}
	}
}

func (s *soak) client(who string) *client.Client {
	var opts []client.Option
	switch who {
	case "admin":
		opts = append(opts, client.WithToken(readToken(s.t, filepath.Join(s.data, "identities", "admin.token"))))
	case "holder":
		opts = append(opts, client.WithToken(s.holderTok))
	case "":
	default:
		opts = append(opts, client.WithToken(who), client.WithKeyDir(s.keys))
	}
	c, err := client.New(fmt.Sprintf("http://127.0.0.1:%d", s.port), opts...)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// kill kills the node with -9, keeping its peak memory first.
func (s *soak) kill() {
	s.peak = s.peakRSS()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	_ = cmd.Process.Kill()
	<-done
}

// stop stops the node as an operator would.
func (s *soak) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("node stopped with %v", err)
		}
	case <-time.After(time.Minute):
		s.t.Error("node did not stop in a minute")
		_ = s.cmd.Process.Kill()
	}
}

// peakRSS is the node process's peak resident size (VmHWM).
func (s *soak) peakRSS() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		s.t.Logf("peak RSS: %v", err)
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// note counts an operation's outcome.
func (s *soak) note(op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops[op]++
	if err != nil {
		s.errs[op+": "+connect.CodeOf(err).String()]++
	}
}

// commit commits n new records (keys from first on) and records the outcome.
func (s *soak) commit(ctx context.Context, c *client.Client, first, n int) {
	recs := make([]records.Record, n)
	want := map[string]string{}
	for i := range recs {
		k, v := fmt.Sprintf("k%07d", first+i), strconv.Itoa(1000+(first+i)%40000)
		recs[i], want[k] = records.Record{Key: k, Values: []string{v}}, v
	}
	_, err := c.Commit(ctx, "people", slices.Values(recs))
	s.settle("commit", want, err)
}

// settle records a write: acknowledged, or in doubt.
func (s *soak) settle(op string, want map[string]string, err error) {
	s.note(op, err)
	if err != nil {
		defer time.Sleep(200 * time.Millisecond) // the node may be restarting: back off
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		maps.Copy(s.acked, want)
		return
	}
	// The answer was lost or refused: whether the change took is checked
	// at the end (whole or not at all).
	s.doubt = append(s.doubt, want)
}

// load runs the clients for d.
func (s *soak) load(ctx context.Context, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	hc := s.client("holder")
	bankTok := s.bank
	// One writer commits, updates and deletes in turn (the node orders
	// writes anyway); three consumers prove and verify.
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			switch i % 4 {
			case 0, 1:
				s.mu.Lock()
				first := s.next
				s.next += 2000
				s.mu.Unlock()
				s.commit(ctx, hc, 1_000_000+first, 2000)
			case 2:
				keys := s.pick(50)
				want := map[string]string{}
				recs := make([]records.Record, len(keys))
				for j, k := range keys {
					v := strconv.Itoa(50000 + i + j)
					recs[j], want[k] = records.Record{Key: k, Values: []string{v}}, v
				}
				_, err := hc.Update(ctx, "people", recs)
				s.settle("update", want, err)
			case 3:
				keys := s.pick(20)
				want := map[string]string{}
				for _, k := range keys {
					want[k] = ""
				}
				_, err := hc.Delete(ctx, "people", keys...)
				s.settle("delete", want, err)
			}
		}
	})
	for w := range 3 {
		wg.Go(func() {
			bank := s.client(bankTok)
			for i := 0; ctx.Err() == nil; i++ {
				s.prove(ctx, bank, w*1_000_000+i)
			}
		})
	}
	wg.Wait()
}

// pick returns up to n live acknowledged keys.
func (s *soak) pick(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, v := range s.acked {
		if v != "" && !s.inDoubt(k) {
			out = append(out, k)
		}
		if len(out) == n {
			break
		}
	}
	return out
}

// inDoubt says whether a write in doubt touched k (mu held).
func (s *soak) inDoubt(k string) bool {
	for _, d := range s.doubt {
		if _, ok := d[k]; ok {
			return true
		}
	}
	return false
}

// prove asks a subject or exists question and verifies the answer.
func (s *soak) prove(ctx context.Context, c *client.Client, i int) {
	var nonce, blind fr.Element
	randScalar(&nonce)
	randScalar(&blind)
	nb, bb := nonce.Bytes(), blind.Bytes()
	req := &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income >= 1000", Nonce: nb[:]}
	exp := verifier.Expect{Kind: req.Kind, Collection: "holder/people", Query: req.Query, Nonce: &nonce}
	if i%2 == 0 {
		if keys := s.pick(1); len(keys) == 1 {
			req = &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: keys[0], Query: "income >= 0", Nonce: nb[:], Blind: bb[:]}
			exp = verifier.Expect{Kind: req.Kind, Collection: "holder/people", Query: req.Query, Nonce: &nonce, Subject: keys[0], Blind: &blind}
		}
	}
	start := time.Now()
	resp, err := c.Prove(ctx, req)
	if ctx.Err() != nil {
		return
	}
	s.note("prove", err)
	if err != nil {
		time.Sleep(200 * time.Millisecond) // the queue is full, or the node restarts: back off
		return
	}
	s.mu.Lock()
	s.lat = append(s.lat, time.Since(start))
	s.mu.Unlock()
	// The node's own window: a commit may replace the root while the
	// proof is on its way.
	v, err := c.Verify(ctx, resp.GetBundle(), exp, client.WithFreshness(time.Hour))
	if ctx.Err() != nil {
		return
	}
	switch {
	case err != nil:
		s.t.Errorf("verify: %v", err)
	case !v.Valid && (strings.Contains(v.Reason, "unavailable") || strings.Contains(v.Reason, "connection")):
		// The ledger view could not be read: the node restarts.
		err = connect.NewError(connect.CodeUnavailable, errors.New(v.Reason))
	case !v.Valid:
		// A ledger read cut by the restart fails a check too: once the
		// node answers again, the same bundle must verify.
		first := fmt.Sprintf("%s: %s", v.Failed, v.Reason)
		for range 600 {
			if _, e := c.Checkpoint(ctx); e == nil || ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if ctx.Err() != nil {
			return
		}
		if v, err = c.Verify(ctx, resp.GetBundle(), exp, client.WithFreshness(time.Hour)); err == nil && !v.Valid {
			err = fmt.Errorf("verdict %s: %s (first %s)", v.Failed, v.Reason, first)
			s.t.Errorf("a proof did not verify: %v", err)
		} else if err == nil {
			err = connect.NewError(connect.CodeUnavailable, errors.New(first))
		}
	}
	s.note("verify", err)
}

// check reads every acknowledged record back, and checks that each write
// in doubt took effect whole or not at all.
func (s *soak) check(ctx context.Context) {
	hc := s.client("holder")
	value := func(k string) (string, bool) {
		r, err := hc.IssueReceipt(ctx, "people", k)
		if connect.CodeOf(err) == connect.CodeNotFound {
			return "", true
		}
		if err != nil {
			s.t.Errorf("receipt of %s: %v", k, err)
			return "", false
		}
		return r.GetValues()[0], true
	}
	checked := s.compare("through receipts", value, 500)
	s.t.Logf("checked %d acknowledged records through receipts, and %d writes in doubt", checked, len(s.doubt))
}

// checkStore opens the stopped node's holder store and reads every
// acknowledged write back: each record with its last acknowledged values,
// each acknowledged delete gone; and each write in doubt whole or absent.
// The store's tree is checked too: every record's path leads to the root.
func (s *soak) checkStore(ctx context.Context) {
	st, err := holder.Open(filepath.Join(s.data, "holder"), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	const name = "holder/people"
	c, err := st.Collection(name)
	if err != nil {
		s.t.Fatal(err)
	}
	root, err := records.ParseElement(c.Root)
	if err != nil {
		s.t.Fatal(err)
	}
	value := func(k string) (string, bool) {
		w, err := st.Record(ctx, name, k)
		if errors.Is(err, holder.ErrNotFound) {
			return "", true
		}
		if err != nil {
			s.t.Errorf("record %s: %v", k, err)
			return "", false
		}
		if got, err := w.Record.Root(c.SchemaOf().ID()); err != nil || !got.Equal(&root) {
			s.t.Errorf("record %s: its path does not lead to the collection's root", k)
		}
		return w.Raw.Values[0], true
	}
	checked := s.compare("in the store", value, 0)
	s.t.Logf("checked every acknowledged write in the store: %d keys", checked)
}

// compare checks acknowledged writes (at most limit; 0: all) against
// value, which reads a key's stored value ("" when it has none, false
// when it could not read it), and each write in doubt whole or absent. It
// returns how many acknowledged keys it checked.
func (s *soak) compare(where string, value func(string) (string, bool), limit int) int {
	checked := 0
	for k, want := range s.acked {
		if s.inDoubt(k) {
			continue
		}
		if got, ok := value(k); ok && got != want {
			s.t.Errorf("acknowledged %s = %q, read %s %q", k, want, where, got)
		}
		if checked++; checked == limit {
			break
		}
	}
	for i, d := range s.doubt {
		took, kept := 0, 0
		for k, v := range d {
			if got, ok := value(k); ok && got == v {
				took++
			} else if ok {
				kept++
			}
		}
		if took != 0 && kept != 0 {
			s.t.Errorf("write in doubt #%d half applied %s: %d records took, %d did not", i, where, took, kept)
		}
	}
	return checked
}

func (s *soak) pct(p int) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lat) == 0 {
		return 0
	}
	l := slices.Clone(s.lat)
	slices.Sort(l)
	return l[min(len(l)-1, len(l)*p/100)]
}

func randScalar(e *fr.Element) {
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	e.SetBigInt(n)
	if e.IsZero() {
		e.SetOne()
	}
}

func readToken(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func freePort(t *testing.T) int {
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
