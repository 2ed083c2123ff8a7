// Package keys makes, stores and loads the Groth16 keys of zkshare's
// circuits. A key directory holds, per circuit, the compiled constraint
// system, the proving key (gnark's raw dump: fast to load from a trusted
// directory), the verifying key, and a manifest recording the circuit id
// (SHA-256 of the compiled constraint system), gnark's version, the curve
// and the verifying key's SHA-256.
package keys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/consensys/gnark"
	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/zkshare/zkshare/circuits"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// Circuits maps circuit names to their empty (shape-only) definitions.
var Circuits = map[string]func() frontend.Circuit{
	"subject": func() frontend.Circuit { return &circuits.Subject{} },
	"exists":  func() frontend.Circuit { return &circuits.Exists{} },
	"absent":  func() frontend.Circuit { return &circuits.Absent{} },
	// Aggregates: one proof per chunk, then one that combines the chunks.
	"aggregate":           func() frontend.Circuit { return circuits.NewAggregate(circuits.AggChunkRows, circuits.AggChunkInners) },
	"aggregate-total":     func() frontend.Circuit { return circuits.NewAggregateTotal(circuits.AggMaxChunks) },
	"aggregate-threshold": func() frontend.Circuit { return circuits.NewAggregateThreshold(circuits.AggMaxChunks) },
}

// Core are the circuits every node needs; Aggregates are set up on request
// (`keys setup --aggregate`): their setup takes most of a minute.
var (
	Core       = []string{"absent", "exists", "subject"}
	Aggregates = []string{"aggregate", "aggregate-threshold", "aggregate-total"}
)

// Present lists the circuits a key directory has keys for, in a stable order.
func Present(dir string) ([]string, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range Names() {
		if _, ok := m.Circuits[name]; ok && filesPresent(dir, name) {
			out = append(out, name)
		}
	}
	for _, name := range Core {
		if !slices.Contains(out, name) {
			return nil, fmt.Errorf("no keys for circuit %s in %s: run `zkshare keys setup --keys %s`", name, dir, dir)
		}
	}
	return out, nil
}

// Names lists the circuits in a stable order.
func Names() []string {
	n := make([]string, 0, len(Circuits))
	for k := range Circuits {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// SetupKind says where a key came from.
const (
	SetupDev      = "dev"      // single-party groth16.Setup: toxic waste existed on one machine
	SetupCeremony = "ceremony" // multi-party computation
)

// Entry is one circuit's manifest entry.
type Entry struct {
	CircuitID    string    `json:"circuit_id"`
	GnarkVersion string    `json:"gnark_version"`
	Curve        string    `json:"curve"`
	Constraints  int       `json:"constraints"`
	PublicInputs int       `json:"public_inputs"`
	VKSHA256     string    `json:"vk_sha256"`
	Setup        string    `json:"setup"`
	Created      time.Time `json:"created"`
	// Ceremony names the ceremony that made keys whose Setup is
	// SetupCeremony (nil for development keys).
	Ceremony *CeremonyInfo `json:"ceremony,omitempty"`
}

// CeremonyInfo is where ceremony keys came from: the ceremony (SHA-256 of
// its plan), its transcript (the hash of its last contribution's receipt,
// as the ledger records it), who contributed in order (each organisation
// once per phase), and the public beacon that sealed it.
type CeremonyInfo struct {
	ID             string   `json:"id"`              // hex
	TranscriptHash string   `json:"transcript_hash"` // hex
	Contributors   []string `json:"contributors"`
	BeaconHeight   uint64   `json:"beacon_height,omitempty"`
	Beacon         string   `json:"beacon"` // hex
}

// Manifest lists a key directory's circuits.
type Manifest struct {
	Circuits map[string]Entry `json:"circuits"`
}

const manifestFile = "manifest.json"

// ReadManifest reads a key directory's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no keys in %s: run `zkshare keys setup --keys %s` first", dir, dir)
		}
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", manifestFile, err)
	}
	return &m, nil
}

// Compile compiles a circuit and returns it with its id.
func Compile(name string) (constraint.ConstraintSystem, string, error) {
	mk, ok := Circuits[name]
	if !ok {
		return nil, "", fmt.Errorf("unknown circuit %q", name)
	}
	cs, id, err := CompileCircuit(mk())
	if err != nil {
		return nil, "", fmt.Errorf("compile %s: %w", name, err)
	}
	return cs, id, nil
}

// CompileCircuit compiles a circuit definition to BN254 R1CS and returns it
// with its id (hex SHA-256 of the compiled form): Compile for circuits that
// are not in Circuits (a ceremony's tests use small ones).
func CompileCircuit(c frontend.Circuit) (constraint.ConstraintSystem, string, error) {
	cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, c)
	if err != nil {
		return nil, "", err
	}
	h := sha256.New()
	if _, err := cs.WriteTo(h); err != nil {
		return nil, "", err
	}
	return cs, hex.EncodeToString(h.Sum(nil)), nil
}

// Progress reports setup steps.
type Progress func(circuit, step string)

// Setup makes keys for the named circuits (default: Core) whose compiled
// form changed (or that have none) and leaves the others alone. It uses the
// single-party setup and says so: such keys are for development only.
func Setup(ctx context.Context, dir string, log *slog.Logger, progress Progress, names ...string) (*Manifest, error) {
	if len(names) == 0 {
		names = Core
	}
	if progress == nil {
		progress = func(string, string) {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Keys are public material: other users verify with the .vk files.
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: see above
		return nil, err
	}
	m, err := ReadManifest(dir)
	if err != nil {
		m = &Manifest{Circuits: map[string]Entry{}}
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		progress(name, "compile")
		cs, id, err := Compile(name)
		if err != nil {
			return nil, err
		}
		if e, ok := m.Circuits[name]; ok && e.CircuitID == id && filesPresent(dir, name) {
			log.InfoContext(ctx, "keys up to date", "circuit", name, "circuit_id", id[:16])
			progress(name, "up to date")
			continue
		}
		log.WarnContext(ctx, "DEVELOPMENT SETUP: single-party Groth16 keys; whoever ran this could forge proofs. Use ceremony keys in production.", "circuit", name)
		progress(name, "setup (dev, single-party)")
		pk, vk, err := groth16.Setup(cs)
		if err != nil {
			return nil, fmt.Errorf("setup %s: %w", name, err)
		}
		progress(name, "write")
		e := Entry{Setup: SetupDev, Created: time.Now().UTC()}
		if err := write(dir, name, cs, id, pk, vk, e, m); err != nil {
			return nil, err
		}
		progress(name, "done")
	}
	return m, nil
}

// Write stores one circuit's keys in dir: its verifying key, proving key
// (gnark's raw dump), constraint system, and its manifest entry, e with the
// fields that follow from the keys filled in (circuit id, gnark version,
// curve, sizes, the verifying key's SHA-256; Created if zero). Each file is
// written atomically, the manifest last, so the manifest never names keys
// that are not all there. Setup uses it for development keys, the
// ceremony package for ceremony keys (e.Setup SetupCeremony, e.Ceremony
// set).
func Write(dir, name string, cs constraint.ConstraintSystem, circuitID string, pk groth16.ProvingKey, vk groth16.VerifyingKey, e Entry) error {
	if name == "" || strings.ContainsAny(name, `/\`) || name[0] == '.' {
		return fmt.Errorf("keys: circuit name %q: want a plain file name", name)
	}
	// Keys are public material: other users verify with the .vk files.
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: see above
		return err
	}
	m, err := ReadManifest(dir)
	if err != nil {
		if _, serr := os.Stat(filepath.Join(dir, manifestFile)); serr == nil {
			return err // a manifest we cannot read: never overwrite it
		}
		m = &Manifest{}
	}
	return write(dir, name, cs, circuitID, pk, vk, e, m)
}

// write is Write with the manifest m already read; it updates m.
func write(dir, name string, cs constraint.ConstraintSystem, circuitID string, pk groth16.ProvingKey, vk groth16.VerifyingKey, e Entry, m *Manifest) error {
	var vkBuf bytes.Buffer
	if _, err := vk.WriteTo(&vkBuf); err != nil {
		return err
	}
	sum := sha256.Sum256(vkBuf.Bytes())
	if err := writeFile(filepath.Join(dir, name+".vk"), func(w io.Writer) error { _, err := w.Write(vkBuf.Bytes()); return err }); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, name+".pk"), func(w io.Writer) error {
		d, ok := pk.(dumper)
		if !ok {
			return fmt.Errorf("%T cannot WriteDump", pk)
		}
		return d.WriteDump(w)
	}); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, name+".ccs"), func(w io.Writer) error { _, err := cs.WriteTo(w); return err }); err != nil {
		return err
	}
	e.CircuitID, e.GnarkVersion, e.Curve = circuitID, gnark.Version.String(), ecc.BN254.String()
	e.Constraints, e.PublicInputs = cs.GetNbConstraints(), cs.GetNbPublicVariables()-1
	e.VKSHA256 = hex.EncodeToString(sum[:])
	if e.Created.IsZero() {
		e.Created = time.Now().UTC()
	}
	if m.Circuits == nil {
		m.Circuits = map[string]Entry{}
	}
	m.Circuits[name] = e
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, manifestFile), func(w io.Writer) error { _, err := w.Write(b); return err })
}

func filesPresent(dir, name string) bool {
	for _, ext := range []string{".pk", ".vk", ".ccs"} {
		if _, err := os.Stat(filepath.Join(dir, name+ext)); err != nil {
			return false
		}
	}
	return true
}

// dumper is the fast, unchecked encoding of gnark's BN254 proving keys, for
// keys from our own key directory only.
type dumper interface {
	WriteDump(io.Writer) error
	ReadDump(io.Reader) error
}

// writeFile writes atomically: a temporary file, synced, then renamed.
func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			err = errors.Join(err, os.Remove(f.Name()))
		}
	}()
	if err := write(f); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", path, err), f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	renamed = true
	return nil
}

// Proving is what a prover needs for one circuit.
type Proving struct {
	Name    string
	Circuit zkv1.Circuit
	Entry   Entry
	// CircuitID and VKSHA256 are the entry's, decoded (32 bytes each).
	CircuitID, VKSHA256 []byte
	CS                  constraint.ConstraintSystem
	PK                  groth16.ProvingKey
}

// LoadProving loads a circuit's constraint system and proving key from a
// trusted key directory with gnark's unchecked raw readers, after checking
// that the circuit compiled today is the one the keys were made for.
func LoadProving(dir, name string) (*Proving, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	e, ok := m.Circuits[name]
	if !ok {
		return nil, fmt.Errorf("no %s keys in %s: run `zkshare keys setup`", name, dir)
	}
	id, vk, err := e.Digests(name)
	if err != nil {
		return nil, err
	}
	cs := groth16.NewCS(ecc.BN254)
	if err := readFile(filepath.Join(dir, name+".ccs"), func(r io.Reader) error { _, err := cs.ReadFrom(r); return err }); err != nil {
		return nil, err
	}
	pk := groth16.NewProvingKey(ecc.BN254)
	if err := readFile(filepath.Join(dir, name+".pk"), func(r io.Reader) error {
		d, ok := pk.(dumper)
		if !ok {
			return fmt.Errorf("%T cannot ReadDump", pk)
		}
		return d.ReadDump(r)
	}); err != nil {
		return nil, err
	}
	return &Proving{Name: name, Circuit: CircuitOf(name), Entry: e, CircuitID: id, VKSHA256: vk, CS: cs, PK: pk}, nil
}

// CheckCurrent reports an error if the keys in dir were made for circuits
// other than the ones compiled now.
func CheckCurrent(dir string) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	present, err := Present(dir)
	if err != nil {
		return err
	}
	for _, name := range present {
		_, id, err := Compile(name)
		if err != nil {
			return err
		}
		if m.Circuits[name].CircuitID != id {
			return fmt.Errorf("keys in %s are for another version of circuit %s: run `zkshare keys setup --keys %s`", dir, name, dir)
		}
	}
	return nil
}

// MaxVKSize bounds a verifying key read from anywhere.
const MaxVKSize = 1 << 20

// ParseVerifying decodes a verifying key with gnark's checked reader and
// returns it with its SHA-256.
func ParseVerifying(b []byte) (groth16.VerifyingKey, string, error) {
	if len(b) > MaxVKSize {
		return nil, "", fmt.Errorf("verifying key: %d bytes, limit %d", len(b), MaxVKSize)
	}
	if err := checkVKLayout(b); err != nil {
		return nil, "", err
	}
	vk := groth16.NewVerifyingKey(ecc.BN254)
	if err := readVK(vk, b); err != nil {
		return nil, "", fmt.Errorf("verifying key: %w", err)
	}
	sum := sha256.Sum256(b)
	return vk, hex.EncodeToString(sum[:]), nil
}

// readVK decodes b whole into vk; gnark's decoder panics on some hostile
// input, which is an error here.
func readVK(vk groth16.VerifyingKey, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed: %v", r)
		}
	}()
	n, err := vk.ReadFrom(bytes.NewReader(b))
	if err == nil && n != int64(len(b)) {
		err = fmt.Errorf("%d bytes after the key", int64(len(b))-n)
	}
	return err
}

// LoadVerifying reads a circuit's verifying key and checks it against the
// manifest's hash.
func LoadVerifying(dir, name string) (groth16.VerifyingKey, Entry, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, Entry{}, err
	}
	e, ok := m.Circuits[name]
	if !ok {
		return nil, e, fmt.Errorf("no %s keys in %s", name, dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".vk"))
	if err != nil {
		return nil, e, err
	}
	vk, sum, err := ParseVerifying(b)
	if err != nil {
		return nil, e, err
	}
	if sum != e.VKSHA256 {
		return nil, e, fmt.Errorf("%s.vk: SHA-256 %s does not match the manifest's %s", name, sum[:16], e.VKSHA256[:16])
	}
	return vk, e, nil
}

func readFile(path string, read func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := read(bufioReader(f)); err != nil {
		return errors.Join(fmt.Errorf("read %s: %w", path, err), f.Close())
	}
	return f.Close()
}
