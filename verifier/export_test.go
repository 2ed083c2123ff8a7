package verifier

import (
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// Exported for the tests in package verifier_test.
var (
	CheckProofEncoding = checkProofEncoding
	ProofSize          = proofSize
	ErrProofEncoding   = errProofEncoding
)

// VerifyBytes decodes a bundle and runs the checks after the ledger's
// (pinned key, statement, nonce, subject, proof), for tests of those.
func (vf *Verifier) VerifyBytes(data []byte, exp Expect) (v *Verdict) {
	v = &Verdict{}
	b, err := bundle.Parse(data)
	if err != nil {
		return v.fail(CheckDecode, "%v", err)
	}
	return vf.VerifyProto(b, exp)
}

// VerifyProto is VerifyBytes of a decoded bundle.
func (vf *Verifier) VerifyProto(b *zkv1.Bundle, exp Expect) (v *Verdict) {
	v = &Verdict{Statement: bundle.Statement(b)}
	defer func() {
		if r := recover(); r != nil {
			v.Valid, v.Failed, v.Reason = false, CheckDecode, "malformed bundle"
		}
	}()
	if err := bundle.Check(b); err != nil {
		return v.fail(CheckDecode, "%v", err)
	}
	vf.statementAndProof(b, nil, exp, v, vf.pinned)
	return v
}

// VerifyAggregateProto runs the aggregate checks after the ledger's, with
// the anchored root when anchor is given.
func (vf *Verifier) VerifyAggregateProto(b *zkv1.Bundle, anchor *Anchored, exp Expect) *Verdict {
	v := &Verdict{Statement: bundle.Statement(b)}
	if err := bundle.Check(b); err != nil {
		return v.fail(CheckDecode, "%v", err)
	}
	vf.statementAndProof(b, anchor, exp, v, vf.pinned)
	return v
}
