// Package testnode starts a zkshare node on loopback for tests and
// runnable examples: a fresh data directory, the circuit keys from
// ZKSHARE_TEST_KEYS (set up once by `make test`), and the tokens of the
// node's admin and holder.
package testnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/zkshare/zkshare/internal/logging"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
)

// Node is a running node; Close stops it and removes its directories.
type Node struct {
	// URL is the node's base URL, http://127.0.0.1:PORT (h2c).
	URL string
	// AdminToken and HolderToken are the bearer tokens of the node's
	// admin and of its holder.
	AdminToken, HolderToken string
	srv                     *service.Server
	stop                    context.CancelFunc
	served                  chan error
	cleanup                 []func() error

	// KeyDir is the node's circuit key directory: a verifier in the same
	// process pins its verifying keys (client.WithKeyDir).
	KeyDir string
}

// Start runs a node with the named circuits' keys (keys.Core if none).
// Set ZKSHARE_TEST_KEYS, or it spends minutes on key setup.
func Start(ctx context.Context, circuits ...string) (_ *Node, err error) {
	logging.QuietGnark(slog.New(slog.DiscardHandler))
	// n, not the result (which a failing return sets to nil), is what a
	// failed start closes.
	n := &Node{}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Close())
		}
	}()
	keyDir, cleanup, err := testkeys.Dir(ctx, circuits...)
	if err != nil {
		return nil, fmt.Errorf("testnode: keys: %w", err)
	}
	n.cleanup = append(n.cleanup, func() error { cleanup(); return nil })
	n.KeyDir = keyDir
	data, err := os.MkdirTemp("", "zkshare-testnode")
	if err != nil {
		return nil, fmt.Errorf("testnode: %w", err)
	}
	n.cleanup = append(n.cleanup, func() error { return os.RemoveAll(data) })
	log := slog.New(slog.DiscardHandler)
	if n.srv, err = service.New(ctx, service.Config{Data: data, Keys: keyDir, Log: log}, service.WithVerifyAggregateLimit(0, 1000)); err != nil {
		return nil, fmt.Errorf("testnode: %w", err)
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testnode: %w", err)
	}
	sctx, stop := context.WithCancel(context.Background())
	n.stop, n.served = stop, make(chan error, 1)
	go func() {
		n.served <- service.Serve(sctx, service.NewHTTPServer(n.srv.Handler(), log), ln, 5*time.Second)
	}()
	n.URL = "http://" + ln.Addr().String()
	for id, tok := range map[string]*string{node.AdminID: &n.AdminToken, node.HolderID: &n.HolderToken} {
		b, err := os.ReadFile(node.TokenPath(data, id))
		if err != nil {
			return nil, fmt.Errorf("testnode: %w", err)
		}
		*tok = strings.TrimSpace(string(b))
	}
	return n, nil
}

// Close stops the node and removes its data and key directories.
func (n *Node) Close() error {
	var err error
	if n.stop != nil {
		n.stop()
		err = <-n.served
		n.stop = nil
	}
	if n.srv != nil {
		err = errors.Join(err, n.srv.Close())
		n.srv = nil
	}
	for _, f := range n.cleanup {
		err = errors.Join(err, f())
	}
	n.cleanup = nil
	return err
}
