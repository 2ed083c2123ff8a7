// Command zkshare is zkshare's one binary: key setup, collections, commits,
// proofs, verification and the demo.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(zkshareMain()) }

// zkshareMain runs the command line and returns the exit code: 2 for a usage
// error, 1 for any other failure.
func zkshareMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, errUsage) {
			return 2
		}
		fmt.Fprintln(os.Stderr, "zkshare:", err)
		return 1
	}
	return 0
}
