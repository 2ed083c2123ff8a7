package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/verifier"

	"connectrpc.com/connect"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/receipt"
	"github.com/zkshare/zkshare/service"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// keys is the package's one key directory (linked from ZKSHARE_TEST_KEYS
// when set).
var pkgKeys testkeys.Shared

func sharedKeys(t testing.TB) string { return pkgKeys.Dir(t) }

func TestMain(m *testing.M) {
	code := m.Run()
	pkgKeys.Cleanup()
	os.Exit(code)
}

// testNode is a server on loopback with its clients' tokens.
type testNode struct {
	t       testing.TB
	url     string
	data    string
	srv     *service.Server
	logs    *syncBuffer
	tokens  map[string]string
	opts    []connect.ClientOption
	seen    *bytes.Buffer // every response, for the privacy scan
	closeFn func()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startNode(t testing.TB, cfg service.Config, opts ...service.Option) *testNode {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Keys == "" {
		cfg.Keys = sharedKeys(t)
	}
	if cfg.Data == "" {
		cfg.Data = t.TempDir()
	}
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := service.New(t.Context(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Serve(ctx, service.NewHTTPServer(srv.Handler(), cfg.Log), ln, 5*time.Second) }()
	n := &testNode{t: t, url: "http://" + ln.Addr().String(), data: cfg.Data, srv: srv, logs: logs, tokens: map[string]string{}, seen: &bytes.Buffer{}}
	for _, id := range []string{node.AdminID, node.HolderID} {
		b, err := os.ReadFile(node.TokenPath(cfg.Data, id))
		if err != nil {
			t.Fatal(err)
		}
		n.tokens[id] = strings.TrimSpace(string(b))
	}
	var once sync.Once
	n.closeFn = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			srv.Close()
		})
	}
	t.Cleanup(n.closeFn)
	return n
}

// as returns client options that send id's token, and record responses.
func (n *testNode) as(id string) []connect.ClientOption {
	opts := append([]connect.ClientOption{}, n.opts...)
	if tok := n.tokens[id]; tok != "" {
		opts = append(opts, connect.WithInterceptors(client.Bearer(tok))) // for streaming calls
	}
	return append(opts, connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if tok := n.tokens[id]; tok != "" {
				req.Header().Set("Authorization", "Bearer "+tok)
			}
			resp, err := next(ctx, req)
			if resp != nil {
				if m, ok := resp.Any().(proto.Message); ok {
					b, _ := protojson.Marshal(m)
					n.seen.Write(b)
				}
			}
			if err != nil {
				n.seen.WriteString(err.Error())
			}
			return resp, err
		}
	})))
}

func (n *testNode) holder(id string) zksharev1connect.HolderServiceClient {
	return zksharev1connect.NewHolderServiceClient(client.HTTPClient(), n.url, n.as(id)...)
}

func (n *testNode) verifier(id string) zksharev1connect.VerifierServiceClient {
	return zksharev1connect.NewVerifierServiceClient(client.HTTPClient(), n.url, n.as(id)...)
}

func (n *testNode) ledgerClient(id string) zksharev1connect.LedgerServiceClient {
	return zksharev1connect.NewLedgerServiceClient(client.HTTPClient(), n.url, n.as(id)...)
}

// register makes a consumer through the admin API.
func (n *testNode) register(id string, role zkv1.Role) {
	n.t.Helper()
	ident, _ := ledger.NewIdentity(id)
	admin := zksharev1connect.NewAdminServiceClient(client.HTTPClient(), n.url, n.as(node.AdminID)...)
	resp, err := admin.RegisterParticipant(n.t.Context(), &zkv1.RegisterParticipantRequest{Id: id, Role: role, PublicKey: ident.Public()})
	if err != nil {
		n.t.Fatal(err)
	}
	n.tokens[id] = resp.GetToken()
}

const schema = `{"name":"people","key":"id","fields":[
 {"name":"income","type":"uint","width":32},{"name":"age","type":"uint","width":8},
 {"name":"status","type":"string"},{"name":"region","type":"enum","values":["north","south"]}]}`

// Canary values: each appears in exactly one record and must never leave the holder.
var canaries = []string{"CANARY-KEY-7f3a91", "CANARY-STATUS-c0ffee", "CANARY-KEY-b4d2e8"}

func people(n int, income int) []*zkv1.Record {
	out := make([]*zkv1.Record, n)
	for i := range out {
		out[i] = &zkv1.Record{Key: fmt.Sprintf("p%04d", i), Values: []string{fmt.Sprint(income + i), fmt.Sprint(20 + i%60), "active", "north"}}
	}
	out[3] = &zkv1.Record{Key: canaries[0], Values: []string{"12345", "70", canaries[1], "south"}}
	out[4] = &zkv1.Record{Key: canaries[2], Values: []string{"99999", "30", "active", "north"}}
	return out
}

// createAndCommit makes a collection that every consumer may ask anything.
func (n *testNode) createAndCommit(name string, recs []*zkv1.Record) *zkv1.CommitRecordsResponse {
	n.t.Helper()
	ctx := n.t.Context()
	h := n.holder(node.HolderID)
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: name}); err != nil {
		n.t.Fatal(err)
	}
	n.setPolicy(name, &zkv1.PolicyRule{Consumer: "*", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT, zkv1.StatementKind_STATEMENT_KIND_EXISTS}})
	return n.commit(name, recs)
}

func (n *testNode) setPolicy(name string, rules ...*zkv1.PolicyRule) {
	n.t.Helper()
	if _, err := n.holder(node.HolderID).SetPolicy(n.t.Context(), &zkv1.SetPolicyRequest{Collection: name, Policy: &zkv1.AccessPolicy{Rules: rules}}); err != nil {
		n.t.Fatal(err)
	}
}

func (n *testNode) commit(name string, recs []*zkv1.Record) *zkv1.CommitRecordsResponse {
	n.t.Helper()
	ctx, call := connect.NewClientContext(n.t.Context())
	call.RequestHeader().Set("Authorization", "Bearer "+n.tokens[node.HolderID])
	stream, err := n.holder(node.HolderID).CommitRecords(ctx)
	if err != nil {
		n.t.Fatal(err)
	}
	for lo := 0; lo < len(recs); lo += 7 {
		msg := &zkv1.CommitRecordsRequest{Records: recs[lo:min(lo+7, len(recs))]}
		if lo == 0 {
			msg.Collection = name
		}
		if err := stream.Send(msg); err != nil {
			n.t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndReceive()
	if err != nil {
		n.t.Fatal(err)
	}
	n.seen.WriteString(protojson.Format(resp))
	return resp
}

func nonce(b byte) []byte {
	n := make([]byte, 32)
	n[31], n[0] = b, 0x01
	return n
}

func code(err error) connect.Code { return connect.CodeOf(err) }

// TestEndToEnd runs the whole flow over real HTTP with a Connect client and
// a gRPC client, then the attacks the verifier must catch.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("key setup and proofs are slow")
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			n := startNode(t, service.Config{})
			n.opts = p.opts
			endToEnd(t, n)
		})
	}
}

func endToEnd(t *testing.T, n *testNode) {
	ctx := t.Context()
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	res := n.createAndCommit("people", people(40, 10000))
	if res.GetInserted() != 40 || res.GetAnchorHeight() == 0 {
		t.Fatalf("commit: %v", res)
	}
	bank := n.holder("bank")
	query := "income <= 20000 AND age >= 50 AND status == \"active\""
	pr, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: canaries[0], Query: "income <= 20000 AND age >= 65", Nonce: nonce(1), Blind: nonce(101)})
	if err != nil {
		t.Fatal(err)
	}
	if !pr.GetBundle().GetResult() {
		t.Fatal("subject should satisfy the query")
	}
	vf := n.verifier("")
	v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), Nonce: nonce(1), Subject: canaries[0], Expect: &zkv1.Expectation{Blind: nonce(101)}})
	if err != nil || !v.GetValid() {
		t.Fatalf("verify: %v %v", v, err)
	}
	if v.GetAnchorHeight() == 0 || v.GetAnchorTimeUnixMs() == 0 {
		t.Fatalf("verdict lacks the anchor: %v", v)
	}
	// A consumer may ask about a string value by equality; the proof still hides it.
	if _, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: query, Nonce: nonce(2)}); err != nil {
		t.Fatal(err)
	}

	// A receipt lets the subject prove a fact about its own record offline.
	// The holder hands it to the subject; it is not a consumer-facing
	// response, so this client does not record it for the privacy scan.
	holderOnly := zksharev1connect.NewHolderServiceClient(client.HTTPClient(), n.url, append(append([]connect.ClientOption{}, n.opts...), connect.WithInterceptors(client.Bearer(n.tokens[node.HolderID])))...)
	rr, err := holderOnly.IssueReceipt(ctx, &zkv1.IssueReceiptRequest{Collection: "people", Subject: canaries[0]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bank.IssueReceipt(ctx, &zkv1.IssueReceiptRequest{Collection: "people", Subject: canaries[0]}); code(err) != connect.CodePermissionDenied {
		t.Fatalf("a consumer asking for a receipt: %v", err)
	}
	w, err := receipt.Witness(rr.GetReceipt())
	if err != nil {
		t.Fatal(err)
	}
	own, err := prover.New(nil, sharedKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	var n7, b7 fr.Element
	n7.SetBytes(nonce(7))
	b7.SetBytes(nonce(107)) // the subject's own blind
	opb, err := own.ProveOwn(ctx, rr.GetReceipt().GetCollection(), rr.GetReceipt().GetSchema(), w, "age >= 65", n7, b7)
	if err != nil {
		t.Fatal(err)
	}
	r := rr.GetReceipt()
	opb.AnchorTx, opb.AnchorLogIndex, opb.AnchorInclusion, opb.Checkpoint = r.GetAnchorTx(), r.GetAnchorLogIndex(), r.GetAnchorInclusion(), r.GetCheckpoint()
	if v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: opb, Nonce: nonce(7), Subject: canaries[0], Expect: &zkv1.Expectation{Blind: nonce(107)}}); err != nil || !v.GetValid() || !opb.GetResult() {
		t.Fatalf("proof from a receipt: %v %v", v, err)
	}
	bad := proto.CloneOf(r)
	bad.Values[0] = "1"
	if _, err := receipt.Witness(bad); err == nil {
		t.Fatal("a receipt with a changed value was accepted")
	}

	// Auth: no token, wrong token, wrong role.
	anon := zksharev1connect.NewHolderServiceClient(client.HTTPClient(), n.url, n.opts...)
	if _, err := anon.Prove(ctx, &zkv1.ProveRequest{Collection: "people"}); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("no token: %v", err)
	}
	n.tokens["mallory"] = "zks_not-a-token"
	if _, err := n.holder("mallory").Prove(ctx, &zkv1.ProveRequest{Collection: "people"}); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := n.holder(node.HolderID).Prove(ctx, &zkv1.ProveRequest{Collection: "people"}); code(err) != connect.CodePermissionDenied {
		t.Fatalf("holder calling Prove: %v", err)
	}
	if _, err := bank.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "x"}); code(err) != connect.CodePermissionDenied {
		t.Fatalf("consumer creating a collection: %v", err)
	}
	// Bad input names the field.
	for _, tc := range []struct {
		req   *zkv1.ProveRequest
		field string
	}{
		{&zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: "p0001", Query: "income < 1", Nonce: []byte{1}}, "nonce"},
		{&zkv1.ProveRequest{Collection: "people", Kind: 9, Query: "income < 1", Nonce: nonce(3)}, "kind"},
		{&zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Query: "income < 1", Nonce: nonce(3)}, "subject"},
		{&zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: "p0001", Query: "income < 1", Nonce: nonce(3)}, "blind"},
		{&zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: "p0001", Query: "income < 1", Nonce: nonce(3), Blind: make([]byte, 32)}, "blind"},
		{&zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income < 1", Nonce: nonce(3), Blind: nonce(4)}, "blind"},
		{&zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "", Nonce: nonce(3)}, "query"},
		{&zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income <", Nonce: nonce(3)}, "query"},
	} {
		if _, err := bank.Prove(ctx, tc.req); code(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tc.field) {
			t.Fatalf("bad request (%s): %v", tc.field, err)
		}
	}
	if _, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: "nope", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income < 1", Nonce: nonce(3)}); code(err) != connect.CodeNotFound {
		t.Fatalf("unknown collection: %v", err)
	}

	// A replayed bundle answers another nonce; a bundle for another subject.
	if v, _ := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), Nonce: nonce(9)}); v.GetValid() || v.GetFailedCheck() != "nonce" {
		t.Fatalf("replayed nonce: %v", v)
	}
	if v, _ := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), Subject: "p0001", Expect: &zkv1.Expectation{Blind: nonce(101)}}); v.GetValid() || v.GetFailedCheck() != "subject" {
		t.Fatalf("other subject: %v", v)
	}

	// Collection A's bundle presented for collection B.
	n.createAndCommit("people-b", people(40, 10000))
	forged := proto.CloneOf(pr.GetBundle())
	forged.Collection = node.HolderID + "/people-b"
	resp, _ := n.holder("").GetCollection(ctx, &zkv1.GetCollectionRequest{Name: "people-b"})
	forged.CollectionId = resp.GetCollection().GetId()
	if v, _ := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: forged}); v.GetValid() {
		t.Fatal("a bundle of collection A verified for collection B")
	}

	// Every field tampered.
	b := pr.GetBundle()
	flip := func(x []byte) []byte { y := bytes.Clone(x); y[len(y)-1] ^= 1; return y }
	for name, mut := range map[string]func(*zkv1.Bundle){
		"kind":          func(b *zkv1.Bundle) { b.Kind = zkv1.StatementKind_STATEMENT_KIND_EXISTS },
		"collection":    func(b *zkv1.Bundle) { b.Collection = "other" },
		"collection_id": func(b *zkv1.Bundle) { b.CollectionId = flip(b.CollectionId) },
		"schema": func(b *zkv1.Bundle) {
			b.Schema = bytes.Replace(b.Schema, []byte(`"width":32`), []byte(`"width":31`), 1)
		},
		"query":            func(b *zkv1.Bundle) { b.Query = "income <= 20001 AND age >= 65" },
		"query_hash":       func(b *zkv1.Bundle) { b.QueryHash = flip(b.QueryHash) },
		"root":             func(b *zkv1.Bundle) { b.Root = flip(b.Root) },
		"key_commitment":   func(b *zkv1.Bundle) { b.KeyCommitment = flip(b.KeyCommitment) },
		"result":           func(b *zkv1.Bundle) { b.Result = !b.Result },
		"nonce":            func(b *zkv1.Bundle) { b.Nonce = flip(b.Nonce) },
		"circuit":          func(b *zkv1.Bundle) { b.Circuit = zkv1.Circuit_CIRCUIT_EXISTS },
		"circuit_id":       func(b *zkv1.Bundle) { b.CircuitId = flip(b.CircuitId) },
		"vk_sha256":        func(b *zkv1.Bundle) { b.VkSha256 = flip(b.VkSha256) },
		"proof":            func(b *zkv1.Bundle) { b.Proof = flip(b.Proof) },
		"anchor_tx":        func(b *zkv1.Bundle) { b.AnchorTx = flip(b.AnchorTx) },
		"anchor_log_index": func(b *zkv1.Bundle) { b.AnchorLogIndex++ },
		"anchor_inclusion": func(b *zkv1.Bundle) { b.AnchorInclusion[0] = flip(b.AnchorInclusion[0]) },
		"checkpoint":       func(b *zkv1.Bundle) { b.Checkpoint = bytes.Replace(b.Checkpoint, []byte("\n"), []byte("\n\n"), 1) },
		"version":          func(b *zkv1.Bundle) { b.Version = 3 },
	} {
		m := proto.CloneOf(b)
		mut(m)
		v, err := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: m})
		if err != nil || v.GetValid() {
			t.Errorf("tampered %s: %v %v", name, v, err)
		}
	}

	// A root replaced by an update: valid within the freshness window, not after.
	update := people(40, 10000)[:1]
	update[0].Values[0] = "1"
	n.commit("people", update)
	if v, _ := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: b}); !v.GetValid() {
		t.Fatalf("superseded root within the window: %v", v)
	}
	time.Sleep(1100 * time.Millisecond)
	if v, _ := vf.Verify(ctx, &zkv1.VerifyRequest{Bundle: b, FreshnessSeconds: 1}); v.GetValid() || v.GetFailed() != verifier.CheckFreshness {
		t.Fatalf("stale root: %v", v)
	}

	// Audit: the bank's two proofs, visible to the bank and to the holder.
	ae, err := n.ledgerClient("bank").ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{Consumer: "bank"})
	if err != nil || len(ae.GetEntries()) != 2 {
		t.Fatalf("audit entries: %v %v", ae, err)
	}
	if _, err := n.ledgerClient("bank").ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{Consumer: "other"}); code(err) != connect.CodePermissionDenied {
		t.Fatalf("a consumer listing another's audit entries: %v", err)
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": `zkshare_requests_total{code="ok",procedure="/zkshare.v1.HolderService/Prove"} 2`} {
		resp, err := http.Get(n.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Fatalf("%s: %d, no %q in\n%.2000s", path, resp.StatusCode, want, body)
		}
	}
	wctx, stopWatch := context.WithTimeout(ctx, 10*time.Second)
	watch, err := n.ledgerClient("").WatchBlocks(wctx, &zkv1.WatchBlocksRequest{FromHeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 3; want++ {
		if !watch.Receive() || watch.Msg().GetHeader().GetHeight() != want {
			t.Fatalf("watch: block %d: %v", want, watch.Err())
		}
	}
	stopWatch()
	watch.Close()
	cp, err := n.ledgerClient("").GetCheckpoint(ctx, &zkv1.GetCheckpointRequest{})
	if err != nil || cp.GetHeight() == 0 {
		t.Fatalf("checkpoint: %v %v", cp, err)
	}

	// Privacy: no canary in any response, the ledger's files or the logs.
	// Everything the ledger holds: every block with its transactions, and the state.
	var ledgerBytes bytes.Buffer
	l := n.srv.Ledger()
	for h := uint64(1); h <= l.Head().Height; h++ {
		blk, _, err := l.Block(h)
		if err != nil {
			t.Fatal(err)
		}
		bb, _ := proto.Marshal(blk)
		ledgerBytes.Write(bb)
	}
	st, _ := json.Marshal(l.State())
	ledgerBytes.Write(st)
	for _, c := range canaries {
		for where, s := range map[string]string{"responses": n.seen.String(), "ledger": ledgerBytes.String(), "logs": n.logs.String()} {
			if strings.Contains(s, c) {
				t.Errorf("canary %s found in %s", c, where)
			}
		}
	}
	if err := n.srv.Ledger().Verify(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func TestProveQueueFull(t *testing.T) {
	if testing.Short() {
		t.Skip("proofs are slow")
	}
	n := startNode(t, service.Config{ProveConcurrency: 1, ProveQueue: 1})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.createAndCommit("people", people(10, 100))
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[connect.Code]int{}
	ok := 0
	for i := range 6 {
		wg.Go(func() {
			_, err := n.holder("bank").Prove(t.Context(), &zkv1.ProveRequest{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "income >= 0", Nonce: nonce(byte(i + 1))})
			mu.Lock()
			if err == nil {
				ok++
			} else {
				codes[code(err)]++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[connect.CodeResourceExhausted] == 0 || ok == 0 || ok+codes[connect.CodeResourceExhausted] != 6 {
		t.Fatalf("want proofs and ResourceExhausted only, got %d proofs and %v", ok, codes)
	}
}

var protocols = []struct {
	name string
	opts []connect.ClientOption
}{{"connect", nil}, {"grpc", []connect.ClientOption{connect.WithGRPC()}}, {"grpcweb", []connect.ClientOption{connect.WithGRPCWeb()}}}

func TestAccessPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("key setup is slow")
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			n := startNode(t, service.Config{})
			n.opts = p.opts
			accessPolicy(t, n)
		})
	}
}

func accessPolicy(t *testing.T, n *testNode) {
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.register("insurer", zkv1.Role_ROLE_CONSUMER)
	ctx := t.Context()
	h := n.holder(node.HolderID)
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "people"}); err != nil {
		t.Fatal(err)
	}
	n.commit("people", people(10, 100))
	ask := func(who string, kind zkv1.StatementKind, q string, nb byte) error {
		req := &zkv1.ProveRequest{Collection: "people", Kind: kind, Query: q, Nonce: nonce(nb)}
		if kind == zkv1.StatementKind_STATEMENT_KIND_SUBJECT {
			req.Subject, req.Blind = "p0001", nonce(100)
		}
		_, err := n.holder(who).Prove(ctx, req)
		return err
	}
	subject, exists := zkv1.StatementKind_STATEMENT_KIND_SUBJECT, zkv1.StatementKind_STATEMENT_KIND_EXISTS
	if err := ask("bank", subject, "income < 5000", 1); code(err) != connect.CodePermissionDenied {
		t.Fatalf("no policy: %v", err)
	}
	// Bad policies name the field.
	for _, r := range []*zkv1.PolicyRule{
		{Consumer: "nobody", Kinds: []zkv1.StatementKind{subject}},
		{Consumer: "bank", Kinds: []zkv1.StatementKind{subject}, Templates: []string{"salary <"}},
		{Consumer: "bank", Kinds: []zkv1.StatementKind{subject}, Templates: []string{"income ~"}},
	} {
		_, err := h.SetPolicy(ctx, &zkv1.SetPolicyRequest{Collection: "people", Policy: &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{r}}})
		if code(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "policy.rules[0]") {
			t.Fatalf("bad rule %v: %v", r, err)
		}
	}
	if _, err := n.holder("bank").SetPolicy(ctx, &zkv1.SetPolicyRequest{Collection: "people", Policy: &zkv1.AccessPolicy{}}); code(err) != connect.CodePermissionDenied {
		t.Fatalf("a consumer setting a policy: %v", err)
	}
	n.setPolicy("people",
		&zkv1.PolicyRule{Consumer: "bank", Kinds: []zkv1.StatementKind{subject}, Templates: []string{"income <", "age >="}, RatePerMinute: 2})
	for _, tc := range []struct {
		who   string
		kind  zkv1.StatementKind
		query string
		want  connect.Code
	}{
		{"bank", exists, "income < 5000", connect.CodePermissionDenied},              // kind not granted
		{"bank", subject, "income < 5000 AND age < 3", connect.CodePermissionDenied}, // clause outside the templates
		{"insurer", subject, "income < 5000", connect.CodePermissionDenied},          // consumer not named
		{"bank", subject, "income < 5000 AND age >= 3", 0},
		{"bank", subject, "income < 5000", 0},
		{"bank", subject, "income < 5000", connect.CodeResourceExhausted}, // third in a minute
	} {
		err := ask(tc.who, tc.kind, tc.query, 5)
		if tc.want == 0 && err != nil || tc.want != 0 && code(err) != tc.want {
			t.Fatalf("%s %v %q: %v, want %v", tc.who, tc.kind, tc.query, err, tc.want)
		}
	}
	got, err := h.GetPolicy(ctx, &zkv1.GetPolicyRequest{Collection: "people"})
	if err != nil || len(got.GetPolicy().GetRules()) != 1 {
		t.Fatalf("get policy: %v %v", got, err)
	}
	up, err := h.UpdateRecords(ctx, &zkv1.UpdateRecordsRequest{Collection: "people", Records: []*zkv1.Record{{Key: "p0002", Values: []string{"5", "40", "active", "north"}}}})
	if err != nil || up.GetUpdated() != 1 || up.GetRecordCount() != 10 {
		t.Fatalf("update: %v %v", up, err)
	}
	if _, err := h.UpdateRecords(ctx, &zkv1.UpdateRecordsRequest{Collection: "people", Records: []*zkv1.Record{{Key: "nobody", Values: []string{"5", "40", "active", "north"}}}}); code(err) != connect.CodeNotFound || !strings.Contains(err.Error(), "records[0].key") {
		t.Fatalf("updating an unknown key: %v", err)
	}
	if _, err := h.UpdateRecords(ctx, &zkv1.UpdateRecordsRequest{Collection: "people", Records: []*zkv1.Record{{Key: "p0002", Values: []string{"-5", "40", "active", "north"}}}}); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("updating with a bad value: %v", err)
	}
	// Deleting a record moves the anchored root; proofs about it stop.
	del, err := h.DeleteRecords(ctx, &zkv1.DeleteRecordsRequest{Collection: "people", Keys: []string{"p0001"}})
	if err != nil || del.GetRecordCount() != 9 || del.GetAnchorHeight() == 0 {
		t.Fatalf("delete: %v %v", del, err)
	}
	if _, err := h.DeleteRecords(ctx, &zkv1.DeleteRecordsRequest{Collection: "people", Keys: []string{"p0001"}}); code(err) != connect.CodeNotFound {
		t.Fatalf("deleting a deleted key: %v", err)
	}
}
