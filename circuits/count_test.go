package circuits

import (
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
)

func TestConstraintCount(t *testing.T) {
	for name, c := range map[string]frontend.Circuit{"subject": &Subject{}, "exists": &Exists{}, "absent": &Absent{}} {
		cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d constraints, %d public", name, cs.GetNbConstraints(), cs.GetNbPublicVariables())
	}
}
