// Package ceremony runs a multi-party Groth16 setup for zkshare's circuits
// among organisations, over gnark's BN254 mpcsetup: phase 1 (powers of
// tau, for every circuit at once), then phase 2 (per circuit), each
// contribution checked against the one before it, the whole sealed by a
// public beacon.
//
// A ceremony lives in a directory that the organisations pass around:
//
//	ceremony.json            the plan (Init writes it once; its SHA-256 is the ceremony id)
//	contributions/001/       phase1.bin, receipt.json       (participant 1, phase 1)
//	...
//	contributions/00n/                                       (participant n, phase 1)
//	contributions/0(n+1)/    phase2-<circuit>.bin..., receipt.json (participant 1, phase 2)
//	...
//	final.json               the beacon and the verifying keys' hashes (Finalize)
//
// The directory goes org1 → org2 → … → orgn → org1 → … → orgn, each
// running Contribute, then anyone runs Finalize with the beacon. Each
// contribution's receipt (zkv1.ContributionReceipt) is signed with the
// contributor's ledger identity and chained to the one before, so the
// ledger can record the sequence (ledger.RecordContributionTx); Verify
// re-checks everything: the receipt chain, signatures against the plan's
// keys, the state files against their receipts, gnark's proof of each
// update, and the keys final.json records.
//
// The keys are sound if one phase-1 contributor and one phase-2
// contributor were honest: drew their randomness (gnark's Contribute takes
// it from crypto/rand; nothing here stores it) and let it go.
package ceremony

import (
	"errors"
	"time"
)

var (
	// ErrNotYourTurn is Contribute's refusal of an identity that is not the
	// ceremony's next contributor (or whose key is not the plan's): pass
	// the directory to the one named.
	ErrNotYourTurn = errors.New("not this participant's turn")
	// ErrComplete is Contribute's answer once every contribution is made:
	// run Finalize.
	ErrComplete = errors.New("every contribution is made")
	// ErrIncomplete is Finalize's refusal of a ceremony with contributions
	// still to make: pass the directory on to the next contributor.
	ErrIncomplete = errors.New("contributions are missing")
)

// ContributionError is a failed check of one contribution; its message
// names it, as in "contribution 3 (org3, phase 1): ...".
type ContributionError struct {
	Step Step
	Err  error
}

func (e *ContributionError) Error() string { return e.Step.String() + ": " + e.Err.Error() }

func (e *ContributionError) Unwrap() error { return e.Err }

// Event is a step starting (Done false) or ending (Done true, with its
// duration and error). gnark's Contribute, Verify and Seal are single calls
// without progress of their own: steps are as fine as progress gets.
type Event struct {
	Step    string
	Done    bool
	Elapsed time.Duration
	Err     error
}

// Progress receives events; nil for none.
type Progress func(Event)

// runStep runs f as a step.
func runStep(progress Progress, step string, f func() error) error {
	if progress == nil {
		return f()
	}
	progress(Event{Step: step})
	start := time.Now()
	err := f()
	progress(Event{Step: step, Done: true, Elapsed: time.Since(start), Err: err})
	return err
}
