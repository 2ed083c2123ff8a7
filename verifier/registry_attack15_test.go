package verifier_test

import (
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/verifier"
)

// vkBomb is a realVK verifying key whose [K]1 slice length prefix says
// 2^32-1 points: 460..700 bytes on the wire, far under MaxVKBytes, and
// gnark-crypto's decoder allocates make([]G1Affine, 2^32-1) (256 GiB)
// before it reads the first point.
func vkBomb(t *testing.T) []byte {
	t.Helper()
	dir := os.Getenv("ZKSHARE_TEST_KEYS")
	if dir == "" {
		dir = keyDir
	}
	b, err := os.ReadFile(filepath.Join(dir, "exists.vk"))
	if err != nil {
		t.Skipf("needs a verifying key to doctor: %v", err)
	}
	// [α]1 [β]1 [β]2 [γ]2 [δ]1 [δ]2 compressed: 32+32+64+64+32+64 = 288.
	b[288], b[289], b[290], b[291] = 0xff, 0xff, 0xff, 0xff
	return b
}

// handBundle is a well-formed (bundle.Check) exists bundle naming the
// given circuit version; nothing in it needs to be true.
func handBundle(id, vk []byte) *zkv1.Bundle {
	h := func(s string) []byte { x := sha256.Sum256([]byte(s)); return x[:] }
	return &zkv1.Bundle{Version: bundle.Version, Kind: bundle.KindExists, Circuit: zkv1.Circuit_CIRCUIT_EXISTS, Result: true,
		CollectionId: h("c"), QueryHash: h("q"), Root: h("r"), Nonce: h("n"), CircuitId: id, VkSha256: vk,
		Collection: "agency/c", Query: `x == 1`, Proof: []byte{1}}
}

// TestAttack15RegistryVKLengthBomb: a verifying key the registry carries is
// parsed by every verifier that meets a bundle naming its version. The
// ledger only checks its size (MaxVKBytes) and hash, so an admin (or an
// M-of-N proposal its approvers read as a hash) can register a 600-byte
// key whose slice length prefix makes gnark-crypto allocate 256 GiB; any
// anonymous caller of the public Verify then names that version in a
// hand-made bundle. Verify's recover() cannot catch the runtime's "out of
// memory" fatal error: the node dies. The same holds for a verifier CLI
// talking to a node (Remote): registryKey parses c.VK before it compares
// the hash, so the node (or whoever sits between) need not even register
// anything.
//
// The check runs in a child process so that the crash it finds does not
// take the test binary with it.
func TestAttack15RegistryVKLengthBomb(t *testing.T) {
	if os.Getenv("ATTACK15_CHILD") == "bomb" {
		attack15BombChild(t)
		return
	}
	bomb := vkBomb(t)
	if len(bomb) > ledger.MaxVKBytes || len(bomb) > keys.MaxVKSize {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAttack15RegistryVKLengthBomb$", "-test.short", "-test.v")
	cmd.Env = append(os.Environ(), "ATTACK15_CHILD=bomb")
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil || !strings.Contains(text, "ATTACK15 verdict:") {
		first := text
		if len(first) > 600 {
			first = first[:600]
		}
		t.Fatalf("a verifier meeting a registered 600-byte verifying key died (%v):\n%s", err, first)
	}
	t.Logf("child: %s", text)
}

func attack15BombChild(t *testing.T) {
	bomb := vkBomb(t)
	sum := sha256.Sum256(bomb)
	id := sha256.Sum256([]byte("exists circuit id"))

	// A development ledger whose admin registers the doctored key as a
	// version of "exists" (the ledger checks its size and its hash only).
	dir := t.TempDir()
	admin, _ := ledger.NewIdentity("admin")
	node, _ := ledger.NewIdentity("node")
	g := &ledger.Genesis{Development: true, Origin: "attack15.test/ledger", TimeUnixMs: time.Now().UnixMilli(), Participants: []ledger.Participant{
		{ID: admin.ID, Role: zkv1.Role_ROLE_ADMIN, Key: admin.Public()},
		{ID: node.ID, Role: zkv1.Role_ROLE_VALIDATOR, Key: node.Public()},
	}}
	if err := ledger.Init(dir, g); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(dir, node, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tx, err := ledger.NewTx(l.Chain(), admin, 1, time.Now(), ledger.RegisterCircuit(&zkv1.RegisterCircuit{
		CircuitId: id[:], Name: "exists", VkSha256: sum[:], Vk: bomb, Setup: zkv1.SetupKind_SETUP_KIND_DEV}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.SubmitTx(t.Context(), tx); err != nil {
		t.Fatalf("the ledger refused the doctored key (good): %v", err)
	}
	var ms runtime.MemStats
	v := verifier.New(nil).Verify(t.Context(), verifier.Local{L: l}, handBundle(id[:], sum[:]), verifier.Expect{}, verifier.Options{})
	runtime.ReadMemStats(&ms)
	t.Logf("ATTACK15 verdict: valid=%v failed=%v reason=%q (heap sys %d MiB)", v.Valid, v.Failed, v.Reason, ms.Sys>>20)
}

// liarView is a node that answers GetCircuit with whatever key it likes
// (verifier.Remote trusts the answer's VK bytes up to their hash).
type liarView struct{ vk []byte }

func (v liarView) Circuit(_ context.Context, id, vk []byte) (*verifier.Circuit, error) {
	return &verifier.Circuit{ID: id, Name: "exists", VKSHA256: vk, Setup: zkv1.SetupKind_SETUP_KIND_CEREMONY, Version: 2, VK: v.vk}, nil
}
func (liarView) Collection(context.Context, []byte) (*verifier.Collection, error) {
	return nil, verifier.ErrNotFound
}
func (liarView) AnchorBySequence(context.Context, []byte, uint64) (*verifier.Anchor, error) {
	return nil, verifier.ErrNotFound
}
func (liarView) OnLedger(context.Context, *zkv1.Bundle) (*verifier.Anchor, error) {
	return nil, verifier.ErrNotFound
}

// TestAttack15RemoteVKParsedBeforeHashCheck: registryKey parses the VK a
// view returns before checking that it hashes to the version's
// vk_sha256. A verifier CLI pointed at a hostile node (or a relayer on a
// plain-HTTP link) is killed by a bundle naming any unpinned version: the
// bomb need not hash to anything, nor be on any ledger.
func TestAttack15RemoteVKParsedBeforeHashCheck(t *testing.T) {
	if os.Getenv("ATTACK15_CHILD") == "remote" {
		bomb := vkBomb(t)
		id := sha256.Sum256([]byte("exists circuit id"))
		other := sha256.Sum256([]byte("not the bomb's hash"))
		v := verifier.New(nil).Verify(t.Context(), liarView{vk: bomb}, handBundle(id[:], other[:]), verifier.Expect{}, verifier.Options{})
		t.Logf("ATTACK15 verdict: valid=%v failed=%v reason=%q", v.Valid, v.Failed, v.Reason)
		return
	}
	vkBomb(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAttack15RemoteVKParsedBeforeHashCheck$", "-test.short", "-test.v")
	cmd.Env = append(os.Environ(), "ATTACK15_CHILD=remote")
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil || !strings.Contains(text, "ATTACK15 verdict:") {
		if len(text) > 400 {
			text = text[:400]
		}
		t.Fatalf("a verifier fed an unhashed key by its view died (%v):\n%s", err, text)
	}
	t.Logf("child: %s", text)
}

// fixedView answers every GetCircuit with c (its VKSHA256 set to what
// was asked unless c sets one).
type fixedView struct {
	liarView
	c verifier.Circuit
}

func (v fixedView) Circuit(_ context.Context, id, vk []byte) (*verifier.Circuit, error) {
	c := v.c
	c.ID = id
	if c.VKSHA256 == nil {
		c.VKSHA256 = vk
	}
	return &c, nil
}

// TestAttack15RegistryAnswersHeld: what a view says of a version that the
// verifier does hold against: a registry entry of another circuit's name,
// a retired version, a key that does not hash to the version, an entry for
// another verifying key, and a version with no key (not pinned) all fail
// before any proof is checked; none is VALID.
func TestAttack15RegistryAnswersHeld(t *testing.T) {
	dir := os.Getenv("ZKSHARE_TEST_KEYS")
	if dir == "" {
		dir = keyDir
	}
	realVK, err := os.ReadFile(filepath.Join(dir, "exists.vk"))
	if err != nil {
		t.Skip(err)
	}
	id := sha256.Sum256([]byte("exists id"))
	vk := sha256.Sum256([]byte("some version"))
	realSum := sha256.Sum256(realVK)
	for _, tc := range []struct {
		name string
		c    verifier.Circuit
		want verifier.Check
	}{
		{"another circuit's name", verifier.Circuit{Name: "subject", VK: realVK}, verifier.CheckRegistry},
		{"retired", verifier.Circuit{Name: "exists", RetiredAt: 7, VK: realVK}, verifier.CheckRegistry},
		{"key of another hash", verifier.Circuit{Name: "exists", VK: realVK}, verifier.CheckRegistry},
		{"entry of another vk", verifier.Circuit{Name: "exists", VKSHA256: realSum[:], VK: realVK}, verifier.CheckRegistry},
		{"no key, not pinned", verifier.Circuit{Name: "exists"}, verifier.CheckAnchor},
	} {
		v := verifier.New(nil).Verify(t.Context(), fixedView{c: tc.c}, handBundle(id[:], vk[:]), verifier.Expect{}, verifier.Options{})
		if v.Valid || v.Failed != tc.want {
			t.Errorf("%s: valid=%v failed=%v (%s), want failed %v", tc.name, v.Valid, v.Failed, v.Reason, tc.want)
		}
	}
	// The right key under the right hash gets past the registry (the
	// view then has no anchor for the hand-made bundle).
	v := verifier.New(nil).Verify(t.Context(), fixedView{c: verifier.Circuit{Name: "exists", VK: realVK}}, handBundle(id[:], realSum[:]), verifier.Expect{}, verifier.Options{})
	if v.Valid || v.Failed != verifier.CheckAnchor {
		t.Errorf("registry key: valid=%v failed=%v (%s)", v.Valid, v.Failed, v.Reason)
	}
}
