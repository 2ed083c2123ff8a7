package circuits

import "github.com/consensys/gnark/constraint/solver"

func SolverIDForTest() solver.HintID { return solver.GetHintID(LessOrEqualHint) }
