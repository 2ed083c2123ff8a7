package records

import (
	"encoding/hex"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/zkhash"
)

// CollectionID derives a collection's id element from its name.
func CollectionID(name string) fr.Element {
	return zkhash.Digest("zkshare/collection/v1", []byte(name), 248)
}

// ElementHex encodes a field element as 64 hex digits.
func ElementHex(e fr.Element) string { b := e.Bytes(); return hex.EncodeToString(b[:]) }

// ParseElement decodes 64 hex digits into a canonical field element.
func ParseElement(h string) (fr.Element, error) {
	var e fr.Element
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != fr.Bytes {
		return e, fmt.Errorf("want %d hex digits", 2*fr.Bytes)
	}
	if err := e.SetBytesCanonical(b); err != nil {
		return e, fmt.Errorf("not a canonical field element")
	}
	return e, nil
}
