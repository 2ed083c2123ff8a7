package circuits

import "github.com/consensys/gnark/constraint/solver"

func SolverIDForTest() solver.HintID { return solver.GetHintID(LessOrEqualHint) }

// SetQueryForTest replaces an aggregate witness's query (and its hash), as
// a prover that wants an unevaluated clause would.
func SetQueryForTest(a *Aggregate, q *Query) {
	a.Query = q.vars()
	a.QueryHash = q.Hash()
}
