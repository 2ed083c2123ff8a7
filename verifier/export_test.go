package verifier

// Exported for the tests in package verifier_test.
var (
	CheckProofEncoding = checkProofEncoding
	ProofSize          = proofSize
	ErrProofEncoding   = errProofEncoding
)
