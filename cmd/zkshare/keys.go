package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
)

// cmdKeysShow prints a key directory's circuits: where each key came from
// (a development setup, or a ceremony with its transcript and
// contributors) and, with --server, the ledger's registry: every version
// of every circuit, which one these keys are, and which are retired.
func cmdKeysShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("keys show", stderr)
	dir := f.String("keys", envOr("ZKSHARE_KEYS", "keys.d"), "key directory")
	r := remoteFlags(f)
	asJSON := f.Bool("json", false, "print JSON: the manifest and, with --server, the registry")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	m, err := keys.ReadManifest(*dir)
	if err != nil && !r.on() {
		return err
	}
	var reg *zkv1.ListCircuitsResponse
	if r.on() {
		c, err := r.client()
		if err != nil {
			return err
		}
		if reg, err = c.Circuits(ctx); err != nil {
			return err
		}
	}
	if *asJSON {
		out := map[string]any{}
		if m != nil {
			out["keys"] = m
		}
		if reg != nil {
			out["registry"] = reg
		}
		return printJSON(stdout, out)
	}
	if m != nil {
		fprintf(stdout, "keys in %s:\n", *dir)
		for _, name := range keys.Names() {
			e, ok := m.Circuits[name]
			if !ok {
				continue
			}
			fprintf(stdout, "  %-20s %s keys, %d constraints, circuit %.16s…, verifying key %.16s…\n", name, e.Setup, e.Constraints, e.CircuitID, e.VKSHA256)
			if c := e.Ceremony; c != nil {
				fprintf(stdout, "  %-20s ceremony %.16s…, transcript %.16s…, beacon %s at height %d\n", "", c.ID, c.TranscriptHash, short(c.Beacon), c.BeaconHeight)
				fprintf(stdout, "  %-20s contributors: %s\n", "", strings.Join(c.Contributors, ", "))
			} else {
				fprintf(stdout, "  %-20s DEVELOPMENT: whoever ran this setup can forge proofs\n", "")
			}
		}
	}
	if reg == nil {
		return nil
	}
	mode := "production: ceremony keys only"
	if reg.GetDevelopment() {
		mode = "DEVELOPMENT: accepts single-party keys"
	}
	fprintf(stdout, "ledger registry (%s):\n", mode)
	for _, c := range reg.GetCircuits() {
		status := fmt.Sprintf("registered at %d", c.GetRegisteredHeight())
		if c.GetRetiredHeight() != 0 {
			status += fmt.Sprintf(", RETIRED at %d", c.GetRetiredHeight())
		}
		if m != nil {
			if e, ok := m.Circuits[c.GetName()]; ok && e.VKSHA256 == hex.EncodeToString(c.GetVkSha256()) {
				status += ", these keys"
			}
		}
		fprintf(stdout, "  %-20s v%d %s, verifying key %.16x…, %s\n", c.GetName(), c.GetVersion(),
			strings.ToLower(strings.TrimPrefix(c.GetSetup().String(), "SETUP_KIND_")), c.GetVkSha256(), status)
		if len(c.GetCeremonyId()) > 0 {
			fprintf(stdout, "  %-20s ceremony %.16x…, transcript %.16x…, contributors: %s\n", "", c.GetCeremonyId(), c.GetTranscriptHash(), strings.Join(c.GetContributors(), ", "))
		}
	}
	return nil
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	if h == "" {
		return "(none)"
	}
	return h
}

// retireAction is the retirement of the registered version whose
// verifying key's SHA-256 is vkHex.
func retireAction(ctx context.Context, r remote, vkHex string) (*zkv1.GovernanceAction, error) {
	vk, err := hex.DecodeString(strings.TrimSpace(vkHex))
	if err != nil || len(vk) != 32 {
		return nil, errors.New("--retire-circuit: want a verifying key's SHA-256 in hex (64 digits; `zkshare keys show --server URL` lists them)")
	}
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	reg, err := c.Circuits(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range reg.GetCircuits() {
		if hex.EncodeToString(e.GetVkSha256()) == hex.EncodeToString(vk) {
			return &zkv1.GovernanceAction{Action: &zkv1.GovernanceAction_RetireCircuit{RetireCircuit: &zkv1.RetireCircuit{CircuitId: e.GetCircuitId(), VkSha256: vk}}}, nil
		}
	}
	return nil, fmt.Errorf("--retire-circuit: no registered circuit has verifying key %x", vk)
}
