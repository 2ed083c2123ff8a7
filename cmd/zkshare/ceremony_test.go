package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/ceremony/ceremonytest"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
)

// toyCeremonyCircuits makes the ceremony commands use the small test
// circuits for the test's duration.
func toyCeremonyCircuits(t *testing.T) {
	saved := ceremonyCircuits
	ceremonyCircuits = ceremonytest.Circuits()
	t.Cleanup(func() { ceremonyCircuits = saved })
}

// ceremonyIdentities saves n identities (org1, ...) into dir.
func ceremonyIdentities(t *testing.T, dir string, n int) ([]*ledger.Identity, []string) {
	t.Helper()
	ids, err := ceremonytest.Identities(n)
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, n)
	for i, id := range ids {
		paths[i] = filepath.Join(dir, id.ID+".json")
		if err := id.Save(paths[i]); err != nil {
			t.Fatal(err)
		}
	}
	return ids, paths
}

// TestCeremonyCLI runs a three-organisation ceremony through the commands:
// init, six contributions, verify, finalize with a beacon given by hand,
// verify again, and a tampered final.json.
func TestCeremonyCLI(t *testing.T) {
	toyCeremonyCircuits(t)
	dir := t.TempDir()
	ids, idFiles := ceremonyIdentities(t, dir, 3)
	d, keyDir := filepath.Join(dir, "ceremony"), filepath.Join(dir, "keys")
	step := func(args ...string) (string, string) {
		t.Helper()
		out, errs, err := zk(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errs)
		}
		return out, errs
	}
	fails := func(want string, args ...string) {
		t.Helper()
		out, errs, err := zk(t, args...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: got %v, want an error saying %q\n%s%s", args, err, want, out, errs)
		}
	}

	out, _ := step("ceremony", "--help")
	for _, sub := range []string{"ceremony init", "ceremony contribute", "ceremony verify", "ceremony finalize"} {
		if !strings.Contains(out, sub) {
			t.Errorf("ceremony --help does not list %s:\n%s", sub, out)
		}
	}
	fails("unknown circuit", "ceremony", "init", "--dir", d, "--participants", idFiles[0], "--circuits", "toy,nope")
	fails("want ID:HEXPUBKEY", "ceremony", "init", "--dir", d, "--participants", "org1", "--circuits", "toy")
	org2 := ids[1].ID + ":" + hex.EncodeToString(ids[1].Public())
	out, _ = step("ceremony", "init", "--dir", d, "--participants", idFiles[0]+","+org2+","+idFiles[2], "--circuits", "toy,small")
	m := regexp.MustCompile(`(?m)^ceremony ([0-9a-f]{64})$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "phase 1: N=64") || !strings.Contains(out, "pass "+d+" to org1 first") || !strings.Contains(out, "006  phase 2  org3") {
		t.Fatalf("init:\n%s", out)
	}
	plan, _ := os.ReadFile(filepath.Join(d, "ceremony.json"))
	if sum := sha256.Sum256(plan); hex.EncodeToString(sum[:]) != m[1] {
		t.Fatalf("ceremony id %s is not the SHA-256 of ceremony.json", m[1])
	}
	fails("already holds a ceremony", "ceremony", "init", "--dir", d, "--participants", idFiles[0], "--circuits", "toy")

	fails("contribution 1 (org1, phase 1) is next, not org2", "ceremony", "contribute", "--dir", d, "--identity", idFiles[1])
	fails("contributions are missing", "ceremony", "finalize", "--dir", d, "--beacon", strings.Repeat("ab", 32), "--keys", keyDir)
	for k := 1; k <= 6; k++ {
		out, errs := step("ceremony", "contribute", "--dir", d, "--identity", idFiles[(k-1)%3])
		want := fmt.Sprintf("next: pass %s to %s", d, ids[k%3].ID)
		if k == 6 {
			want = "every contribution is made: run `zkshare ceremony finalize"
		}
		if !strings.Contains(out, fmt.Sprintf("contribution %d (%s, phase %d): made, receipt ", k, ids[(k-1)%3].ID, 1+(k-1)/3)) || !strings.Contains(out, want) {
			t.Fatalf("contribution %d:\n%s", k, out)
		}
		if !strings.Contains(errs, "contribute") {
			t.Fatalf("contribution %d: no progress on stderr:\n%s", k, errs)
		}
	}
	fails("every contribution is made", "ceremony", "contribute", "--dir", d, "--identity", idFiles[0])

	out, _ = step("ceremony", "verify", "--dir", d)
	if !strings.Contains(out, "contributions: 6 of 6") || !strings.Contains(out, "not finalized") || !strings.Contains(out, "ceremony "+m[1]) {
		t.Fatalf("verify:\n%s", out)
	}
	fails("give --beacon HEX", "ceremony", "finalize", "--dir", d, "--keys", keyDir)
	fails("--beacon-height goes with --server", "ceremony", "finalize", "--dir", d, "--keys", keyDir, "--beacon", strings.Repeat("ab", 32), "--beacon-height", "3")
	beacon := strings.Repeat("be", 32)
	out, _ = step("ceremony", "finalize", "--dir", d, "--beacon", beacon, "--keys", keyDir)
	mf, err := keys.ReadManifest(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"toy", "small"} {
		e := mf.Circuits[name]
		if !strings.Contains(out, name) || !strings.Contains(out, "vk_sha256="+e.VKSHA256) || e.Setup != keys.SetupCeremony || e.Ceremony == nil || e.Ceremony.Beacon != beacon || e.Ceremony.ID != m[1] {
			t.Fatalf("finalize: %s: %+v\n%s", name, e, out)
		}
	}
	out, _ = step("ceremony", "verify", "--dir", d)
	if !strings.Contains(out, "sealed with beacon "+beacon) {
		t.Fatalf("verify after finalize:\n%s", out)
	}

	// Another beacon in final.json: verify fails, naming the beacon.
	fp := filepath.Join(d, "final.json")
	b, _ := os.ReadFile(fp)
	os.WriteFile(fp, bytes.Replace(b, []byte(beacon), []byte(strings.Repeat("cd", 32)), 1), 0o644)
	fails("the beacon", "ceremony", "verify", "--dir", d)
	os.WriteFile(fp, b, 0o644)
	// A flipped byte in a state file: verify names the contribution.
	sf := filepath.Join(d, "contributions", "004", "phase2-toy.bin")
	s, _ := os.ReadFile(sf)
	s[200] ^= 1
	os.WriteFile(sf, s, 0o644)
	fails("contribution 4 (org1, phase 2)", "ceremony", "verify", "--dir", d)
}

// fakeLedger is a ledger's ceremony service: it records receipts in order,
// signed by known keys, until the beacon block, whose hash it then gives.
type fakeLedger struct {
	zksharev1connect.UnimplementedLedgerServiceHandler
	mu     sync.Mutex
	keys   map[string]ed25519.PublicKey
	height uint64
	rec    *zkv1.GetCeremonyResponse
}

func (f *fakeLedger) beacon(h uint64) []byte {
	s := sha256.Sum256(fmt.Appendf(nil, "block %d", h))
	return s[:]
}

func (f *fakeLedger) RecordContribution(_ context.Context, req *zkv1.RecordContributionRequest) (*zkv1.RecordContributionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := req.GetReceipt()
	if !ledger.VerifyReceipt(f.keys[r.GetContributor()], r) {
		return nil, connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("not signed by %s", r.GetContributor()))
	}
	if f.rec == nil {
		f.rec = &zkv1.GetCeremonyResponse{CeremonyId: r.GetCeremonyId(), BeaconHeight: r.GetBeaconHeight()}
	}
	prev := f.rec.GetCeremonyId()
	if n := len(f.rec.Contributions); n > 0 {
		prev = f.rec.Contributions[n-1].GetReceiptHash()
	}
	switch {
	case f.height >= f.rec.GetBeaconHeight():
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the beacon block %d exists", f.rec.GetBeaconHeight()))
	case int(r.GetIndex()) != len(f.rec.Contributions)+1 || !bytes.Equal(r.GetPrevious(), prev):
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("contribution %d out of order", r.GetIndex()))
	}
	f.height++
	f.rec.Contributions = append(f.rec.Contributions, &zkv1.GetCeremonyResponse_Contribution{Index: r.GetIndex(), Contributor: r.GetContributor(),
		ReceiptHash: ledger.ReceiptHash(r), StateHash: r.GetStateHash(), Height: f.height})
	return &zkv1.RecordContributionResponse{Height: f.height, TxHash: ledger.ReceiptHash(r)}, nil
}

func (f *fakeLedger) GetCeremony(_ context.Context, req *zkv1.GetCeremonyRequest) (*zkv1.GetCeremonyResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rec == nil || !bytes.Equal(req.GetCeremonyId(), f.rec.GetCeremonyId()) {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("ceremony %x has no contributions on the ledger", req.GetCeremonyId()))
	}
	out := &zkv1.GetCeremonyResponse{CeremonyId: f.rec.CeremonyId, BeaconHeight: f.rec.BeaconHeight, Contributions: f.rec.Contributions}
	if f.height >= f.rec.GetBeaconHeight() {
		out.Beacon = f.beacon(f.rec.GetBeaconHeight())
	}
	return out, nil
}

// TestCeremonyCLIServer runs a ceremony whose receipts go to a ledger and
// whose beacon comes from it.
func TestCeremonyCLIServer(t *testing.T) {
	toyCeremonyCircuits(t)
	dir := t.TempDir()
	ids, idFiles := ceremonyIdentities(t, dir, 2)
	fake := &fakeLedger{keys: map[string]ed25519.PublicKey{}}
	for _, id := range ids {
		fake.keys[id.ID] = id.Public()
	}
	mux := http.NewServeMux()
	mux.Handle(zksharev1connect.NewLedgerServiceHandler(fake))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true) // the client speaks HTTP/2 without TLS
	srv.Start()
	t.Cleanup(srv.Close)
	d, keyDir := filepath.Join(dir, "ceremony"), filepath.Join(dir, "keys")
	step := func(args ...string) string {
		t.Helper()
		out, errs, err := zk(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errs)
		}
		return out
	}
	fails := func(want string, args ...string) {
		t.Helper()
		out, errs, err := zk(t, args...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: got %v, want an error saying %q\n%s%s", args, err, want, out, errs)
		}
	}

	noHeight := filepath.Join(dir, "no-height")
	step("ceremony", "init", "--dir", noHeight, "--participants", strings.Join(idFiles, ","), "--circuits", "small")
	fails("fixes no beacon height", "ceremony", "contribute", "--dir", noHeight, "--identity", idFiles[0], "--server", srv.URL)

	step("ceremony", "init", "--dir", d, "--participants", strings.Join(idFiles, ","), "--circuits", "toy,small", "--beacon-height", "10")
	if out := step("ceremony", "contribute", "--dir", d, "--identity", idFiles[0], "--server", srv.URL); !strings.Contains(out, "recorded on the ledger at height 1") {
		t.Fatalf("contribute 1:\n%s", out)
	}
	step("ceremony", "contribute", "--dir", d, "--identity", idFiles[1]) // not relayed
	out := step("ceremony", "verify", "--dir", d, "--server", srv.URL)
	if !strings.Contains(out, "the ledger records 1 of these 2 contributions") {
		t.Fatalf("verify with one of two recorded:\n%s", out)
	}
	out = step("ceremony", "contribute", "--dir", d, "--identity", idFiles[0], "--server", srv.URL)
	if !strings.Contains(out, "relayed contribution 2 (org2)") || !strings.Contains(out, "recorded on the ledger at height 3") {
		t.Fatalf("contribute 3, relaying 2:\n%s", out)
	}
	step("ceremony", "contribute", "--dir", d, "--identity", idFiles[1], "--server", srv.URL)
	fails("fixes beacon height 10", "ceremony", "finalize", "--dir", d, "--beacon", strings.Repeat("ab", 32), "--keys", keyDir)
	fails("block 10 does not exist yet", "ceremony", "finalize", "--dir", d, "--server", srv.URL, "--beacon-height", "10", "--keys", keyDir)
	fails("the plan fixes 10", "ceremony", "finalize", "--dir", d, "--server", srv.URL, "--beacon-height", "11", "--keys", keyDir)
	fake.mu.Lock()
	fake.height = 12
	fake.mu.Unlock()
	step("ceremony", "finalize", "--dir", d, "--server", srv.URL, "--beacon-height", "10", "--keys", keyDir)
	out = step("ceremony", "verify", "--dir", d, "--server", srv.URL)
	if !strings.Contains(out, "the ledger records 4 of these 4") || !strings.Contains(out, "the beacon is the hash of ledger block 10") {
		t.Fatalf("verify after finalize:\n%s", out)
	}
	var f struct {
		Beacon       string `json:"beacon"`
		BeaconHeight uint64 `json:"beacon_height"`
	}
	b, _ := os.ReadFile(filepath.Join(d, "final.json"))
	if err := json.Unmarshal(b, &f); err != nil || f.Beacon != hex.EncodeToString(fake.beacon(10)) || f.BeaconHeight != 10 {
		t.Fatalf("final.json: %+v %v", f, err)
	}

	// A ledger whose record differs from the directory's is reported.
	fake.mu.Lock()
	fake.rec.Contributions[1].ReceiptHash = bytes.Repeat([]byte{1}, 32)
	fake.mu.Unlock()
	fails("contribution 2: the ledger records receipt 0101", "ceremony", "verify", "--dir", d, "--server", srv.URL)
}
