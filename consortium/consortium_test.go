package consortium_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/consortium"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/internal/logging"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
)

// Each organisation's node runs in its own process, the test binary
// started again with ZKSHARE_TEST_ORG set: CometBFT nodes are processes,
// and stopping one must not touch the others.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ZKSHARE_TEST_ORG"); dir != "" {
		if os.Getenv("ZKSHARE_TEST_BARE") != "" {
			os.Exit(runBare(dir))
		}
		os.Exit(runOrg(dir, os.Getenv("ZKSHARE_TEST_KEYS"), os.Getenv("ZKSHARE_TEST_ADDR")))
	}
	os.Exit(m.Run())
}

// runBare runs only the consensus node and ledger, for benchmarks that talk
// to CometBFT's RPC.
func runBare(dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	n, err := consortium.Start(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "org:", err)
		return 1
	}
	fmt.Println("ready")
	<-ctx.Done()
	n.Stop()
	return 0
}

func runOrg(dir, keyDir, addr string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	logging.QuietGnark(log)
	srv, err := service.New(ctx, service.Config{Data: dir, Keys: keyDir, Consortium: true, Log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "org:", err)
		return 1
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "org:", err)
		return 1
	}
	fmt.Println("ready")
	if err := service.Serve(ctx, service.NewHTTPServer(srv.Handler(), log), ln, 5*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "org:", err)
		return 1
	}
	return 0
}

type org struct {
	dir, url, addr string
	cmd            *exec.Cmd
	done           chan struct{}
}

type consortiumNet struct {
	t      *testing.T
	keys   string
	orgs   []*org
	client *http.Client
}

// reserveAddrs holds n loopback ports until release: taken before
// consortium.Init, so that Init's CometBFT ports (chosen free, then let go)
// can never be the organisations' API ports too, which made a node fail
// to listen now and then.
func reserveAddrs(t testing.TB, n int) (addrs []string, release func()) {
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
}

func newNet(t *testing.T, n int) *consortiumNet {
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys")
	logging.QuietGnark(slog.New(slog.DiscardHandler))
	if _, err := keys.Setup(t.Context(), keyDir, nil, nil); err != nil {
		t.Fatal(err)
	}
	addrs, release := reserveAddrs(t, n)
	m, err := consortium.Init(n, filepath.Join(dir, "c"), consortium.Options{Development: true, Origin: "test.consortium/ledger"})
	release()
	if err != nil {
		t.Fatal(err)
	}
	c := &consortiumNet{t: t, keys: keyDir, client: client.HTTPClient()}
	for k, name := range m.Orgs {
		c.orgs = append(c.orgs, &org{dir: filepath.Join(dir, "c", name), addr: addrs[k], url: "http://" + addrs[k]})
	}
	t.Cleanup(func() {
		for k := range c.orgs {
			c.stop(k)
		}
	})
	return c
}

// start launches organisation k's process; ready waits for its API.
func (c *consortiumNet) start(k int) {
	o := c.orgs[k]
	o.cmd = exec.Command(os.Args[0], "-test.run=^$")
	o.cmd.Env = append(os.Environ(), "ZKSHARE_TEST_ORG="+o.dir, "ZKSHARE_TEST_KEYS="+c.keys, "ZKSHARE_TEST_ADDR="+o.addr)
	o.cmd.Stderr = os.Stderr
	out, _ := o.cmd.StdoutPipe()
	if err := o.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	o.done = make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
		}
		o.cmd.Wait()
		close(o.done)
	}()
}

func (c *consortiumNet) ready(k int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(c.orgs[k].url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("org%d did not become ready", k+1)
}

// stop ends organisation k's process: SIGTERM, then SIGKILL.
func (c *consortiumNet) stop(k int) {
	o := c.orgs[k]
	if o.cmd == nil || o.cmd.Process == nil {
		return
	}
	o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.done:
	case <-time.After(15 * time.Second):
		o.cmd.Process.Kill()
		<-o.done
	}
	o.cmd = nil
}

func (c *consortiumNet) token(k int, id string) string {
	b, err := os.ReadFile(node.TokenPath(c.orgs[k].dir, id))
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (c *consortiumNet) holder(k int) zksharev1connect.HolderServiceClient {
	return zksharev1connect.NewHolderServiceClient(c.client, c.orgs[k].url, connect.WithInterceptors(client.Bearer(c.token(k, node.HolderID))))
}

const schema = `{"name":"usage","key":"cell","fields":[{"name":"gb","type":"uint","width":32}]}`

// collection creates collection name on org k and commits n records.
func (c *consortiumNet) collection(ctx context.Context, k int, name string, n int) (*zkv1.CommitRecordsResponse, error) {
	h := c.holder(k)
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: name}); err != nil {
		return nil, err
	}
	stream, err := h.CommitRecords(ctx)
	if err != nil {
		return nil, err
	}
	msg := &zkv1.CommitRecordsRequest{Collection: name}
	for i := range n {
		msg.Records = append(msg.Records, &zkv1.Record{Key: fmt.Sprintf("cell-%d", i), Values: []string{fmt.Sprint(i * 3)}})
	}
	if err := stream.Send(msg); err != nil {
		return nil, err
	}
	return stream.CloseAndReceive()
}

// tips returns every running organisation's checkpoint log size and root.
func (c *consortiumNet) tips(ctx context.Context) map[int]string {
	out := map[int]string{}
	for k, o := range c.orgs {
		if o.cmd == nil {
			continue
		}
		cp, err := zksharev1connect.NewLedgerServiceClient(c.client, o.url).GetCheckpoint(ctx, &zkv1.GetCheckpointRequest{})
		if err != nil {
			out[k] = "error: " + err.Error()
			continue
		}
		// The checkpoint's first two lines are the origin and size, the third the root.
		lines := strings.SplitN(string(cp.GetCheckpoint()), "\n", 4)
		out[k] = strings.Join(lines[:3], " | ")
	}
	return out
}

// converge waits until every running organisation has the same log tip of
// at least size entries.
func (c *consortiumNet) converge(ctx context.Context, size int) string {
	deadline := time.Now().Add(60 * time.Second)
	for {
		tips := c.tips(ctx)
		same, first := true, ""
		for _, tip := range tips {
			if first == "" {
				first = tip
			}
			same = same && tip == first
		}
		var got int
		if parts := strings.Split(first, " | "); len(parts) == 3 {
			fmt.Sscanf(parts[1], "%d", &got)
		}
		if same && got >= size {
			return first
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("organisations did not converge on %d entries: %v", size, tips)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func TestFourOrganisations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four CometBFT nodes")
	}
	ctx := t.Context()
	c := newNet(t, 4)
	var wg sync.WaitGroup
	for k := range 4 {
		c.start(k)
	}
	for k := range 4 {
		wg.Go(func() { c.ready(k) })
	}
	wg.Wait()
	// Every organisation's node proposed the two circuits at startup: a
	// circuit is pinned by the third of four (a majority), so 6 entries.
	// Each holder now registers a collection and anchors it through its
	// own node.
	size := 6
	for k := range 4 {
		if _, err := c.collection(ctx, k, fmt.Sprintf("usage-org%d", k+1), 50); err != nil {
			t.Fatalf("org%d: %v", k+1, err)
		}
		size += 2
	}
	tip := c.converge(ctx, size)
	t.Logf("4 organisations agree: %s", tip)

	// A bundle made by org1's holder verifies on org4: one shared ledger.
	// Registering the bank takes three organisations' admins: org1's
	// request is pending until org2's and org3's identical ones approve it.
	admin := func(k int) zksharev1connect.AdminServiceClient {
		return zksharev1connect.NewAdminServiceClient(c.client, c.orgs[k].url, connect.WithInterceptors(client.Bearer(c.token(k, node.AdminID))))
	}
	bankKey, _ := ledger.NewIdentity("bank")
	bankReq := &zkv1.RegisterParticipantRequest{Id: "bank", Role: zkv1.Role_ROLE_CONSUMER, PublicKey: bankKey.Public()}
	reg, err := admin(0).RegisterParticipant(ctx, bankReq)
	if err != nil || !reg.GetPending() {
		t.Fatalf("org1 alone: %v %v", reg, err)
	}
	if r, err := admin(1).RegisterParticipant(ctx, bankReq); err != nil || !r.GetPending() {
		t.Fatalf("org2's approval: %v %v", r, err)
	}
	if r, err := admin(2).RegisterParticipant(ctx, bankReq); err != nil || r.GetPending() {
		t.Fatalf("org3's approval: %v %v", r, err)
	}
	// org3's node committed the registration; org1's applies it a block
	// later at most: the policy names bank once org1 knows it.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		_, err := c.holder(0).SetPolicy(ctx, &zkv1.SetPolicyRequest{Collection: "usage-org1", Policy: &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{Consumer: "bank", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT}}}}})
		if err == nil {
			break
		}
		if connect.CodeOf(err) != connect.CodeInvalidArgument || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	nonce := make([]byte, 32)
	nonce[31] = 7
	bank := zksharev1connect.NewHolderServiceClient(c.client, c.orgs[0].url, connect.WithInterceptors(client.Bearer(reg.GetToken())))
	pr, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: "usage-org1", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: "cell-3", Query: "gb <= 100", Nonce: nonce, Blind: nonce})
	if err != nil {
		t.Fatal(err)
	}
	size += 4 // the bank's registration (three admins) and the audit entry
	c.converge(ctx, size)
	v, err := zksharev1connect.NewVerifierServiceClient(c.client, c.orgs[3].url).Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), Nonce: nonce, Subject: "cell-3", Expect: &zkv1.Expectation{Blind: nonce}})
	if err != nil || !v.GetValid() {
		t.Fatalf("org1's bundle on org4: %v %v", v, err)
	}

	// M of N across organisations: org1's collection needs 2 of holder2,
	// holder3 and holder4 to co-sign each anchor before it counts.
	h1 := c.holder(0)
	if _, err := h1.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "shared", Confirmers: []string{"holder2", "holder3", "holder4"}, ConfirmationsRequired: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := h1.SetPolicy(ctx, &zkv1.SetPolicyRequest{Collection: "shared", Policy: &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{Consumer: "*", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_EXISTS}}}}}); err != nil {
		t.Fatal(err)
	}
	stream, err := h1.CommitRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&zkv1.CommitRecordsRequest{Collection: "shared", Records: []*zkv1.Record{{Key: "cell-a", Values: []string{"42"}}}})
	committed, err := stream.CloseAndReceive()
	if err != nil {
		t.Fatal(err)
	}
	// No bundle rests on an anchor that awaits its confirmations.
	nonce[31] = 8
	prove := func() (*zkv1.ProveResponse, error) {
		return bank.Prove(ctx, &zkv1.ProveRequest{Collection: "shared", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "gb >= 40", Nonce: nonce})
	}
	if _, err := prove(); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("a bundle on an unconfirmed anchor: %v", err)
	}
	info, err := h1.GetCollection(ctx, &zkv1.GetCollectionRequest{Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	collID := info.GetCollection().GetId()
	size += 2 // the collection's registration and its anchor
	c.converge(ctx, size)
	for _, k := range []int{1, 2} { // holder2 on org2, then holder3 on org3
		if _, err := c.holder(k).ConfirmAnchor(ctx, &zkv1.ConfirmAnchorRequest{CollectionId: collID, Sequence: 1, Root: committed.GetRoot()}); err != nil {
			t.Fatalf("confirmation by org%d: %v", k+1, err)
		}
		size++
		c.converge(ctx, size)
	}
	shared, err := prove()
	if err != nil {
		t.Fatal(err)
	}
	size++ // its audit entry
	v, err = zksharev1connect.NewVerifierServiceClient(c.client, c.orgs[3].url).Verify(ctx, &zkv1.VerifyRequest{Bundle: shared.GetBundle()})
	if err != nil || !v.GetValid() {
		t.Fatalf("a confirmed anchor did not verify: %v %v", v, err)
	}
	c.converge(ctx, size)

	// Governance through the API: org1's admin proposes a registration,
	// org2's sees and approves it, org3's approval (the third of four)
	// applies it. Then org1's holder proposes a new confirmer set for its
	// collection and three organisations' admins approve it.
	shopKey, _ := ledger.NewIdentity("shop")
	gp, err := admin(0).Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRegisterParticipant("shop", zkv1.Role_ROLE_CONSUMER, shopKey.Public())})
	if st := gp.GetStatus(); err != nil || st.GetApplied() || st.GetNeeded() != 3 || strings.Join(st.GetApprovals(), ",") != "admin1" || gp.GetToken() == "" {
		t.Fatalf("org1's proposal: %v %v", gp, err)
	}
	pid := gp.GetStatus().GetProposalId()
	size++
	c.converge(ctx, size)
	lp, err := admin(1).ListProposals(ctx, &zkv1.ListProposalsRequest{})
	if err != nil || len(lp.GetProposals()) != 1 || !bytes.Equal(lp.GetProposals()[0].GetId(), pid) || lp.GetProposals()[0].GetProposer() != "admin1" || len(lp.GetGovernors()) != 4 {
		t.Fatalf("org2's list: %v %v", lp, err)
	}
	approve := func(k int, id []byte, applied bool) {
		t.Helper()
		ar, err := admin(k).Approve(ctx, &zkv1.ApproveRequest{ProposalId: id})
		if err != nil || ar.GetStatus().GetApplied() != applied {
			t.Fatalf("org%d's approval: %v %v (want applied %v)", k+1, ar, err, applied)
		}
		size++
		c.converge(ctx, size)
	}
	approve(1, pid, false)
	if ar, err := admin(0).Approve(ctx, &zkv1.ApproveRequest{ProposalId: pid}); err != nil || len(ar.GetStatus().GetTxHash()) != 0 {
		t.Fatalf("org1 approving its own proposal again: %v %v (nothing to send)", ar, err)
	}
	approve(2, pid, true)
	shop := zksharev1connect.NewLedgerServiceClient(c.client, c.orgs[0].url, connect.WithInterceptors(client.Bearer(gp.GetToken())))
	if _, err := shop.ListAuditEntries(ctx, &zkv1.ListAuditEntriesRequest{Consumer: "shop"}); err != nil {
		t.Fatalf("the registered participant's token on org1: %v", err)
	}
	sr, err := h1.SetConfirmers(ctx, &zkv1.SetConfirmersRequest{Collection: "shared", Confirmers: []string{"holder2"}, ConfirmationsRequired: 1})
	if err != nil || sr.GetStatus().GetApplied() || len(sr.GetStatus().GetApprovals()) != 0 {
		t.Fatalf("org1's holder proposing confirmers: %v %v", sr, err)
	}
	size++
	c.converge(ctx, size)
	if _, err := c.holder(1).SetConfirmers(ctx, &zkv1.SetConfirmersRequest{Collection: "holder1/shared", Confirmers: []string{"holder2"}}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("another organisation's holder proposing org1's confirmers: %v", err)
	}
	approve(1, sr.GetStatus().GetProposalId(), false)
	approve(2, sr.GetStatus().GetProposalId(), false)
	approve(3, sr.GetStatus().GetProposalId(), true)
	if lp, err := admin(3).ListProposals(ctx, &zkv1.ListProposalsRequest{}); err != nil || len(lp.GetProposals()) != 0 {
		t.Fatalf("open proposals after both applied: %v %v", lp, err)
	}

	// One organisation down: the other three keep committing.
	c.stop(3)
	if _, err := c.collection(ctx, 1, "while-org4-down", 5); err != nil {
		t.Fatalf("with three of four: %v", err)
	}
	size += 2
	c.converge(ctx, size)
	// It comes back and catches up.
	c.start(3)
	c.ready(3)
	c.converge(ctx, size)

	// Two down: no quorum, nothing commits; one back: progress resumes.
	c.stop(2)
	c.stop(3)
	short, cancel := context.WithTimeout(ctx, 4*time.Second)
	_, err = c.holder(0).CreateCollection(short, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "no-quorum"})
	cancel()
	if err == nil {
		t.Fatal("a collection was registered without a quorum")
	}
	before := c.tips(ctx)
	c.start(2)
	c.ready(2)
	// The registration waiting in the mempool lands once three are up.
	// Either the server finished the create after its caller gave up, or
	// creating the collection again completes it on the holder's side.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.holder(0).GetCollection(ctx, &zkv1.GetCollectionRequest{Name: "no-quorum"}); err == nil {
			break
		}
		_, err := c.holder(0).CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "no-quorum"})
		if err != nil && time.Now().After(deadline) {
			t.Fatalf("completing the interrupted create: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if _, err := c.holder(0).CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "no-quorum"}); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Fatalf("creating it a third time: %v", err)
	}
	if _, err := c.collection(ctx, 0, "after-quorum", 5); err != nil {
		t.Fatalf("after the quorum returned: %v", err)
	}
	c.start(3)
	c.ready(3)
	tip = c.converge(ctx, size+2)
	t.Logf("without quorum the tips stayed %v; after restarts all agree: %s", before, tip)
}

// A proposer that puts a transaction Apply rejects into a block gets the
// block refused by every honest validator's ProcessProposal.
func TestProcessProposalRefusesInvalid(t *testing.T) {
	dir := t.TempDir()
	if _, err := consortium.Init(1, dir, consortium.Options{Development: true, Origin: "test.consortium/ledger"}); err != nil {
		t.Fatal(err)
	}
	node, err := ledger.LoadIdentity(filepath.Join(dir, "org1", "identities", "node.json"))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := ledger.LoadIdentity(filepath.Join(dir, "org1", "identities", "admin.json"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(filepath.Join(dir, "org1", "ledger"), node, ledger.Options{Broadcast: func(context.Context, []byte) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	app := consortium.NewApp(l, nil)
	ident, _ := ledger.NewIdentity("x")
	good, _ := ledger.NewTx(l.Chain(), admin, 1, time.Now(), ledger.RegisterParticipant("x", zkv1.Role_ROLE_CONSUMER, ident.Public()))
	replay, _ := ledger.NewTx(l.Chain(), admin, 1, time.Now(), ledger.RegisterParticipant("y", zkv1.Role_ROLE_CONSUMER, ident.Public()))
	forged, _ := ledger.NewTx(l.Chain(), ident, 1, time.Now(), ledger.RevokeParticipant("admin"))
	for name, txs := range map[string][][]byte{
		"replayed sequence": {good.Raw, replay.Raw},
		"unknown sender":    {forged.Raw},
		"garbage":           {[]byte("not a transaction")},
	} {
		res, err := app.ProcessProposal(t.Context(), &abci.RequestProcessProposal{Txs: txs, Time: time.Now(), Height: 1})
		if err != nil || res.Status != abci.ResponseProcessProposal_REJECT {
			t.Errorf("%s: %v %v", name, res, err)
		}
	}
	res, err := app.ProcessProposal(t.Context(), &abci.RequestProcessProposal{Txs: [][]byte{good.Raw}, Time: time.Now(), Height: 1})
	if err != nil || res.Status != abci.ResponseProcessProposal_ACCEPT {
		t.Fatalf("valid proposal: %v %v", res, err)
	}
	// The honest proposer drops what Apply rejects.
	prep, err := app.PrepareProposal(t.Context(), &abci.RequestPrepareProposal{Txs: [][]byte{good.Raw, forged.Raw, replay.Raw}, Time: time.Now(), MaxTxBytes: 1 << 20})
	if err != nil || len(prep.Txs) != 1 {
		t.Fatalf("prepare: %d txs, %v", len(prep.GetTxs()), err)
	}
}
