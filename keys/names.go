package keys

import (
	"encoding/hex"
	"fmt"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// circuitNames are the circuits' names: the text form of zkv1.Circuit in
// key directories (file names, manifest), the ledger's registry and flags.
var circuitNames = map[zkv1.Circuit]string{
	zkv1.Circuit_CIRCUIT_SUBJECT:             "subject",
	zkv1.Circuit_CIRCUIT_EXISTS:              "exists",
	zkv1.Circuit_CIRCUIT_AGGREGATE:           "aggregate",
	zkv1.Circuit_CIRCUIT_AGGREGATE_TOTAL:     "aggregate-total",
	zkv1.Circuit_CIRCUIT_AGGREGATE_THRESHOLD: "aggregate-threshold",
	zkv1.Circuit_CIRCUIT_ABSENT:              "absent",
}

// NameOf is a circuit's name ("" for none).
func NameOf(c zkv1.Circuit) string { return circuitNames[c] }

// CircuitOf is the circuit of a name (CIRCUIT_UNSPECIFIED if none).
func CircuitOf(name string) zkv1.Circuit {
	for c, n := range circuitNames {
		if n == name {
			return c
		}
	}
	return zkv1.Circuit_CIRCUIT_UNSPECIFIED
}

// Digests decodes the circuit id and verifying key hash of the entry of
// circuit name.
func (e Entry) Digests(name string) (id, vk []byte, err error) {
	if id, err = hex.DecodeString(e.CircuitID); err != nil || len(id) != 32 {
		return nil, nil, fmt.Errorf("manifest: %s: circuit_id %q: want 64 hex digits", name, e.CircuitID)
	}
	if vk, err = hex.DecodeString(e.VKSHA256); err != nil || len(vk) != 32 {
		return nil, nil, fmt.Errorf("manifest: %s: vk_sha256 %q: want 64 hex digits", name, e.VKSHA256)
	}
	return id, vk, nil
}
