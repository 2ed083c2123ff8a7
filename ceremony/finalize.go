package ceremony

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
)

// Beacon length limits: a beacon is a public value no contributor could
// know, such as a ledger block's hash.
const (
	MinBeacon = 16
	MaxBeacon = 1024
)

// Final is final.json: how the ceremony was sealed, and the hashes of the
// verifying keys that gives. Anyone can re-derive the keys from the
// transcript and the beacon (gnark's Seal is deterministic); Verify does.
type Final struct {
	Format         int            `json:"format"`
	CeremonyID     string         `json:"ceremony_id"`
	TranscriptHash string         `json:"transcript_hash"` // the last receipt's hash
	Contributors   []string       `json:"contributors"`    // in contribution order
	Beacon         string         `json:"beacon"`          // hex
	BeaconHeight   uint64         `json:"beacon_height"`   // 0: the beacon was given by hand
	Circuits       []FinalCircuit `json:"circuits"`
}

// FinalCircuit is one circuit's keys.
type FinalCircuit struct {
	Name      string `json:"name"`
	CircuitID string `json:"circuit_id"`
	VKSHA256  string `json:"vk_sha256"`
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// final is the final.json of a walked, complete ceremony, with no
// verifying key hashes yet.
func (c *Ceremony) final(w *walked, beacon []byte, height uint64) *Final {
	f := &Final{Format: FormatVersion, CeremonyID: hex.EncodeToString(c.id), TranscriptHash: hex.EncodeToString(w.lastReceipt),
		Beacon: hex.EncodeToString(beacon), BeaconHeight: height}
	for _, r := range w.receipts {
		f.Contributors = append(f.Contributors, r.GetContributor())
	}
	for _, pc := range c.plan.Circuits {
		f.Circuits = append(f.Circuits, FinalCircuit{Name: pc.Name, CircuitID: pc.CircuitID})
	}
	return f
}

// readFinal reads final.json (nil if there is none).
func (c *Ceremony) readFinal() (*Final, error) {
	b, err := readLimited(filepath.Join(c.dir, finalFile), maxJSONSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f Final
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", finalFile, err)
	}
	return &f, nil
}

// Finalize verifies the whole ceremony, seals each circuit's phase 2 with
// the beacon, writes the keys into keysDir (keys.Write: Setup
// SetupCeremony, with the ceremony's CeremonyInfo) and records final.json.
// beaconHeight must be the plan's: the ledger block whose hash beacon is
// (0 when the plan fixes none and the beacon is given by hand). Run again
// with the same beacon, it writes byte-identical keys (to another
// directory, say); with another, it fails.
func (c *Ceremony) Finalize(ctx context.Context, beacon []byte, beaconHeight uint64, keysDir string, progress Progress) (*Final, error) {
	switch {
	case len(beacon) < MinBeacon || len(beacon) > MaxBeacon:
		return nil, fmt.Errorf("finalize: a beacon of %d bytes: want %d to %d (a public value no contributor could know, such as a block hash)", len(beacon), MinBeacon, MaxBeacon)
	case c.plan.BeaconHeight != 0 && beaconHeight != c.plan.BeaconHeight:
		return nil, fmt.Errorf("finalize: the plan fixes the beacon to the hash of ledger block %d, not %d", c.plan.BeaconHeight, beaconHeight)
	case c.plan.BeaconHeight == 0 && beaconHeight != 0:
		return nil, fmt.Errorf("finalize: the plan fixes no beacon height, so the beacon is given by hand: beacon height %d makes no sense", beaconHeight)
	}
	next, done, err := c.Next()
	if err != nil {
		return nil, err
	}
	if !done {
		return nil, fmt.Errorf("finalize: %w: %d of %d made; %s is next", ErrIncomplete, next.Index-1, c.plan.Contributions(), next)
	}
	existing, err := c.readFinal()
	if err != nil {
		return nil, err
	}
	if existing != nil && existing.Beacon != hex.EncodeToString(beacon) {
		return nil, fmt.Errorf("finalize: already finalized with beacon %s (%s)", existing.Beacon, finalFile)
	}
	w, err := c.walk(ctx, 1, progress)
	if err != nil {
		return nil, err
	}
	f := c.final(w, beacon, beaconHeight)
	info := &keys.CeremonyInfo{ID: f.CeremonyID, TranscriptHash: f.TranscriptHash, Contributors: f.Contributors, BeaconHeight: beaconHeight, Beacon: f.Beacon}
	for i, cst := range w.start.circuits {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := cst.circuit.Name
		if err := runStep(progress, name+": seal with the beacon, write keys", func() error {
			pk, vk, vkb, err := seal(cst, w.p2bytes[i], beacon)
			if err != nil {
				return err
			}
			f.Circuits[i].VKSHA256 = sha256Hex(vkb)
			return keys.Write(keysDir, name, cst.r1cs, cst.circuit.CircuitID, pk, vk, keys.Entry{Setup: keys.SetupCeremony, Ceremony: info})
		}); err != nil {
			return nil, fmt.Errorf("finalize %s: %w", name, err)
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if eb, err := json.MarshalIndent(existing, "", "  "); err != nil || !bytes.Equal(eb, b) {
			return nil, fmt.Errorf("finalize: %s differs from what the transcript and its beacon give: it was altered (Verify says how)", finalFile)
		}
		return f, nil
	}
	if err := createFile(filepath.Join(c.dir, finalFile), append(b, '\n')); err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	return f, nil
}

// Attestation is id's signed word that the ceremony sealed with f's beacon
// gives f's keys: what a participant records (ledger.AttestCeremonyKeysTx)
// after running Finalize itself, so that the ledger registers these keys,
// and no others, as the ceremony's once every participant has attested.
func (f *Final) Attestation(id *ledger.Identity) (*zkv1.KeysAttestation, error) {
	cid, err1 := hex.DecodeString(f.CeremonyID)
	transcript, err2 := hex.DecodeString(f.TranscriptHash)
	beacon, err3 := hex.DecodeString(f.Beacon)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("final.json: %w", err)
	}
	a := &zkv1.KeysAttestation{CeremonyId: cid, TranscriptHash: transcript, Beacon: beacon}
	for _, fc := range f.Circuits {
		id, err1 := hex.DecodeString(fc.CircuitID)
		vk, err2 := hex.DecodeString(fc.VKSHA256)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("final.json: circuit %s: %w", fc.Name, err)
		}
		a.Keys = append(a.Keys, &zkv1.CeremonyKey{Name: fc.Name, CircuitId: id, VkSha256: vk})
	}
	ledger.SignAttestation(id, a)
	return a, nil
}
