package console

import (
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/zkshare/zkshare/bundle"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/verifier"
)

// allChecks are the verifier's checks in the order they run.
var allChecks = []verifier.Check{
	verifier.CheckDecode, verifier.CheckRegistry, verifier.CheckAnchor, verifier.CheckFreshness, verifier.CheckSchema,
	verifier.CheckKey, verifier.CheckCollection, verifier.CheckQuery, verifier.CheckExpect, verifier.CheckNonce,
	verifier.CheckSubject, verifier.CheckCompleteness, verifier.CheckProof,
}

// checkRow is one check of a verdict: "pass", "fail" (with the reason)
// or "not reached" (a check before it failed).
type checkRow struct {
	Name   string
	Result string
	Reason string
}

type verifyData struct {
	Bundle    string // the pasted text, to edit and send again
	Nonce     string
	Checked   bool
	Valid     bool
	Statement string
	Checks    []checkRow
	Warnings  []string
	Anchor    uint64
	AnchorAt  time.Time
}

func (c *Console) verifyForm(*request) (*view, error) {
	return &view{Page: "verify", Title: "Verify a bundle", Data: verifyData{}}, nil
}

// verify checks a pasted or attached bundle against this node's ledger,
// as the Connect API's Verify does, and lists every check in order.
func (c *Console) verify(r *request) (*view, error) {
	d := verifyData{Bundle: r.PostFormValue("bundle"), Nonce: strings.TrimSpace(r.PostFormValue("nonce"))}
	data := []byte(d.Bundle)
	if f, _, err := r.FormFile("bundle_file"); err == nil {
		defer func() { _ = f.Close() }() // an in-memory part: closing cannot fail
		b, err := io.ReadAll(io.LimitReader(f, bundle.MaxSize+1))
		if err != nil {
			return nil, badRequest("the attached file could not be read")
		}
		if len(b) > 0 {
			data, d.Bundle = b, ""
		}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, badRequest("paste a bundle or attach its file")
	}
	var nonce []byte
	if d.Nonce != "" {
		n, err := hex.DecodeString(d.Nonce)
		if err != nil || len(n) != 32 {
			return nil, badRequest("nonce: want the 64 hex digits you gave the holder, or nothing")
		}
		nonce = n
	}
	d.Checked = true
	b, err := bundle.Parse(data)
	if err != nil {
		d.Checks = checkRows(&verifier.Verdict{Failed: verifier.CheckDecode, Reason: err.Error()})
		return &view{Page: "verify", Title: "Verify a bundle", Data: d}, nil
	}
	select {
	case c.verifying <- struct{}{}:
		defer func() { <-c.verifying }()
	default:
		return nil, &pageError{http.StatusServiceUnavailable, "the node is checking as many bundles as it can: try again in a moment"}
	}
	v, err := c.n.Verify(r.ctx(), node.VerifyRequest{Bundle: b, Nonce: nonce})
	if err != nil {
		return nil, err
	}
	d.Valid, d.Statement, d.Warnings, d.Anchor = v.Valid, v.Statement, v.Warnings, v.AnchorHeight
	if d.Statement == "" {
		d.Statement = bundle.Statement(b)
	}
	if v.AnchorTimeUnixMs > 0 {
		d.AnchorAt = time.UnixMilli(v.AnchorTimeUnixMs).UTC()
	}
	d.Checks = checkRows(v)
	return &view{Page: "verify", Title: "Verify a bundle", Data: d}, nil
}

// checkRows lists a verdict's checks in order: those that passed, the one
// that failed with its reason, then the checks that run after it, which it
// never reached. A valid
// verdict lists only the checks its bundle's kind runs.
func checkRows(v *verifier.Verdict) []checkRow {
	var rows []checkRow
	for _, ch := range v.Passed {
		rows = append(rows, checkRow{Name: verifier.CheckName(ch), Result: "pass"})
	}
	if v.Valid {
		return rows
	}
	rows = append(rows, checkRow{Name: verifier.CheckName(v.Failed), Result: "fail", Reason: v.Reason})
	if i := slices.Index(allChecks, v.Failed); i >= 0 {
		for _, ch := range allChecks[i+1:] {
			if !slices.Contains(v.Passed, ch) {
				rows = append(rows, checkRow{Name: verifier.CheckName(ch), Result: "not reached"})
			}
		}
	}
	return rows
}
