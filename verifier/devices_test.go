package verifier

import (
	"strings"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// TestDeviceWarnings: a valid verdict over a device-fed collection says
// what it does not rule out, device by device (found in review: revoked
// devices and keys vouched for by the holder alone went unmentioned).
func TestDeviceWarnings(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	good := func() *zkv1.DeviceState {
		return &zkv1.DeviceState{Id: "probe-1", Operator: "agency", EndorsedBy: []string{"inspector"}, LastCounter: 3, Readings: 3,
			LastTimeUnixMs: now.Add(-time.Minute).UnixMilli(), ReportIntervalMs: uint64(time.Hour.Milliseconds())}
	}
	tests := []struct {
		name   string
		change func(d *zkv1.DeviceState)
		want   []string // substrings of one warning; none: no warning
	}{
		{"endorsed, reporting, no gap", func(*zkv1.DeviceState) {}, nil},
		{"a gap", func(d *zkv1.DeviceState) { d.Missing = 2 }, []string{"probe-1", "2 readings were never attested"}},
		{"revoked", func(d *zkv1.DeviceState) { d.Revoked, d.RevokedHeight = true, 42 }, []string{"probe-1", "revoked at height 42"}},
		{"vouched for by the holder alone", func(d *zkv1.DeviceState) { d.EndorsedBy = nil }, []string{"probe-1", "holder agency alone"}},
		{"silent for longer than it reports", func(d *zkv1.DeviceState) { d.LastTimeUnixMs = now.Add(-3 * time.Hour).UnixMilli() }, []string{"probe-1", "newest readings may be withheld"}},
		{"no interval stated", func(d *zkv1.DeviceState) { d.ReportIntervalMs = 0 }, []string{"probe-1", "states no report interval"}},
		{"no reading since registration", func(d *zkv1.DeviceState) { d.LastCounter, d.Readings, d.RegisteredHeight = 0, 0, 7 }, []string{"probe-1", "no reading attested since its registration (height 7)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good()
			tt.change(d)
			v := &Verdict{}
			v.devices(&Collection{DeviceFed: true, Holder: "agency", Devices: []*zkv1.DeviceState{d}}, now)
			if len(v.Devices) != 1 {
				t.Fatalf("the verdict lists %d devices", len(v.Devices))
			}
			if tt.want == nil {
				if len(v.Warnings) != 0 {
					t.Fatalf("warnings %q, want none", v.Warnings)
				}
				return
			}
			for _, w := range v.Warnings {
				hit := true
				for _, s := range tt.want {
					hit = hit && strings.Contains(w, s)
				}
				if hit {
					return
				}
			}
			t.Fatalf("no warning with %q in %q", tt.want, v.Warnings)
		})
	}
	v := &Verdict{}
	v.devices(&Collection{Devices: []*zkv1.DeviceState{good()}}, now)
	if v.Devices != nil || v.Warnings != nil {
		t.Fatal("a collection not device-fed reports devices")
	}
}
