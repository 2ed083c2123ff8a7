package keys_test

import (
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
)

// Every circuit of a key directory has a typed identity, and back.
func TestCircuitNames(t *testing.T) {
	for _, name := range keys.Names() {
		c := keys.CircuitOf(name)
		if c == zkv1.Circuit_CIRCUIT_UNSPECIFIED || keys.NameOf(c) != name {
			t.Errorf("circuit %q: %v, back %q", name, c, keys.NameOf(c))
		}
	}
	if len(keys.Names()) != len(zkv1.Circuit_name)-1 {
		t.Errorf("%d circuits named, %d in zkv1.Circuit", len(keys.Names()), len(zkv1.Circuit_name)-1)
	}
	if keys.CircuitOf("nope") != zkv1.Circuit_CIRCUIT_UNSPECIFIED || keys.NameOf(zkv1.Circuit_CIRCUIT_UNSPECIFIED) != "" {
		t.Error("unknown names and circuits must stay unknown")
	}
}
