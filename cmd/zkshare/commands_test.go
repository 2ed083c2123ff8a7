package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestEveryCommandHelp: --help and help NAME work for every command and
// group, exit 0, and show the command's usage line.
func TestEveryCommandHelp(t *testing.T) {
	groups := map[string]bool{}
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append(strings.Fields(c.name), "--help")
			if err := run(context.Background(), args, &out, &errb); err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			if !strings.Contains(errb.String(), "usage: zkshare "+c.name) || !strings.Contains(errb.String(), "-log-level") {
				t.Fatalf("%v:\n%s", args, errb.String())
			}
			out.Reset()
			if err := run(context.Background(), append([]string{"help"}, strings.Fields(c.name)...), &out, &errb); err != nil {
				t.Fatalf("help %s: %v", c.name, err)
			}
			if !strings.Contains(out.String(), "usage: zkshare "+c.name) {
				t.Fatalf("help %s:\n%s", c.name, out.String())
			}
		})
		if w := strings.Fields(c.name); len(w) == 2 {
			groups[w[0]] = true
		}
	}
	for g := range groups {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{g, "--help"}, &out, &errb); err != nil || !strings.Contains(out.String()+errb.String(), "subcommands:") {
			t.Errorf("%s --help: %v\n%s", g, err, out.String())
		}
	}
}

// TestLookup: two-word commands win over one-word ones, and arguments after
// the command name are passed on.
func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		args []string
		name string
		rest int
		ok   bool
	}{
		{[]string{"audit", "check", "--x"}, "audit check", 1, true},
		{[]string{"audit", "--x"}, "audit", 1, true},
		{[]string{"ledger", "init"}, "ledger init", 0, true},
		{[]string{"ledger"}, "", 1, false},
		{[]string{"verify", "b.json"}, "verify", 1, true},
		{nil, "", 0, false},
	} {
		c, rest, ok := lookup(tc.args)
		if ok != tc.ok || c.name != tc.name || len(rest) != tc.rest {
			t.Errorf("lookup(%q) = %q, %d, %v", tc.args, c.name, len(rest), ok)
		}
	}
}

// failWriter fails every write, as stdout on a full disk does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

var errWrite = errors.New("no space left on device")

// TestOutputWriteError: a command whose output could not be written fails
// with the write error, though its prints are not checked one by one.
func TestOutputWriteError(t *testing.T) {
	var errb bytes.Buffer
	err := run(context.Background(), []string{"help"}, failWriter{}, &errb)
	if !errors.Is(err, errWrite) {
		t.Fatalf("help with a failing stdout: %v", err)
	}
	if err := run(context.Background(), []string{"help"}, io.Discard, &errb); err != nil {
		t.Fatalf("help: %v", err)
	}
}
