package client_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/zkshare/zkshare/internal/testnode"
	"github.com/zkshare/zkshare/keys"
)

// node is the node every test and example of the package talks to.
var node *testnode.Node

func TestMain(m *testing.M) {
	var err error
	node, err = testnode.Start(context.Background(), append(append([]string{}, keys.Core...), keys.Aggregates...)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := node.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
	}
	os.Exit(code)
}
