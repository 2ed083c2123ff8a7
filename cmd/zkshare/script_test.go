package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/internal/testkeys"
)

// TestMain lets the scripts under testdata/script run zkshare as a command,
// in this test binary.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"zkshare": func() { os.Exit(zkshareMain()) }})
}

// TestScripts runs the CLI end to end as a user would, one script a file
// under testdata/script. $PORT is a free loopback port for a node; $KEYS a
// key directory (the shared test keys when ZKSHARE_TEST_KEYS is set).
//
// From ZKSHARE_TEST_KEYS, $KEYS holds only the core circuits' keys (no
// script asks an aggregate): a node loads them in a fraction of the time,
// the aggregate keys being most of the bytes.
func TestScripts(t *testing.T) {
	var coreKeys string
	if os.Getenv(testkeys.Env) != "" {
		dir, cleanup, err := testkeys.Dir(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cleanup)
		coreKeys = dir
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("ZKSHARE_LOG_LEVEL", "warn")
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			e.Setenv("PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
			ln.Close()
			keys := os.Getenv("ZKSHARE_TEST_KEYS")
			if keys == "" {
				keys = e.WorkDir + "/keys"
			}
			e.Setenv("KEYS", cmp.Or(coreKeys, keys))
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "short" {
				return testing.Short(), nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"capture":    cmdCapture,
			"waitready":  cmdWaitReady,
			"editjson":   cmdEditJSON,
			"gencsv":     cmdGenCSV,
			"waitcommit": cmdWaitCommit,
		},
		RequireExplicitExec: true,
	})
}

// capture stdout|stderr VAR REGEXP sets $VAR to the regexp's first group in
// the last command's output.
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 || (args[0] != "stdout" && args[0] != "stderr") {
		ts.Fatalf("usage: capture stdout|stderr VAR REGEXP")
	}
	re, err := regexp.Compile(args[2])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile(args[0]))
	if len(m) < 2 {
		ts.Fatalf("capture: no match for %q in %s", args[2], args[0])
	}
	ts.Setenv(args[1], m[1])
}

// waitready URL waits (up to 3 minutes: a node's startup compiles the
// aggregate circuit, slow on a loaded machine) until URL/readyz answers 200.
func cmdWaitReady(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitready URL")
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get(args[0] + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	ts.Fatalf("waitready: %s not ready after 3 minutes", args[0])
}

// editjson FILE KEY JSON-VALUE sets a top-level field of a JSON object: a
// relayer's edit of a bundle.
func cmdEditJSON(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: editjson FILE KEY JSON-VALUE")
	}
	var m map[string]json.RawMessage
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &m))
	if _, ok := m[args[1]]; !ok {
		ts.Fatalf("editjson: %s has no field %q", args[0], args[1])
	}
	if !json.Valid([]byte(args[2])) {
		ts.Fatalf("editjson: %q is not JSON", args[2])
	}
	m[args[1]] = json.RawMessage(args[2])
	out, err := json.MarshalIndent(m, "", "  ")
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), out, 0o644))
}

// gencsv FILE N writes a CSV of N records "id,income" (ids p0000000 on),
// for scripts that need a large commit.
func cmdGenCSV(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gencsv FILE N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	var b strings.Builder
	b.WriteString("id,income\n")
	for i := range n {
		fmt.Fprintf(&b, "p%07d,%d\n", i, 1000+i%50000)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b.String()), 0o600))
}

// waitcommit URL COLLECTION TOKENFILE waits (up to 3 minutes) until the
// node at URL tells its holder (TOKENFILE) that a commit of COLLECTION is
// running, then waits one more second so that the commit is well under
// way: a crash test kills the node there.
func cmdWaitCommit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitcommit URL COLLECTION TOKENFILE")
	}
	c, err := client.New(args[0], client.WithToken(strings.TrimSpace(ts.ReadFile(args[2]))))
	ts.Check(err)
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		info, err := c.GetCollection(context.Background(), args[1])
		if err == nil && info.GetProving().GetCommitting() {
			time.Sleep(time.Second)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("waitcommit: no commit of %s seen in 3 minutes", args[1])
}
