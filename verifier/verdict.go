package verifier

import (
	"errors"
	"fmt"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// Check is one check of a verification (zkv1.Check); String names it in
// words for output.
type Check = zkv1.Check

// Checks, in the order they run.
const (
	CheckDecode       = zkv1.Check_CHECK_DECODE
	CheckRegistry     = zkv1.Check_CHECK_KEY_REGISTRY
	CheckAnchor       = zkv1.Check_CHECK_ANCHOR
	CheckFreshness    = zkv1.Check_CHECK_FRESHNESS
	CheckSchema       = zkv1.Check_CHECK_SCHEMA
	CheckKey          = zkv1.Check_CHECK_VERIFYING_KEY
	CheckCollection   = zkv1.Check_CHECK_COLLECTION_ID
	CheckQuery        = zkv1.Check_CHECK_QUERY_HASH
	CheckExpect       = zkv1.Check_CHECK_EXPECTATION
	CheckNonce        = zkv1.Check_CHECK_NONCE
	CheckSubject      = zkv1.Check_CHECK_SUBJECT
	CheckCompleteness = zkv1.Check_CHECK_COMPLETENESS
	CheckProof        = zkv1.Check_CHECK_PROOF
)

var checkNames = map[Check]string{
	CheckDecode: "decode", CheckRegistry: "key registry", CheckAnchor: "anchor", CheckFreshness: "freshness",
	CheckSchema: "schema", CheckKey: "verifying key", CheckCollection: "collection id", CheckQuery: "query hash",
	CheckExpect: "expectation", CheckNonce: "nonce", CheckSubject: "subject", CheckCompleteness: "completeness", CheckProof: "proof",
}

// CheckName is a check's human-readable name ("key registry", "proof").
func CheckName(c Check) string {
	if n, ok := checkNames[c]; ok {
		return n
	}
	return c.String()
}

// Verdict is the outcome of a verification: every check that passed, in
// order, or the one that failed and why.
type Verdict struct {
	Valid     bool
	Statement string
	Passed    []Check
	Failed    Check // CHECK_UNSPECIFIED when valid
	Reason    string
	// What a valid verdict does not rule out (keys from a development
	// setup, what an offline view cannot see).
	Warnings []string
	// The anchor the verdict rests on.
	AnchorHeight     uint64
	AnchorTimeUnixMs int64
	// Devices: for a device-fed collection, the devices that feed it, with
	// their counters and the readings never attested (gaps).
	Devices []*zkv1.DeviceState
	// Circuits are the registered circuit versions the bundle's proofs
	// were made with (none without a ledger).
	Circuits []*zkv1.CircuitVersion
}

// devices reports a device-fed collection's devices and warns of what a
// valid verdict over their readings does not rule out: readings never
// attested (counter gaps), a device silent for longer than it said it
// reports (its newest readings may be withheld), a revoked device (its
// earlier readings still count), and a device no one but its holder
// vouches for (the holder could have made its key).
func (v *Verdict) devices(c *Collection, now time.Time) {
	if !c.DeviceFed {
		return
	}
	v.Devices = c.Devices
	for _, d := range c.Devices {
		id := d.GetId()
		switch m := d.GetMissing(); {
		case m == 1:
			v.warn(fmt.Sprintf("device %s: 1 reading was never attested (a counter gap), so no statement covers it", id))
		case m > 1:
			v.warn(fmt.Sprintf("device %s: %d readings were never attested (counter gaps), so no statement covers them", id, m))
		}
		iv := time.Duration(d.GetReportIntervalMs()) * time.Millisecond
		switch {
		case d.GetRevoked():
		case d.GetLastCounter() == 0:
			v.warn(fmt.Sprintf("device %s: no reading attested since its registration (height %d): any it made may be withheld", id, d.GetRegisteredHeight()))
		case iv == 0:
			v.warn(fmt.Sprintf("device %s states no report interval: its newest readings could be withheld unnoticed", id))
		default:
			if silent := now.Sub(time.UnixMilli(d.GetLastTimeUnixMs())); silent > 2*iv {
				v.warn(fmt.Sprintf("device %s: no reading for %s though it reports every %s: its newest readings may be withheld", id, silent.Round(time.Second), iv))
			}
		}
		if d.GetRevoked() {
			v.warn(fmt.Sprintf("device %s was revoked at height %d: its readings before then still count", id, d.GetRevokedHeight()))
		}
		if len(d.GetEndorsedBy()) == 0 {
			v.warn(fmt.Sprintf("device %s: its key is vouched for by its holder %s alone, who could have made it and signed any reading; no other participant endorses it", id, d.GetOperator()))
		}
	}
}

// ErrInvalid is wrapped by Verdict.Err for invalid bundles.
var ErrInvalid = errors.New("bundle is not valid")

// Err returns nil for a valid verdict, else an error naming the check.
func (v *Verdict) Err() error {
	if v.Valid {
		return nil
	}
	return fmt.Errorf("%w: %s check failed: %s", ErrInvalid, CheckName(v.Failed), v.Reason)
}

// Checked names the passed checks in words.
func (v *Verdict) Checked() []string {
	out := make([]string, len(v.Passed))
	for i, c := range v.Passed {
		out[i] = CheckName(c)
	}
	return out
}

func (v *Verdict) pass(c Check) { v.Passed = append(v.Passed, c) }

func (v *Verdict) fail(c Check, format string, args ...any) *Verdict {
	v.Valid, v.Failed, v.Reason = false, c, fmt.Sprintf(format, args...)
	return v
}

func (v *Verdict) warn(w string) {
	for _, x := range v.Warnings {
		if x == w {
			return
		}
	}
	v.Warnings = append(v.Warnings, w)
}

// Proto is the verdict as the VerifierService answers it.
func (v *Verdict) Proto() *zkv1.VerifyResponse {
	r := &zkv1.VerifyResponse{Valid: v.Valid, Statement: v.Statement, Reason: v.Reason, Checks: v.Checked(),
		AnchorHeight: v.AnchorHeight, AnchorTimeUnixMs: v.AnchorTimeUnixMs, Warnings: v.Warnings, Passed: v.Passed, Failed: v.Failed, Devices: v.Devices, Circuits: v.Circuits}
	if !v.Valid {
		r.FailedCheck = CheckName(v.Failed)
	}
	return r
}
