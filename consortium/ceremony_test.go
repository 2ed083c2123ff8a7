package consortium_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/ceremony"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/consortium"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/internal/logging"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
)

// TestConsortiumCeremony: four organisations on a production ledger (not
// marked for development) run the setup ceremony among themselves, each
// contributing to both phases with its admin's ledger identity and
// recording its receipt through its own node; the beacon is the ledger
// block fixed in advance. Their nodes, restarted with the finalized keys,
// register them (M-of-N), and a bundle of each statement kind made on
// org1 verifies on org4 with no development warning.
func TestConsortiumCeremony(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four CometBFT nodes and a ceremony")
	}
	ctx := t.Context()
	dir := t.TempDir()
	logging.QuietGnark(slog.New(slog.DiscardHandler))
	devKeys, cleanup, err := testkeys.Dir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	addrs, release := reserveAddrs(t, 4)
	m, err := consortium.Init(4, filepath.Join(dir, "c"), consortium.Options{Origin: "test.consortium/ledger"})
	release()
	if err != nil {
		t.Fatal(err)
	}
	c := &consortiumNet{t: t, keys: devKeys, client: client.HTTPClient()}
	for k, name := range m.Orgs {
		c.orgs = append(c.orgs, &org{dir: filepath.Join(dir, "c", name), addr: addrs[k], url: "http://" + addrs[k]})
	}
	t.Cleanup(func() {
		for k := range c.orgs {
			c.stop(k)
		}
	})
	startAll := func() {
		var wg sync.WaitGroup
		for k := range c.orgs {
			c.start(k)
		}
		for k := range c.orgs {
			wg.Go(func() { c.ready(k) })
		}
		wg.Wait()
	}
	// With development keys, the nodes serve the ledger but register nothing.
	startAll()
	ledgerOf := func(k int) *client.Client {
		cl, err := client.New(c.orgs[k].url)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	reg, err := ledgerOf(3).Circuits(ctx)
	if err != nil || reg.GetDevelopment() || len(reg.GetCircuits()) != 0 {
		t.Fatalf("a production ledger with development keys around: %v %v", reg, err)
	}

	// The plan: the core circuits, the four admins in order, and a beacon
	// block a few blocks past the contributions' (the ledger's height only
	// moves with transactions).
	admins := make([]*ledger.Identity, 4)
	var participants []ceremony.Participant
	for k := range admins {
		if admins[k], err = ledger.LoadIdentity(node.IdentityPath(c.orgs[k].dir, node.AdminID)); err != nil {
			t.Fatal(err)
		}
		participants = append(participants, ceremony.Participant{ID: admins[k].ID, PublicKey: hex.EncodeToString(admins[k].Public())})
	}
	height := func(k int) uint64 {
		cp, err := ledgerOf(k).Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return cp.GetHeight()
	}
	cp, err := ledgerOf(0).Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Opening takes three of four admins' proposals, then eight receipts:
	// at most eleven blocks.
	beacon := cp.GetHeight() + 16
	// The subject circuit: starting phase 2 costs about 35 s a core
	// circuit on 2 cores, so the others keep their development keys, which
	// this ledger never registers (the bench measures ceremony keys of all
	// three).
	circuits := []ceremony.Circuit{{Name: "subject"}}
	cerDir := filepath.Join(dir, "ceremony")
	cer, err := ceremony.Init(ctx, cerDir, ceremony.Plan{Circuits: circuits, Participants: participants, BeaconHeight: beacon, Origin: m.Origin, GenesisHash: hex.EncodeToString(cp.GetGenesisHash())})
	if err != nil {
		t.Fatal(err)
	}
	admin := func(k int) zksharev1connect.AdminServiceClient {
		return zksharev1connect.NewAdminServiceClient(c.client, c.orgs[k].url, connect.WithInterceptors(client.Bearer(c.token(k, node.AdminID))))
	}
	planBytes, err := os.ReadFile(filepath.Join(cerDir, "ceremony.json"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		st, err := admin(k).Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActOpenCeremony(planBytes)})
		if err != nil || st.GetStatus().GetApplied() != (k == 2) {
			t.Fatalf("org%d's approval of the ceremony: %v %v", k+1, st, err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := ledgerOf(0).Ceremony(ctx, cer.ID()); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the ceremony is not open on org1: %v", err)
		}
	}
	start := time.Now()
	for k := range 2 * len(admins) {
		o := k % len(admins)
		r, err := cer.Contribute(ctx, admins[o], nil)
		if err != nil {
			t.Fatalf("contribution %d by %s: %v", k+1, admins[o].ID, err)
		}
		if _, err := ledgerOf(o).RecordContribution(ctx, r); err != nil {
			t.Fatalf("recording contribution %d through org%d: %v", k+1, o+1, err)
		}
	}
	t.Logf("8 contributions over subject in %s", time.Since(start).Round(time.Millisecond))
	// A receipt relayed again, or one not signed by its contributor, is refused.
	last, err := cer.Contribute(ctx, admins[0], nil)
	if err == nil {
		t.Fatalf("a ninth contribution: %v", last)
	}

	// The beacon block comes after every contribution: other business
	// (here, org1's admin proposing consumers) moves the ledger on.
	for i := 0; height(3) < beacon; i++ {
		who, _ := ledger.NewIdentity(fmt.Sprintf("later%d", i))
		if _, err := admin(0).RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: who.ID, Role: zkv1.Role_ROLE_CONSUMER, PublicKey: who.Public()}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rec, err := ledgerOf(3).Ceremony(ctx, cer.ID())
	if err != nil || len(rec.GetContributions()) != 8 || len(rec.GetBeacon()) != 32 || rec.GetBeaconHeight() != beacon {
		t.Fatalf("org4's record of the ceremony: %v %v", rec, err)
	}
	for i, k := range rec.GetContributions() {
		if want := admins[i%4].ID; k.GetContributor() != want || k.GetHeight() >= beacon {
			t.Fatalf("contribution %d: %s at height %d, want %s before %d", i+1, k.GetContributor(), k.GetHeight(), want, beacon)
		}
	}
	keyDir := filepath.Join(dir, "ceremony-keys")
	fin, err := cer.Finalize(ctx, rec.GetBeacon(), beacon, keyDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Every participant attests the keys (each would run finalize itself:
	// the keys are the same for all), through its own node.
	for k, a := range admins {
		att, err := fin.Attestation(a)
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			_, err := ledgerOf(k).AttestCeremonyKeys(ctx, att)
			if err == nil {
				break
			}
			// org k may not have the previous attestation's block yet.
			if time.Now().After(deadline) {
				t.Fatalf("%s's attestation: %v", a.ID, err)
			}
		}
	}

	// Restarted with the ceremony's keys, the organisations register them.
	for k := range c.orgs {
		c.stop(k)
	}
	if err := testkeys.Merge(keyDir, devKeys, "absent", "exists"); err != nil {
		t.Fatal(err)
	}
	c.keys = keyDir
	startAll()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		reg, err = ledgerOf(3).Circuits(ctx)
		if err == nil && len(reg.GetCircuits()) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ceremony keys not registered: %v %v", reg, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	wantContributors := []string{"admin1", "admin2", "admin3", "admin4", "admin1", "admin2", "admin3", "admin4"}
	for _, e := range reg.GetCircuits() {
		if e.GetSetup() != zkv1.SetupKind_SETUP_KIND_CEREMONY || e.GetVersion() != 1 || !slices.Equal(e.GetContributors(), wantContributors) ||
			!bytes.Equal(e.GetCeremonyId(), cer.ID()) || len(e.GetVk()) == 0 {
			t.Fatalf("registry entry: %v", e)
		}
	}

	// A subject bundle made on org1 verifies on org4.
	bankKey, _ := ledger.NewIdentity("bank")
	bankReq := &zkv1.RegisterParticipantRequest{Id: "bank", Role: zkv1.Role_ROLE_CONSUMER, PublicKey: bankKey.Public()}
	var token string
	for k := range 3 {
		r, err := admin(k).RegisterParticipant(ctx, bankReq)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			token = r.GetToken()
		}
	}
	if _, err := c.collection(ctx, 0, "usage", 20); err != nil {
		t.Fatal(err)
	}
	kinds := []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT, zkv1.StatementKind_STATEMENT_KIND_EXISTS}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		_, err := c.holder(0).SetPolicy(ctx, &zkv1.SetPolicyRequest{Collection: "usage", Policy: &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{Consumer: "bank", Kinds: kinds}}}})
		if err == nil {
			break
		}
		if connect.CodeOf(err) != connect.CodeInvalidArgument || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	bank := zksharev1connect.NewHolderServiceClient(c.client, c.orgs[0].url, connect.WithInterceptors(client.Bearer(token)))
	verifier4 := zksharev1connect.NewVerifierServiceClient(c.client, c.orgs[3].url)
	// exists keeps development keys, which this ledger never registered:
	// org1 refuses to prove with them.
	if _, err := bank.Prove(ctx, &zkv1.ProveRequest{Collection: "usage", Kind: kinds[1], Query: "gb >= 40", Nonce: make([]byte, 32)}); connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "development setup") {
		t.Fatalf("an exists proof with unregistered development keys: %v", err)
	}
	for i, q := range []*zkv1.ProveRequest{
		{Kind: kinds[0], Subject: "cell-3", Query: "gb <= 100"},
	} {
		nonce := make([]byte, 32)
		nonce[31] = byte(7 + i)
		q.Collection, q.Nonce = "usage", nonce
		if q.Subject != "" {
			q.Blind = nonce
		}
		pr, err := bank.Prove(ctx, q)
		if err != nil {
			t.Fatalf("%v on org1: %v", q.GetKind(), err)
		}
		var v *zkv1.VerifyResponse
		// org4 may be a block behind org1.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
			v, err = verifier4.Verify(ctx, &zkv1.VerifyRequest{Bundle: pr.GetBundle(), Expect: &zkv1.Expectation{Kind: q.GetKind(), Subject: q.GetSubject(), Blind: q.GetBlind(), Nonce: nonce}})
			if err == nil && (v.GetValid() || v.GetFailed() != zkv1.Check_CHECK_ANCHOR) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || !v.GetValid() || len(v.GetCircuits()) != 1 || v.GetCircuits()[0].GetSetup() != zkv1.SetupKind_SETUP_KIND_CEREMONY {
			t.Fatalf("%v bundle from org1 on org4: %v %v", q.GetKind(), v, err)
		}
		for _, w := range v.GetWarnings() {
			if strings.Contains(w, "development") {
				t.Fatalf("%v: a development warning on ceremony keys: %s", q.GetKind(), w)
			}
		}
	}
}
