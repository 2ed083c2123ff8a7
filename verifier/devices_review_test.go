package verifier

import (
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// TestSilentDeviceEvasions_review: ways a holder withholds a device's
// newest readings without a warning.
func TestSilentDeviceEvasions(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	hour := uint64(time.Hour.Milliseconds())
	long := now.Add(-30 * 24 * time.Hour).UnixMilli()
	for name, d := range map[string]*zkv1.DeviceState{
		// The holder made the key and consented to no interval.
		"interval 0": {Id: "p", Operator: "agency", EndorsedBy: []string{"x"}, LastCounter: 3, Readings: 3, LastTimeUnixMs: long},
		// Registered with an interval, every reading withheld since.
		"never attested": {Id: "p", Operator: "agency", EndorsedBy: []string{"x"}, ReportIntervalMs: hour, RegisteredHeight: 2},
	} {
		v := &Verdict{}
		v.devices(&Collection{DeviceFed: true, Holder: "agency", Devices: []*zkv1.DeviceState{d}}, now)
		if len(v.Warnings) == 0 {
			t.Errorf("%s: no warning", name)
		}
	}
}
