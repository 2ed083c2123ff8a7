package node_test

import (
	"testing"
)

// TestEndorseOwnDeviceViaAdmin_review: a standalone node holds both the
// admin key and the holder key, so the holder's own organisation endorses
// the device it operates (as "admin") and the verdict's "vouched for by
// its holder alone" warning disappears, though no one else vouches for it.
func TestEndorseOwnDeviceViaAdmin(t *testing.T) {
	n, _ := deviceNode(t)
	if _, err := n.EndorseDevice(t.Context(), adminC, "probe-1"); err == nil {
		d := n.Ledger().State().Devices["probe-1"]
		t.Errorf("the holder's own node endorsed its device: operator %q, endorsers %v (same organisation, same node)", d.Operator, d.Endorsers)
	}
}
