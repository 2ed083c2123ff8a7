// Package sensor is the device side of a reading: it encodes the values
// under the collection's schema, commits to them with a fresh salt exactly
// as the holder's tree does, and signs the commitment. The values and salt
// (the opening) go to the holder only; the attestation goes to the ledger.
package sensor

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/device"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/zkhash"
)

// Sensor is one device: its id, key and the schema of the collection its
// readings feed. Next is the counter of its next reading.
type Sensor struct {
	ID     string
	Key    *device.Key
	Schema *records.Schema
	Next   uint64
}

// New makes a sensor with a fresh key, starting at counter 1.
func New(id string, schema *records.Schema) (*Sensor, error) {
	if err := device.ValidID(id); err != nil {
		return nil, err
	}
	k, err := device.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Sensor{ID: id, Key: k, Schema: schema, Next: 1}, nil
}

// Read makes the sensor's next reading of values (in schema order, the
// key field left out) measured at at, and advances its counter.
func (s *Sensor) Read(values []string, at time.Time) (*zkv1.Reading, error) {
	r, err := Seal(s.Key, s.Schema, s.ID, s.Next, at, values)
	if err != nil {
		return nil, err
	}
	s.Next++
	return r, nil
}

// Seal commits to one reading with a fresh salt and signs the attestation.
func Seal(k *device.Key, schema *records.Schema, id string, counter uint64, at time.Time, values []string) (*zkv1.Reading, error) {
	rec := records.Record{Key: device.ReadingKey(id, counter), Values: values}
	kd, slots, err := schema.Encode(&rec)
	if err != nil {
		return nil, fmt.Errorf("reading %d of %s: %w", counter, id, err)
	}
	var salt fr.Element
	if _, err := salt.SetRandom(); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	leaf := zkhash.Leaf(schema.ID(), kd, salt, &slots)
	lb, sb := leaf.Bytes(), salt.Bytes()
	a := &zkv1.Attestation{DeviceId: id, Counter: counter, TimeUnixMs: at.UnixMilli(), Commitment: lb[:]}
	if err := k.Sign(a); err != nil {
		return nil, err
	}
	return &zkv1.Reading{Attestation: a, Values: values, Salt: sb[:]}, nil
}

// Consent is a device's signature over its registration in collection
// (its full name, HOLDER/NAME): the ledger refuses a registration without
// it, so no one registers another's sensor.
func Consent(k *device.Key, id, collection string, intervalMs uint64) ([]byte, error) {
	holder, _, ok := strings.Cut(collection, "/")
	if !ok {
		return nil, fmt.Errorf("collection %q: want its full name, HOLDER/NAME", collection)
	}
	cid := records.CollectionID(collection)
	b := cid.Bytes()
	return k.SignRegistration(id, b[:], holder, intervalMs)
}

// Registration is the request that registers the sensor in collection
// (its full name, HOLDER/NAME), with its consent; it reports every
// interval (0: not stated).
func (s *Sensor) Registration(collection, model, location string, interval time.Duration) (*zkv1.RegisterDeviceRequest, error) {
	ms := uint64(interval.Milliseconds())
	proof, err := Consent(s.Key, s.ID, collection, ms)
	if err != nil {
		return nil, err
	}
	return &zkv1.RegisterDeviceRequest{Id: s.ID, PublicKey: s.Key.Public(), Collection: collection, Model: model, Location: location, Proof: proof, ReportIntervalMs: ms}, nil
}
