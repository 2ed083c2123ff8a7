package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts under testdata/script run zkshare as a command,
// in this test binary.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"zkshare": func() { os.Exit(zkshareMain()) }})
}

// TestScripts runs the CLI end to end as a user would, one script a file
// under testdata/script. Scripts tagged [short] run under -short too.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("ZKSHARE_LOG_LEVEL", "warn")
			if testing.Short() {
				e.Setenv("SHORT", "1")
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "short" {
				return testing.Short(), nil
			}
			return false, nil
		},
		RequireExplicitExec: true,
	})
}
