package device

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"google.golang.org/protobuf/proto"
)

func signed(t *testing.T, k *Key) *zkv1.Attestation {
	t.Helper()
	var c fr.Element
	c.SetUint64(12345)
	cb := c.Bytes()
	a := &zkv1.Attestation{DeviceId: "sensor-1", Counter: 7, TimeUnixMs: 1_790_000_000_000, Commitment: cb[:]}
	if err := k.Sign(a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSignVerify(t *testing.T) {
	k, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	a := signed(t, k)
	if err := pub.Verify(a); err != nil {
		t.Fatalf("good attestation: %v", err)
	}
	other, _ := GenerateKey(nil)
	otherPub, _ := ParsePublicKey(other.Public())
	var c2 fr.Element
	c2.SetUint64(12346)
	c2b := c2.Bytes()
	tests := []struct {
		name   string
		pub    *PublicKey
		change func(a *zkv1.Attestation)
		want   error
	}{
		{"another device's key", otherPub, func(*zkv1.Attestation) {}, ErrBadSignature},
		{"device id", pub, func(a *zkv1.Attestation) { a.DeviceId = "sensor-2" }, ErrBadSignature},
		{"counter", pub, func(a *zkv1.Attestation) { a.Counter++ }, ErrBadSignature},
		{"time", pub, func(a *zkv1.Attestation) { a.TimeUnixMs++ }, ErrBadSignature},
		{"commitment", pub, func(a *zkv1.Attestation) { a.Commitment = c2b[:] }, ErrBadSignature},
		{"signature bit", pub, func(a *zkv1.Attestation) { a.Signature[40] ^= 1 }, ErrBadSignature},
		{"short signature", pub, func(a *zkv1.Attestation) { a.Signature = a.Signature[:63] }, ErrBadSignature},
		{"zero counter", pub, func(a *zkv1.Attestation) { a.Counter = 0 }, ErrMalformed},
		{"negative time", pub, func(a *zkv1.Attestation) { a.TimeUnixMs = -1 }, ErrMalformed},
		{"non-canonical commitment", pub, func(a *zkv1.Attestation) { a.Commitment = bytes.Repeat([]byte{0xff}, 32) }, ErrMalformed},
		{"short commitment", pub, func(a *zkv1.Attestation) { a.Commitment = a.Commitment[1:] }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := proto.Clone(a).(*zkv1.Attestation)
			tt.change(b)
			if err := tt.pub.Verify(b); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	k, _ := GenerateKey(nil)
	again, err := ParseKey(k.Bytes())
	if err != nil || !bytes.Equal(again.Public(), k.Public()) {
		t.Fatalf("parse key: %v", err)
	}
	if _, err := ParseKey(k.Bytes()[1:]); err == nil {
		t.Fatal("short private key parsed")
	}
	// Found by fuzzing: an unreduced coordinate that parses as another
	// encoding's point.
	unreduced, _ := hex.DecodeString("f6f5cfc62a8194350c825c1b2f91dfe9e7fd84fecb20e9a73804ca8b5f863e42")
	for _, b := range [][]byte{nil, make([]byte, 31), make([]byte, 32), bytes.Repeat([]byte{0xff}, 32), unreduced} {
		if _, err := ParsePublicKey(b); !errors.Is(err, ErrBadKey) {
			t.Errorf("%x: %v", b, err)
		}
	}
	if ReadingKey("sensor-1", 42) != "sensor-1/42" {
		t.Fatal(ReadingKey("sensor-1", 42))
	}
	for _, id := range []string{"", "A", "a/b", "-a", string(make([]byte, 65))} {
		if ValidID(id) == nil {
			t.Errorf("%q accepted", id)
		}
	}
}

func FuzzParsePublicKey(f *testing.F) {
	k, _ := GenerateKey(nil)
	f.Add(k.Public())
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePublicKey(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.pub.Bytes(), b) {
			t.Fatalf("%x parsed as %x", b, p.pub.Bytes())
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	k, _ := GenerateKey(nil)
	pub, _ := ParsePublicKey(k.Public())
	var c fr.Element
	c.SetUint64(1)
	cb := c.Bytes()
	a := &zkv1.Attestation{DeviceId: "sensor-1", Counter: 1, TimeUnixMs: 1, Commitment: cb[:]}
	if err := k.Sign(a); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := pub.Verify(a); err != nil {
			b.Fatal(err)
		}
	}
}
