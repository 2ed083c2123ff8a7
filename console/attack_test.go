package console_test

// Round-17 attacks on the web console. Each TestAttack17Xxx fails while the
// weakness it names is there; TestAttack17AuditFloodHidesNewest (a
// regression test, fixed during the review) runs only with
// ZKSHARE_ATTACK17_SLOW=1: it asks 20,000 questions.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/console"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
)

// bareConsole is a node with no data (no seed: fast) and its console built
// with opts, served on loopback; tokens of its admin and holder.
type bareConsole struct {
	s                *seeded // only URL is set: for newVisitor
	n                *node.Node
	admin, holderTok string
}

func newBareConsole(t *testing.T, opts console.Options) *bareConsole {
	t.Helper()
	data := t.TempDir()
	n, err := node.Open(t.Context(), node.Config{Data: data, Keys: pkgKeys.Dir(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	c, err := console.New(n, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(c.Handler())
	t.Cleanup(ts.Close)
	return &bareConsole{s: &seeded{URL: ts.URL}, n: n, admin: readToken(t, data, node.AdminID), holderTok: readToken(t, data, node.HolderID)}
}

// register registers a participant with the node's admin and returns its token.
func (b *bareConsole) register(t *testing.T, id string, role zkv1.Role) string {
	t.Helper()
	ident, err := ledger.NewIdentity(id)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.n.RegisterParticipant(t.Context(), node.Caller{ID: node.AdminID, Role: zkv1.Role_ROLE_ADMIN}, id, role, ident.Public())
	if err != nil {
		t.Fatal(err)
	}
	return r.Token
}

// TestAttack17VerifyCannotPinSubject: the verify page pins only the nonce.
// A relayer hands a verifier GoodBundle (about C00005) as "the answer
// about C00001"; the Connect API's Verify with subject C00001 and the
// asker's blind says NOT VALID (TestSeed checks it), but the console has
// no way to pin the subject (nor the collection, query or kind): the
// fields are ignored and the page says VALID, "the subject's record ...
// satisfies", lists "expectation: pass" although nothing was pinned, and
// warns of nothing about the key. (The field names subject and blind are
// the API's; a fix may name them otherwise.) A verdict is only as good as
// the least-checked input: here the one input a subject statement hinges
// on is never checked.
func TestAttack17VerifyCannotPinSubject(t *testing.T) {
	s := seed(t)
	v := newVisitor(t, s)
	nonce := hex.EncodeToString(s.GoodNonce)
	blind := hex.EncodeToString(s.GoodBlind)
	code, body := v.verify(s.GoodBundle, nonce, "subject", "C00001", "blind", blind)
	if code == http.StatusOK && strings.Contains(body, "<strong>VALID</strong>") {
		t.Errorf("GoodBundle (about %s) with subject C00001 and its blind pinned: the verify page says VALID\n%s", s.GoodSubject, verdictOf(body))
	}
}

// aggregateLike is a bundle that passes bundle.Parse as an aggregate
// statement (its proofs are junk: it fails at the key registry).
func aggregateLike(t *testing.T) []byte {
	t.Helper()
	r32 := func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		b[0] &= 0x1f
		return b
	}
	b := &zkv1.Bundle{Version: bundle.Version, Kind: bundle.KindAggregate, Circuit: zkv1.Circuit_CIRCUIT_AGGREGATE_TOTAL,
		Collection: "holder/x", CollectionId: r32(), Query: "a == 1", QueryHash: r32(), Root: r32(), Nonce: r32(),
		CircuitId: r32(), VkSha256: r32(), Proof: []byte{1},
		Aggregate: &zkv1.AggregateBody{Field: "a", ChunkCircuitId: r32(), ChunkVkSha256: r32(),
			Chunks: []*zkv1.AggregateChunk{{Partial: r32(), Root: r32(), Proof: []byte{1}}},
			Answer: &zkv1.AggregateBody_Reveal{Reveal: &zkv1.AggregateReveal{Sum: "0"}}}}
	raw, err := bundle.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestAttack17VerifyAggregateUnthrottled: the Connect API takes an
// aggregate bundle (up to 129 Groth16 verifications) under
// VerifyAggregate's bound: cores at once and 30 calls a minute per client.
// The console's public verify form bounds only how many run at once (its
// own slots, not the API's), so one anonymous client replaying a real
// aggregate bundle back to back keeps every core busy, and the API's
// slots come on top. Here one client posts 40 aggregate bundles in a row:
// none is refused.
func TestAttack17VerifyAggregateUnthrottled(t *testing.T) {
	b := newBareConsole(t, console.Options{})
	v := newVisitor(t, b.s)
	raw := aggregateLike(t)
	const posts = 40 // the API refuses the 31st within a minute
	refused := 0
	for range posts {
		code, body := v.verify(raw, "")
		switch code {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			refused++
		case http.StatusOK:
			if !strings.Contains(body, "NOT VALID") {
				t.Fatalf("a junk aggregate bundle: %s", verdictOf(body))
			}
		default:
			t.Fatalf("verify: %d\n%s", code, verdictOf(body))
		}
	}
	if refused == 0 {
		t.Errorf("one client checked %d aggregate bundles in a row on the console; the API allows 30 a minute", posts)
	}
}

// TestAttack17SessionEviction: sessions are one table for everyone, and
// the oldest is dropped for a new one when it is full. Any participant
// (a consumer here) that signs in MaxSessions times signs every other
// participant out: the holder and the admin lose their sessions. With the
// default bound that is 10,000 sign-ins, a few seconds of requests.
func TestAttack17SessionEviction(t *testing.T) {
	const bound = 4 // stands for the default 10,000
	b := newBareConsole(t, console.Options{MaxSessions: bound})
	mallory := b.register(t, "mallory", zkv1.Role_ROLE_CONSUMER)
	holder := newVisitor(t, b.s)
	holder.signIn(b.holderTok)
	if code, _ := holder.get("/console/audit"); code != http.StatusOK {
		t.Fatalf("the holder's audit: %d", code)
	}
	for range bound {
		newVisitor(t, b.s).signIn(mallory)
	}
	if code, _ := holder.get("/console/audit"); code != http.StatusOK {
		t.Errorf("after a consumer signed in %d times, the holder's session is gone: audit %d", bound, code)
	}
}

// TestAttack17AuditFloodHidesNewest: the audit page read entries oldest
// first and stopped at 20,000, then listed the newest 500 of what it read.
// Once a collection had more than 20,000 entries no newer question ever
// showed: a consumer asking 20,000 cheap questions (an absent subject: no
// proof, but an audit entry) hid every later question, its own and
// everyone's, from the holder's console; narrowing by consumer did not
// help (that filter ran after the read), nor a consumer's collection
// filter. This failed on the tree under review (16:05) and passes since
// audit.go reads the newest window with a cursor (16:09): a regression
// test. Slow (about 2 minutes): set ZKSHARE_ATTACK17_SLOW=1.
func TestAttack17AuditFloodHidesNewest(t *testing.T) {
	if os.Getenv("ZKSHARE_ATTACK17_SLOW") == "" {
		t.Skip("asks 20,000 questions (minutes): set ZKSHARE_ATTACK17_SLOW=1")
	}
	s := seed(t)
	ctx := t.Context()
	consumer := zksharev1connect.NewHolderServiceClient(s.Client, s.URL, connect.WithInterceptors(client.Bearer(s.ConsumerToken)))
	const flood = 20_000
	start := time.Now()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				k := next.Add(1)
				if k > flood || failed.Load() > 0 {
					return
				}
				for {
					_, err := consumer.Prove(ctx, &zkv1.ProveRequest{Collection: "benefits", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT,
						Subject: fmt.Sprintf("ZZ%07d", k), Query: s.GoodQuery, Nonce: scalar(t), Blind: scalar(t)})
					if connect.CodeOf(err) == connect.CodeResourceExhausted {
						time.Sleep(time.Millisecond)
						continue
					}
					if connect.CodeOf(err) != connect.CodeNotFound {
						t.Errorf("question about an absent key: %v", err)
						failed.Add(1)
					}
					break
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	t.Logf("%d questions in %v", flood, time.Since(start).Round(time.Second))
	// The newest question: an exists question about benefits.
	if _, err := consumer.Prove(ctx, &zkv1.ProveRequest{Collection: "benefits", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS,
		Query: s.GoodQuery, Nonce: scalar(t)}); err != nil {
		t.Fatal(err)
	}
	holder := newVisitor(t, s)
	holder.signIn(s.HolderToken)
	page := time.Now()
	code, body := holder.get("/console/audit?collection=holder/benefits")
	if code != http.StatusOK {
		t.Fatalf("audit: %d", code)
	}
	t.Logf("the holder's audit page read 20,000 entries in %v", time.Since(page).Round(time.Millisecond))
	if i := strings.Index(body, `id="audit-total"`); i >= 0 {
		t.Logf("holder: %.200s", body[i:])
	}
	if !strings.Contains(body, "<td>exists</td>") {
		t.Errorf("the holder's audit page of benefits does not list the newest question (an exists question) after %d older ones", flood)
	}
	c := newVisitor(t, s)
	c.signIn(s.ConsumerToken)
	if _, body := c.get("/console/audit?collection=holder/benefits"); !strings.Contains(body, "<td>exists</td>") {
		t.Errorf("the consumer's own audit page does not list its newest question after %d older ones", flood)
	}
}
