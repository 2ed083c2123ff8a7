package keys

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// Registration is the ledger registration of circuit name's keys in dir:
// ids, the verifying key itself, the setup kind and, for ceremony keys,
// the ceremony and transcript the ledger must hold.
func Registration(dir, name string) (*zkv1.RegisterCircuit, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	e, ok := m.Circuits[name]
	if !ok {
		return nil, fmt.Errorf("circuit %q: not in %s (want one of %s)", name, dir, strings.Join(Names(), ", "))
	}
	id, vkSum, err := e.Digests(name)
	if err != nil {
		return nil, err
	}
	vk, err := os.ReadFile(filepath.Join(dir, name+".vk"))
	if err != nil {
		return nil, err
	}
	_, sum, err := ParseVerifying(vk)
	if err != nil {
		return nil, fmt.Errorf("%s.vk: %w", name, err)
	}
	if sum != e.VKSHA256 {
		return nil, fmt.Errorf("%s.vk: SHA-256 %.16s… is not the manifest's %.16s…", name, sum, e.VKSHA256)
	}
	rc := &zkv1.RegisterCircuit{CircuitId: id, Name: name, VkSha256: vkSum, Vk: vk, Setup: zkv1.SetupKind_SETUP_KIND_DEV}
	if e.Setup == SetupCeremony {
		rc.Setup = zkv1.SetupKind_SETUP_KIND_CEREMONY
		if e.Ceremony == nil {
			return nil, fmt.Errorf("circuit %s: ceremony keys without their ceremony in the manifest", name)
		}
		if rc.CeremonyId, err = hex.DecodeString(e.Ceremony.ID); err != nil {
			return nil, fmt.Errorf("circuit %s: ceremony id: %w", name, err)
		}
		if rc.TranscriptHash, err = hex.DecodeString(e.Ceremony.TranscriptHash); err != nil {
			return nil, fmt.Errorf("circuit %s: transcript hash: %w", name, err)
		}
	}
	return rc, nil
}
