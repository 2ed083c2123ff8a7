package holder

import (
	"slices"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

func TestEntryRoundTrip(t *testing.T) {
	var salt fr.Element
	salt.SetRandom()
	for _, e := range []entry{
		{},
		{Pos: 1<<32 - 1, Version: 7, Salt: salt, Values: []string{"", "x", "ünïcode", string(make([]byte, 300))}},
	} {
		got, err := decodeEntry(e.append(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got.Pos != e.Pos || got.Version != e.Version || !got.Salt.Equal(&e.Salt) || !slices.Equal(got.Values, e.Values) {
			t.Fatalf("round trip: got %+v, want %+v", got, e)
		}
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	good := (&entry{Pos: 3, Values: []string{"ab"}}).append(nil)
	nonCanonical := slices.Clone(good)
	for i := 3; i < 3+fr.Bytes; i++ {
		nonCanonical[i] = 0xff // salt >= r
	}
	for name, b := range map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{9}, good[1:]...),
		"truncated":      good[:len(good)-1],
		"trailing":       append(slices.Clone(good), 0),
		"short salt":     good[:10],
		"salt over r":    nonCanonical,
	} {
		if _, err := decodeEntry(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add((&entry{Pos: 3, Version: 1, Values: []string{"a", "bc"}}).append(nil))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		again, err := decodeEntry(e.append(nil))
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		if again.Pos != e.Pos || again.Version != e.Version || !again.Salt.Equal(&e.Salt) || !slices.Equal(again.Values, e.Values) {
			t.Fatalf("entry changed in a round trip: %+v -> %+v", e, again)
		}
	})
}
