// Package device is what a sensor does to be believed: its key (EdDSA over
// BN254's twisted Edwards curve, so that a circuit can check it later), the
// record key of its reading, and the attestation it signs over the reading's
// leaf commitment. The ledger checks attestations with it; it imports no
// circuit and no schema, only the native hashing.
package device

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards/eddsa"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/zkhash"
)

// Sizes of a device's public key and signature.
const (
	PublicKeySize  = 32
	SignatureSize  = 64
	privateKeySize = 96
)

// Sentinel errors.
var (
	// ErrBadKey: the bytes are not a device public key (a compressed point
	// of the curve's prime-order subgroup).
	ErrBadKey = errors.New("bad device public key")
	// ErrBadSignature: the signature is not the device's over this attestation.
	ErrBadSignature = errors.New("bad device signature")
	// ErrMalformed: an attestation field is out of shape.
	ErrMalformed = errors.New("malformed attestation")
)

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidID checks a device id: 1-64 of a-z 0-9 . _ -, starting with a letter or digit.
func ValidID(id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("device id %q: use 1-64 of a-z 0-9 . _ -", id)
	}
	return nil
}

// ReadingKey is the record key of a device's reading: the device id, a
// slash, the counter in decimal. A device id has no slash, so two
// readings never share a key.
func ReadingKey(deviceID string, counter uint64) string {
	return deviceID + "/" + strconv.FormatUint(counter, 10)
}

var (
	tagAttestation = zkhash.DomainTag("zkshare/attestation/v1")
	// Unsafe for device ids alone: they are public, so the digest is only
	// a fixed-width encoding.
	labelDevice = "zkshare/device/v1"
)

// Message is the field element a device signs for one reading: a Poseidon2
// sponge over its id's digest, the counter, the time and the leaf
// commitment. Times before 1970 are refused.
func Message(deviceID string, counter uint64, timeUnixMs int64, commitment fr.Element) (fr.Element, error) {
	if timeUnixMs < 0 {
		return fr.Element{}, fmt.Errorf("%w: time %d before 1970", ErrMalformed, timeUnixMs)
	}
	var c, t fr.Element
	c.SetUint64(counter)
	t.SetUint64(uint64(timeUnixMs))
	return zkhash.Sponge(zkhash.KeyWidth, tagAttestation, []fr.Element{zkhash.Digest(labelDevice, []byte(deviceID), 248), c, t, commitment}), nil
}

var tagRegistration = zkhash.DomainTag("zkshare/device-registration/v1")

// RegistrationMessage is what a device signs to consent to its
// registration: its id, the collection id it feeds, the id of the holder
// that registers it and how often it reports (ms; 0: not stated), so that
// its key cannot be registered under another id, collection, operator or
// cadence.
func RegistrationMessage(deviceID string, collectionID []byte, operator string, intervalMs uint64) fr.Element {
	var iv fr.Element
	iv.SetUint64(intervalMs)
	return zkhash.Sponge(zkhash.KeyWidth, tagRegistration, []fr.Element{
		zkhash.Digest(labelDevice, []byte(deviceID), 248),
		zkhash.Digest("zkshare/collection-id/v1", collectionID, 248),
		zkhash.Digest("zkshare/participant/v1", []byte(operator), 248),
		iv,
	})
}

// SignRegistration is the device's consent to its registration.
func (k *Key) SignRegistration(deviceID string, collectionID []byte, operator string, intervalMs uint64) ([]byte, error) {
	e := RegistrationMessage(deviceID, collectionID, operator, intervalMs)
	m := e.Bytes()
	sig, err := k.priv.Sign(m[:], poseidon2.NewMerkleDamgardHasher())
	if err != nil {
		return nil, fmt.Errorf("sign registration: %w", err)
	}
	return sig, nil
}

// VerifyRegistration checks a device's consent to its registration.
func (p *PublicKey) VerifyRegistration(proof []byte, deviceID string, collectionID []byte, operator string, intervalMs uint64) error {
	if len(proof) != SignatureSize {
		return fmt.Errorf("%w: registration proof of %d bytes, want %d", ErrBadSignature, len(proof), SignatureSize)
	}
	e := RegistrationMessage(deviceID, collectionID, operator, intervalMs)
	m := e.Bytes()
	ok, err := p.pub.Verify(proof, m[:], poseidon2.NewMerkleDamgardHasher())
	if err != nil || !ok {
		return fmt.Errorf("%w: the registration is not signed by the device's key", ErrBadSignature)
	}
	return nil
}

// Key is a device's private key.
type Key struct{ priv *eddsa.PrivateKey }

// GenerateKey makes a device key from r (crypto/rand when nil).
func GenerateKey(r io.Reader) (*Key, error) {
	if r == nil {
		r = rand.Reader
	}
	k, err := eddsa.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	return &Key{priv: k}, nil
}

// ParseKey reads a key that Bytes wrote.
func ParseKey(b []byte) (*Key, error) {
	if len(b) != privateKeySize {
		return nil, fmt.Errorf("device private key: %d bytes, want %d", len(b), privateKeySize)
	}
	var k eddsa.PrivateKey
	if _, err := k.SetBytes(b); err != nil {
		return nil, fmt.Errorf("device private key: %w", err)
	}
	return &Key{priv: &k}, nil
}

// Bytes is the private key's encoding (keep it secret).
func (k *Key) Bytes() []byte { return k.priv.Bytes() }

// Public is the device's public key, as RegisterDevice carries it.
func (k *Key) Public() []byte { return k.priv.PublicKey.Bytes() }

// Sign fills a's signature. Its device id, counter, time and commitment
// must be set.
func (k *Key) Sign(a *zkv1.Attestation) error {
	m, err := attestationMessage(a)
	if err != nil {
		return err
	}
	mb := m.Bytes()
	sig, err := k.priv.Sign(mb[:], poseidon2.NewMerkleDamgardHasher())
	if err != nil {
		return fmt.Errorf("sign attestation: %w", err)
	}
	a.Signature = sig
	return nil
}

func attestationMessage(a *zkv1.Attestation) (fr.Element, error) {
	var c fr.Element
	if err := c.SetBytesCanonical(a.GetCommitment()); err != nil {
		return c, fmt.Errorf("%w: commitment is not a canonical 32-byte scalar", ErrMalformed)
	}
	if a.GetCounter() == 0 {
		return c, fmt.Errorf("%w: counters start at 1", ErrMalformed)
	}
	return Message(a.GetDeviceId(), a.GetCounter(), a.GetTimeUnixMs(), c)
}

// PublicKey is a parsed device public key.
type PublicKey struct{ pub eddsa.PublicKey }

// ParsePublicKey checks and parses a device public key.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	if len(b) != PublicKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadKey, len(b), PublicKeySize)
	}
	var p PublicKey
	if _, err := p.pub.SetBytes(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	// One key, one encoding (found by fuzzing: an unreduced coordinate
	// parsed as another key's point), so that "one key per device" holds
	// byte for byte.
	if !bytes.Equal(p.pub.Bytes(), b) {
		return nil, fmt.Errorf("%w: not the canonical encoding", ErrBadKey)
	}
	return &p, nil
}

// Verify checks that a is well formed and signed by p.
func (p *PublicKey) Verify(a *zkv1.Attestation) error {
	m, err := attestationMessage(a)
	if err != nil {
		return err
	}
	if len(a.GetSignature()) != SignatureSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrBadSignature, len(a.GetSignature()), SignatureSize)
	}
	mb := m.Bytes()
	ok, err := p.pub.Verify(a.GetSignature(), mb[:], poseidon2.NewMerkleDamgardHasher())
	if err != nil || !ok {
		return fmt.Errorf("%w: device %q counter %d", ErrBadSignature, a.GetDeviceId(), a.GetCounter())
	}
	return nil
}
