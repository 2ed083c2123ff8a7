package consortium_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/consortium"
	"github.com/zkshare/zkshare/device/sensor"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/internal/logging"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/records"
	"google.golang.org/protobuf/encoding/protojson"
)

// newKeyedNet is newNet with the keys of ZKSHARE_TEST_KEYS (linked, or
// set up once when unset) instead of a fresh setup.
func newKeyedNet(t testing.TB, n int) *consortiumNet {
	dir := t.TempDir()
	logging.QuietGnark(slog.New(slog.DiscardHandler))
	keyDir, cleanup, err := testkeys.Dir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	addrs, release := reserveAddrs(t, n)
	m, err := consortium.Init(n, filepath.Join(dir, "c"), consortium.Options{Development: true, Origin: "test.consortium/ledger"})
	release()
	if err != nil {
		t.Fatal(err)
	}
	tt, _ := t.(*testing.T)
	c := &consortiumNet{t: tt, keys: keyDir, client: client.HTTPClient()}
	for k, name := range m.Orgs {
		c.orgs = append(c.orgs, &org{dir: filepath.Join(dir, "c", name), addr: addrs[k], url: "http://" + addrs[k]})
	}
	t.Cleanup(func() {
		for k := range c.orgs {
			c.stop(k)
		}
	})
	var wg sync.WaitGroup
	for k := range n {
		c.start(k)
	}
	for k := range n {
		wg.Go(func() { c.readyTB(t, k) })
	}
	wg.Wait()
	return c
}

func (c *consortiumNet) readyTB(t testing.TB, k int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := c.client.Get(c.orgs[k].url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("org%d did not become ready", k+1)
}

func tokenOf(t testing.TB, c *consortiumNet, k int, id string) string {
	b, err := os.ReadFile(node.TokenPath(c.orgs[k].dir, id))
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

func (c *consortiumNet) holderTB(t testing.TB, k int) zksharev1connect.HolderServiceClient {
	return zksharev1connect.NewHolderServiceClient(c.client, c.orgs[k].url, connect.WithInterceptors(client.Bearer(tokenOf(t, c, k, node.HolderID))))
}

func (c *consortiumNet) devices(k int) zksharev1connect.DeviceServiceClient {
	return zksharev1connect.NewDeviceServiceClient(c.client, c.orgs[k].url)
}

func (c *consortiumNet) submitReadings(ctx context.Context, k int, rs ...*zkv1.Reading) (*zkv1.SubmitReadingsResponse, error) {
	stream, err := c.devices(k).SubmitReadings(ctx)
	if err != nil {
		return nil, err
	}
	_ = stream.Send(&zkv1.SubmitReadingsRequest{Readings: rs})
	return stream.CloseAndReceive()
}

// deviceView is one organisation's view of a device-fed collection: its
// newest anchor (from the anchoring transaction) and its devices.
func deviceView(ctx context.Context, c *consortiumNet, k int, collID []byte, name string) (string, error) {
	lc := zksharev1connect.NewLedgerServiceClient(c.client, c.orgs[k].url)
	a, err := lc.GetAnchor(ctx, &zkv1.GetAnchorRequest{CollectionId: collID})
	if err != nil {
		return "", err
	}
	tr, err := lc.GetTransaction(ctx, &zkv1.GetTransactionRequest{Hash: a.GetTxHash()})
	if err != nil {
		return "", err
	}
	tx, err := ledger.DecodeTx(tr.GetTx())
	if err != nil {
		return "", err
	}
	an := ledger.AnchorOf(tx.Body)
	ds, err := c.devices(k).ListDevices(ctx, &zkv1.ListDevicesRequest{Collection: name})
	if err != nil {
		return "", err
	}
	b, _ := protojson.Marshal(ds)
	return fmt.Sprintf("seq=%d root=%x count=%d devices=%s", an.GetSequence(), an.GetRoot(), an.GetRecordCount(), b), nil
}

// awaitSequence waits until every organisation's newest anchor of the
// collection has sequence seq, and returns their views.
func awaitSequence(t *testing.T, c *consortiumNet, collID []byte, name string, seq uint64) []string {
	t.Helper()
	want := fmt.Sprintf("seq=%d ", seq)
	deadline := time.Now().Add(60 * time.Second)
	for {
		views := make([]string, len(c.orgs))
		all := true
		for k := range c.orgs {
			v, err := deviceView(t.Context(), c, k, collID, name)
			if err != nil {
				v = err.Error()
			}
			views[k] = v
			all = all && len(v) >= len(want) && v[:len(want)] == want
		}
		if all {
			return views
		}
		if time.Now().After(deadline) {
			t.Fatalf("organisations did not reach anchor %d: %q", seq, views)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestConsortiumDeviceReadings: in a four-organisation consortium, org1's
// holder registers a device-fed collection and two sensors; readings are
// relayed through org1 (with openings), org2 and org3 (attestations only:
// openings are refused there, and a refused call applies nothing). Every
// organisation ends with the same anchored root and device counters, and
// a subject answer from org1 verifies on org4.
func TestConsortiumDeviceReadings(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four CometBFT nodes")
	}
	ctx := t.Context()
	c := newKeyedNet(t, 4)
	h1 := c.holderTB(t, 0)
	schemaJSON, err := os.ReadFile(filepath.Join("..", "testdata", "coldchain", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := records.ParseSchema(schemaJSON)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h1.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: schemaJSON, Name: "coldchain", DeviceFed: true}); err != nil {
		t.Fatal(err)
	}
	const name = "holder1/coldchain"
	cidElem := records.CollectionID(name)
	cid := cidElem.Bytes()
	collID := cid[:]
	probes := map[string]*sensor.Sensor{}
	for _, id := range []string{"probe-a", "probe-b"} {
		s, err := sensor.New(id, sc)
		if err != nil {
			t.Fatal(err)
		}
		probes[id] = s
		req, err := s.Registration(name, "", "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h1.RegisterDevice(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	read := func(id, temp string) *zkv1.Reading {
		t.Helper()
		r, err := probes[id].Read([]string{"L-1", "SUP-A", "NL", temp, "10", "1.00", "true"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	attestation := func(r *zkv1.Reading) *zkv1.Reading { return &zkv1.Reading{Attestation: r.GetAttestation()} }

	// Through the holder's node, with openings.
	a1, b1 := read("probe-a", "3.0"), read("probe-b", "4.0")
	if r, err := c.submitReadings(ctx, 0, a1, b1); err != nil || r.GetAccepted() != 2 {
		t.Fatalf("org1: %v %v", r, err)
	}
	awaitSequence(t, c, collID, name, 1)

	// org2 is not the holder's node: openings are refused there, and
	// nothing of the call is applied; attestations alone are relayed.
	a2, b2 := read("probe-a", "3.1"), read("probe-b", "4.1")
	if _, err := c.submitReadings(ctx, 1, a2, b2); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("openings sent to org2: %v, want InvalidArgument", err)
	}
	if v, err := deviceView(ctx, c, 1, collID, name); err != nil || v[:6] != "seq=1 " {
		t.Fatalf("after the refused call on org2: %s %v", v, err)
	}
	if r, err := c.submitReadings(ctx, 1, attestation(a2), attestation(b2)); err != nil || r.GetAccepted() != 2 {
		t.Fatalf("org2: %v %v", r, err)
	}
	awaitSequence(t, c, collID, name, 2)
	a3, b3 := read("probe-a", "3.2"), read("probe-b", "4.2")
	if r, err := c.submitReadings(ctx, 2, attestation(a3), attestation(b3)); err != nil || r.GetAccepted() != 2 {
		t.Fatalf("org3: %v %v", r, err)
	}
	// A replay relayed through another organisation is refused there too.
	if _, err := c.submitReadings(ctx, 3, attestation(a1)); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("a replay on org4: %v", err)
	}
	views := awaitSequence(t, c, collID, name, 3)
	for k, v := range views {
		if v != views[0] {
			t.Fatalf("org%d's view differs from org1's:\n%s\n%s", k+1, v, views[0])
		}
	}
	t.Logf("4 organisations agree: %.120s…", views[0])

	// A consumer, registered by three organisations' admins, asks org1's
	// holder; org4's verifier accepts the answer.
	admin := func(k int) zksharev1connect.AdminServiceClient {
		return zksharev1connect.NewAdminServiceClient(c.client, c.orgs[k].url, connect.WithInterceptors(client.Bearer(tokenOf(t, c, k, node.AdminID))))
	}
	bankKey, _ := ledger.NewIdentity("bank")
	bankReq := &zkv1.RegisterParticipantRequest{Id: "bank", Role: zkv1.Role_ROLE_CONSUMER, PublicKey: bankKey.Public()}
	reg, err := admin(0).RegisterParticipant(ctx, bankReq)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{1, 2} {
		if _, err := admin(k).RegisterParticipant(ctx, bankReq); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		_, err := h1.SetPolicy(ctx, &zkv1.SetPolicyRequest{Collection: "coldchain", Policy: &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{Consumer: "bank",
			Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT, zkv1.StatementKind_STATEMENT_KIND_EXISTS}}}}})
		if err == nil {
			break
		}
		if connect.CodeOf(err) != connect.CodeInvalidArgument || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	bank := zksharev1connect.NewHolderServiceClient(c.client, c.orgs[0].url, connect.WithInterceptors(client.Bearer(reg.GetToken())))
	nonce := make([]byte, 32)
	nonce[31] = 9
	pr, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: name, Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: "probe-a/1", Query: "max_temp <= 8.0", Nonce: nonce, Blind: nonce})
	if err != nil {
		t.Fatal(err)
	}
	for k := range 4 {
		// Each organisation checks against its own ledger (the audit
		// entry may still be on its way to some).
		v, err := zksharev1connect.NewVerifierServiceClient(c.client, c.orgs[k].url).Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), Nonce: nonce, Subject: "probe-a/1", Expect: &zkv1.Expectation{Blind: nonce}})
		if err != nil || !v.GetValid() || len(v.GetDevices()) != 2 {
			t.Fatalf("org1's bundle on org%d: %v %v", k+1, v, err)
		}
	}

	// The openings of readings relayed elsewhere still have to reach the
	// holder: the device sends the whole reading to the holder's node.
	t.Run("openings of readings attested through another organisation", func(t *testing.T) {
		r, err := c.submitReadings(ctx, 0, a2, b2, a3, b3)
		if err != nil {
			t.Errorf("the holder's node refused the openings of attested readings: %v (accepted %d)", err, r.GetAccepted())
		}
		ex := make([]byte, 32)
		ex[31] = 10
		if _, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: name, Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: "probe-a/2", Query: "max_temp <= 8.0", Nonce: ex, Blind: ex}); err != nil {
			t.Errorf("subject probe-a/2, relayed by org2: %v", err)
		}
	})
}
