package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/device"
	"github.com/zkshare/zkshare/device/sensor"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/records"
	"google.golang.org/protobuf/proto"
)

// cmdDeviceKeygen makes a device key. The private key is for the device
// alone (0600, never overwritten); the public key, printed, is what the
// holder registers.
func cmdDeviceKeygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("device keygen", stderr)
	out := f.String("out", "", "write the private key here (hex; created, never overwritten)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if *out == "" {
		return errors.New("device keygen: want --out FILE")
	}
	k, err := device.GenerateKey(nil)
	if err != nil {
		return err
	}
	fh, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("device keygen: %w (a key file is never overwritten)", err)
	}
	_, werr := fmt.Fprintf(fh, "%x\n", k.Bytes())
	if err := errors.Join(werr, fh.Close()); err != nil {
		return fmt.Errorf("device keygen: %w", err)
	}
	fprintf(stdout, "%x\n", k.Public())
	fprintf(stderr, "private key in %s (keep it on the device); register the public key above with `zkshare device register --key %s` or --public\n", *out, *out)
	return nil
}

// readDeviceKey reads a key file that keygen wrote.
func readDeviceKey(path string) (*device.Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: not a device key (hex, from `zkshare device keygen`)", path)
	}
	k, err := device.ParseKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// cmdDeviceRegister registers a device for one of the holder's device-fed
// collections, by its key file (only the public half leaves it) or its
// public key in hex.
func cmdDeviceRegister(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("device register", stderr)
	r := remoteFlags(f)
	id := f.String("id", "", "device id (1-64 of a-z 0-9 . _ -; ledger-wide, never reused)")
	keyFile := f.String("key", "", "the device's key file (from `device keygen`): its public key is registered")
	public := f.String("public", "", "the device's public key in hex (instead of --key; needs --proof)")
	proofHex := f.String("proof", "", "with --public: the device's consent in hex (`device consent` on the device)")
	interval := f.Duration("interval", 0, "how often the device reports, as it consented (0: not stated)")
	coll := f.String("collection", "", "the device-fed collection its readings feed")
	model := f.String("model", "", "what the device is (public)")
	location := f.String("location", "", "where it is (public)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || *id == "" || *coll == "" || (*keyFile == "") == (*public == "") {
		return errors.New("device register: want --server, --token (the holder's), --id, --collection and one of --key FILE or --public HEX")
	}
	pub, err := devicePublic(*keyFile, *public)
	if err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	// The device consents to its registration under the collection's
	// full name and holder: sign with its key, or take its signature.
	info, err := c.GetCollection(ctx, *coll)
	if err != nil {
		return err
	}
	proof, err := hex.DecodeString(strings.TrimSpace(*proofHex))
	if err != nil {
		return errors.New("--proof: want hex")
	}
	if *keyFile != "" {
		k, err := readDeviceKey(*keyFile)
		if err != nil {
			return fmt.Errorf("--key: %w", err)
		}
		if proof, err = sensor.Consent(k, *id, info.GetName(), uint64(interval.Milliseconds())); err != nil {
			return err
		}
	} else if len(proof) == 0 {
		return errors.New("device register: --public needs --proof, the device's consent (`zkshare device consent` where its key is)")
	}
	resp, err := c.RegisterDevice(ctx, &zkv1.RegisterDeviceRequest{Id: *id, PublicKey: pub, Collection: *coll, Model: *model, Location: *location, Proof: proof, ReportIntervalMs: uint64(interval.Milliseconds())})
	if err != nil {
		return err
	}
	fprintf(stdout, "device %s registered for %s (tx %x)\n", *id, *coll, resp.GetTxHash())
	return nil
}

// devicePublic is the public key of a key file, or of its hex.
func devicePublic(keyFile, public string) ([]byte, error) {
	if keyFile != "" {
		k, err := readDeviceKey(keyFile)
		if err != nil {
			return nil, fmt.Errorf("--key: %w", err)
		}
		return k.Public(), nil
	}
	pub, err := hex.DecodeString(strings.TrimSpace(public))
	if err != nil {
		return nil, errors.New("--public: want the device's public key in hex")
	}
	if _, err := device.ParsePublicKey(pub); err != nil {
		return nil, fmt.Errorf("--public: %w", err)
	}
	return pub, nil
}

func cmdDeviceRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("device revoke", stderr)
	r := remoteFlags(f)
	id := f.String("id", "", "device id")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || *id == "" {
		return errors.New("device revoke: want --server, --token (the holder's) and --id")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	resp, err := c.RevokeDevice(ctx, *id)
	if err != nil {
		return err
	}
	fprintf(stdout, "device %s revoked (tx %x); its readings so far stay attested\n", *id, resp.GetTxHash())
	return nil
}

// cmdDeviceList prints the ledger's devices with their counters: gaps are
// readings a device counted that never reached the ledger.
func cmdDeviceList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("device list", stderr)
	r := remoteFlags(f)
	coll := f.String("collection", "", "only this collection's devices (NAME of the node's holder or HOLDER/NAME)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() {
		return errors.New("device list: want --server")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	full, err := fullCollectionName(ctx, c, *coll)
	if err != nil {
		return err
	}
	ds, err := c.ListDevices(ctx, full)
	if err != nil {
		return err
	}
	return writeDevices(stdout, ds)
}

// fullCollectionName asks the node for a collection's HOLDER/NAME (it
// qualifies a short name with its holder); "" stays "".
func fullCollectionName(ctx context.Context, c *client.Client, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	info, err := c.GetCollection(ctx, name)
	if err != nil {
		return "", fmt.Errorf("--collection: %w", err)
	}
	return info.GetName(), nil
}

// writeDevices prints devices as a table.
func writeDevices(w io.Writer, ds []*zkv1.DeviceState) error {
	tw := newTable(w)
	fprintln(tw, "id\tcollection\tlast counter\treadings\tmissing\tgaps\trevoked")
	for _, d := range ds {
		fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%v\n", d.GetId(), d.GetCollection(), d.GetLastCounter(), d.GetReadings(), d.GetMissing(), gapList(d.GetGaps()), d.GetRevoked())
	}
	return tw.Flush()
}

// gapList writes counter ranges as "5, 9-11", or "-" for none.
func gapList(gs []*zkv1.CounterRange) string {
	if len(gs) == 0 {
		return "-"
	}
	var parts []string
	for _, g := range gs {
		if g.GetFirst() == g.GetLast() {
			parts = append(parts, fmt.Sprint(g.GetFirst()))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", g.GetFirst(), g.GetLast()))
		}
	}
	return strings.Join(parts, ", ")
}

// registerSensors makes a sensor with a fresh key for each id and
// registers it for the collection: the fleet of simulate and the demo.
func registerSensors(ctx context.Context, c *client.Client, coll string, sc *records.Schema, ids []string, model string, interval time.Duration) ([]*sensor.Sensor, error) {
	info, err := c.GetCollection(ctx, coll)
	if err != nil {
		return nil, err
	}
	fleet := make([]*sensor.Sensor, 0, len(ids))
	for i, id := range ids {
		s, err := sensor.New(id, sc)
		if err != nil {
			return nil, err
		}
		req, err := s.Registration(info.GetName(), model, fmt.Sprintf("truck %d", i+1), interval)
		if err != nil {
			return nil, err
		}
		_, err = c.RegisterDevice(ctx, req)
		if connect.CodeOf(err) == connect.CodeAlreadyExists {
			return nil, fmt.Errorf("%w (device ids are never reused: pick other ids)", err)
		}
		if err != nil {
			return nil, err
		}
		fleet = append(fleet, s)
	}
	return fleet, nil
}

// The ways a reading can be forged or reused, each of which the node must
// refuse: what simulate and the demo try.

// alteredOpening is r with one value changed after signing: the opening no
// longer opens the signed commitment.
func alteredOpening(r *zkv1.Reading, field int, value string) *zkv1.Reading {
	out := proto.CloneOf(r)
	out.Values[field] = value
	return out
}

// tamperedCommitment is a reading at s's next counter whose commitment was
// swapped after signing for one of other values (with their own valid
// opening): only the signature can tell.
func tamperedCommitment(s *sensor.Sensor, signed, swapped []string, at time.Time) (*zkv1.Reading, error) {
	r, err := sensor.Seal(s.Key, s.Schema, s.ID, s.Next, at, signed)
	if err != nil {
		return nil, err
	}
	t, err := sensor.Seal(s.Key, s.Schema, s.ID, s.Next, at, swapped)
	if err != nil {
		return nil, err
	}
	t.Attestation.Signature = r.GetAttestation().GetSignature()
	return t, nil
}

// forgedReading is a reading in s's name at counter, signed by a key that
// is not s's.
func forgedReading(s *sensor.Sensor, counter uint64, values []string, at time.Time) (*zkv1.Reading, error) {
	k, err := device.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	return sensor.Seal(k, s.Schema, s.ID, counter, at, values)
}

// refusal is a node's refusal as code and message (the node's messages
// name readings by place, device and counter, never their values).
func refusal(err error) (connect.Code, string) {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code(), ce.Message()
	}
	return connect.CodeUnknown, err.Error()
}

// cmdDeviceConsent prints a device's consent to its registration, for a
// holder that registers it by --public: the key never leaves the device.
func cmdDeviceConsent(_ context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("device consent", stderr)
	keyFile := f.String("key", "", "the device's key file (from `device keygen`)")
	id := f.String("id", "", "the device id it is registered under")
	coll := f.String("collection", "", "the collection's full name, HOLDER/NAME")
	interval := f.Duration("interval", 0, "how often the device reports (0: not stated)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if *keyFile == "" || *id == "" || *coll == "" {
		return errors.New("device consent: want --key, --id and --collection HOLDER/NAME")
	}
	k, err := readDeviceKey(*keyFile)
	if err != nil {
		return err
	}
	proof, err := sensor.Consent(k, *id, *coll, uint64(interval.Milliseconds()))
	if err != nil {
		return err
	}
	fprintf(stdout, "%x\n", proof)
	return nil
}

// cmdDeviceEndorse vouches for a device as the node's admin: a verdict
// names who vouches for each device, and warns of one vouched for by its
// holder alone.
func cmdDeviceEndorse(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("device endorse", stderr)
	r := remoteFlags(f)
	id := f.String("id", "", "device id")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || *id == "" {
		return errors.New("device endorse: want --server, --token (the admin's) and --id")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	resp, err := c.EndorseDevice(ctx, *id)
	if err != nil {
		return err
	}
	fprintf(stdout, "device %s endorsed (tx %x)\n", *id, resp.GetTxHash())
	return nil
}
