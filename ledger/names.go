package ledger

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
)

// A collection's name on the ledger is qualified by its holder:
// "HOLDER/NAME", HOLDER the registering participant's id and NAME a short
// name of its choosing. A holder registers names under its own prefix only,
// and a collection's id is the digest of its full name, so no holder can
// take (or squat) another's name or id: two holders may each have a
// collection "x", as "a/x" and "b/x".

// QualifiedName is holder's collection name: "HOLDER/NAME".
func QualifiedName(holder, name string) string { return holder + "/" + name }

// Qualify qualifies a short name by holder; a name that already names a
// holder (it has a "/") is returned as it is.
func Qualify(holder, name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	return QualifiedName(holder, name)
}

// SplitName splits a qualified collection name into its holder and short
// name; ok is false unless both are well-formed ids.
func SplitName(full string) (holder, name string, ok bool) {
	holder, name, found := strings.Cut(full, "/")
	if !found || !idRE.MatchString(holder) || !idRE.MatchString(name) {
		return "", "", false
	}
	return holder, name, true
}

// CollectionID is the id of the collection with this full name: a BN254
// scalar, big-endian, the top 248 bits of SHA-256("zkshare/collection/v1",
// 0, name) (records.CollectionID as bytes; the ledger needs no circuits to
// bind a registration's id to its name).
func CollectionID(name string) []byte {
	h := sha256.New()
	h.Write([]byte("zkshare/collection/v1"))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return append([]byte{0}, h.Sum(nil)[:31]...)
}

// checkCollectionName: sender registers under its own prefix only, and the
// id is the name's.
func checkCollectionName(sender, name string, id []byte) error {
	holder, _, ok := SplitName(name)
	if !ok {
		return fmt.Errorf("%w: collection name %q: want %q", ErrRejected, name, QualifiedName(sender, "NAME"))
	}
	if holder != sender {
		return fmt.Errorf("%w: collection name %q: %q registers names under %q only", ErrPermission, name, sender, sender+"/")
	}
	if !bytes.Equal(id, CollectionID(name)) {
		return fmt.Errorf("%w: collection_id is not the id of %q", ErrRejected, name)
	}
	return nil
}
