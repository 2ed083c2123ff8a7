package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"connectrpc.com/connect"
	"github.com/transparency-dev/formats/log"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/ledger"
	"golang.org/x/mod/sumdb/note"
)

// errInconsistent: a node showed two checkpoints that are not of one
// history. Keep both (they are signed) as evidence.
var errInconsistent = errors.New("INCONSISTENT")

// cmdLedgerWatch polls a node's checkpoint and checks that each one is
// signed by the ledger key and extends the last one seen, with a
// consistency proof from the node: a node that shows different histories
// to different users, or rewrites its own, is caught.
func cmdLedgerWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("ledger watch", stderr)
	server := f.String("server", envOr("ZKSHARE_SERVER", ""), "server URL")
	key := f.String("ledger-key", envOr("ZKSHARE_LEDGER_KEY", ""), "the ledger's checkpoint key (default: the server's, trusted on first use)")
	interval := f.Duration("interval", 2*time.Second, "time between checkpoints")
	count := f.Int("count", 0, "stop after this many checkpoints (0: run until interrupted)")
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if *server == "" || *interval <= 0 || *count < 0 {
		return errors.New("ledger watch: want --server, a positive --interval and --count >= 0")
	}
	c, err := client.New(*server)
	if err != nil {
		return fmt.Errorf("--server: %w", err)
	}
	var v note.Verifier
	if *key != "" {
		if v, err = note.NewVerifier(*key); err != nil {
			return fmt.Errorf("--ledger-key: %w", err)
		}
	}
	var last []byte // the last checkpoint seen
	var lastCP *log.Checkpoint
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for n := 0; *count == 0 || n < *count; n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
		resp, err := c.Checkpoint(ctx)
		if connect.CodeOf(err) == connect.CodeUnavailable {
			e.log.Warn("ledger watch: node unavailable; trying again", "err", err)
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ledger watch: checkpoint: %w", err)
		}
		if v == nil {
			vkey, err := note.NewEd25519VerifierKey(resp.GetOrigin(), resp.GetNodeKey())
			if err != nil {
				return fmt.Errorf("ledger watch: the node's key: %w", err)
			}
			if v, err = note.NewVerifier(vkey); err != nil {
				return fmt.Errorf("ledger watch: the node's key: %w", err)
			}
			fprintf(stderr, "trusting the node's checkpoint key on first use: %s\n(pin it with --ledger-key)\n", vkey)
		}
		cp, _, _, err := log.ParseCheckpoint(resp.GetCheckpoint(), v.Name(), v)
		if err != nil {
			return fmt.Errorf("ledger watch: checkpoint not signed by the ledger key %s: %w", v.Name(), err)
		}
		status := "first seen"
		switch {
		case lastCP == nil:
		case cp.Size < lastCP.Size:
			return fmt.Errorf("ledger watch: %w: the log shrank from %d to %d entries\nlast:\n%s\nnow:\n%s", errInconsistent, lastCP.Size, cp.Size, last, resp.GetCheckpoint())
		case cp.Size == lastCP.Size:
			if !bytes.Equal(cp.Hash, lastCP.Hash) {
				return fmt.Errorf("ledger watch: %w: two roots for a log of %d entries\nlast:\n%s\nnow:\n%s", errInconsistent, cp.Size, last, resp.GetCheckpoint())
			}
			status = "unchanged"
		default:
			proof, err := c.ConsistencyProof(ctx, lastCP.Size, cp.Size)
			if err != nil {
				return fmt.Errorf("ledger watch: consistency proof from %d to %d: %w", lastCP.Size, cp.Size, err)
			}
			if err := ledger.VerifyConsistency(last, resp.GetCheckpoint(), v.Name(), v, proof); err != nil {
				return fmt.Errorf("ledger watch: %w: the log of %d entries does not extend the one of %d seen before: %w\nlast:\n%s\nnow:\n%s", errInconsistent, cp.Size, lastCP.Size, err, last, resp.GetCheckpoint())
			}
			status = fmt.Sprintf("consistent with size %d", lastCP.Size)
		}
		fprintf(stdout, "%s  height %d  size %d  root %x  %s\n", time.Now().UTC().Format(time.RFC3339), resp.GetHeight(), cp.Size, cp.Hash, status)
		last, lastCP = resp.GetCheckpoint(), cp
	}
	if last == nil {
		return fmt.Errorf("ledger watch: no checkpoint from %s", *server)
	}
	return nil
}
