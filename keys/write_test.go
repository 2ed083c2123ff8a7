package keys_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/logger"
	"github.com/zkshare/zkshare/keys"
)

type square struct {
	X frontend.Variable
	Y frontend.Variable `gnark:",public"`
}

func (c *square) Define(api frontend.API) error {
	api.AssertIsEqual(api.Mul(c.X, c.X), c.Y)
	return nil
}

// TestWrite: Write stores a circuit's keys and its manifest entry (with a
// ceremony's record), next to the other circuits' entries, and the keys
// load back.
func TestWrite(t *testing.T) {
	logger.Disable()
	cs, id, err := keys.CompileCircuit(&square{})
	if err != nil {
		t.Fatal(err)
	}
	pk, vk, err := groth16.Setup(cs)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "keys")
	info := &keys.CeremonyInfo{ID: strings.Repeat("ab", 32), TranscriptHash: strings.Repeat("cd", 32), Contributors: []string{"org1", "org2", "org1", "org2"}, BeaconHeight: 7, Beacon: "beef"}
	if err := keys.Write(dir, "one", cs, id, pk, vk, keys.Entry{Setup: keys.SetupCeremony, Ceremony: info}); err != nil {
		t.Fatal(err)
	}
	if err := keys.Write(dir, "two", cs, id, pk, vk, keys.Entry{Setup: keys.SetupDev}); err != nil {
		t.Fatal(err)
	}
	m, err := keys.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	one, two := m.Circuits["one"], m.Circuits["two"]
	if one.CircuitID != id || one.Setup != keys.SetupCeremony || one.Ceremony == nil || one.Ceremony.BeaconHeight != 7 ||
		strings.Join(one.Ceremony.Contributors, ",") != "org1,org2,org1,org2" || one.Created.IsZero() || one.PublicInputs != 1 {
		t.Fatalf("entry one: %+v %+v", one, one.Ceremony)
	}
	if two.Setup != keys.SetupDev || two.Ceremony != nil || two.VKSHA256 != one.VKSHA256 {
		t.Fatalf("entry two: %+v", two)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if strings.Count(string(b), `"ceremony": {`) != 1 {
		t.Fatalf("manifest: a dev entry has a ceremony field:\n%s", b)
	}
	if _, _, err := keys.LoadVerifying(dir, "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadProving(dir, "two"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "../x", ".hidden", `a\b`} {
		if err := keys.Write(dir, bad, cs, id, pk, vk, keys.Entry{}); err == nil {
			t.Errorf("Write accepted the name %q", bad)
		}
	}
	// An unreadable manifest is never overwritten.
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("{"), 0o644)
	if err := keys.Write(dir, "three", cs, id, pk, vk, keys.Entry{}); err == nil {
		t.Fatal("Write replaced an unreadable manifest")
	}
}
