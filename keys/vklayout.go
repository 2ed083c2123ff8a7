package keys

import (
	"encoding/binary"
	"fmt"
)

// checkVKLayout walks a BN254 Groth16 verifying key's encoding (gnark's
// WriteTo: [α]1 [β]1 [β]2 [γ]2 [δ]1 [δ]2, K, the public-and-commitment
// index lists, the commitment keys) and refuses any length prefix that
// asks for more than the bytes left could hold. gnark's decoder allocates
// what a prefix says before reading, so a 600-byte key whose K length is
// 2^32-1 would ask for 256 GiB: such a key must never reach it.
func checkVKLayout(b []byte) error {
	const g1, g2 = 32, 64 // compressed points
	off := 0
	// point takes one compressed point: gnark's decoder reads a point
	// whose flag bits are 00 as uncompressed, twice as long, which would
	// shift every later field (and its length prefix) out of this walk.
	point := func(size int, what string) error {
		if len(b)-off < size {
			return fmt.Errorf("verifying key: truncated at %s", what)
		}
		if b[off]&0xC0 == 0 {
			return fmt.Errorf("verifying key: %s is not in compressed form (only gnark's compressed encoding is read)", what)
		}
		off += size
		return nil
	}
	for _, p := range []struct {
		size int
		what string
	}{{g1, "[α]1"}, {g1, "[β]1"}, {g2, "[β]2"}, {g2, "[γ]2"}, {g1, "[δ]1"}, {g2, "[δ]2"}} {
		if err := point(p.size, p.what); err != nil {
			return err
		}
	}
	u32 := func(what string) (int, error) {
		if len(b)-off < 4 {
			return 0, fmt.Errorf("verifying key: truncated at %s", what)
		}
		v := int(binary.BigEndian.Uint32(b[off:]))
		off += 4
		return v, nil
	}
	points := func(n, size int, what string) error {
		if n > (len(b)-off)/size {
			return fmt.Errorf("verifying key: %s of %d points, more than its %d remaining bytes hold", what, n, len(b)-off)
		}
		for range n {
			if err := point(size, what); err != nil {
				return err
			}
		}
		return nil
	}
	k, err := u32("K")
	if err != nil {
		return err
	}
	if err := points(k, g1, "K"); err != nil {
		return err
	}
	lists, err := u32("commitment index lists")
	if err != nil {
		return err
	}
	if lists > (len(b)-off)/4 {
		return fmt.Errorf("verifying key: %d commitment index lists, more than its remaining bytes hold", lists)
	}
	for range lists {
		m, err := u32("a commitment index list")
		if err != nil {
			return err
		}
		if m > (len(b)-off)/8 {
			return fmt.Errorf("verifying key: a commitment index list of %d entries, more than its remaining bytes hold", m)
		}
		off += 8 * m
	}
	commitments, err := u32("commitment keys")
	if err != nil {
		return err
	}
	if err := points(2*commitments, g2, "commitment keys"); err != nil {
		return err
	}
	if off != len(b) {
		return fmt.Errorf("verifying key: %d bytes after its last field", len(b)-off)
	}
	return nil
}
