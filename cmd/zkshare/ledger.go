package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
)

// A data directory's layout is the node engine's.
func ledgerDir(data string) string        { return node.LedgerDir(data) }
func identityPath(data, id string) string { return node.IdentityPath(data, id) }

// cmdLedgerInit creates a node's data directory with node.Init, the same
// bootstrap `serve` runs on a first start: `serve` then opens it as it is.
func cmdLedgerInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("ledger init", stderr)
	data := f.String("data", envOr("ZKSHARE_DATA", "zkshare.d"), "data directory")
	origin := f.String("origin", node.DefaultOrigin, "the ledger's name, first line of its checkpoints")
	dev := f.Bool("dev", false, "mark the ledger for development: it accepts single-party circuit keys (`keys setup`), whose maker can forge proofs")
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if err := node.Init(*data, *origin, *dev, e.log); err != nil {
		return fmt.Errorf("ledger init: %w", err)
	}
	ids := map[string]*ledger.Identity{}
	for _, id := range []string{node.AdminID, node.NodeID, node.HolderID} {
		if ids[id], err = ledger.LoadIdentity(identityPath(*data, id)); err != nil {
			return err
		}
	}
	vkey, err := note.NewEd25519VerifierKey(*origin, ids[node.NodeID].Public())
	if err != nil {
		return err
	}
	fprintf(stdout, "ledger %s in %s\n", *origin, ledgerDir(*data))
	for _, id := range []string{node.AdminID, node.NodeID, node.HolderID} {
		fprintf(stdout, "%-14s %s (%s)\n", id+" key", base64.StdEncoding.EncodeToString(ids[id].Public()), identityPath(*data, id))
	}
	fprintf(stdout, "checkpoint key %s\n", vkey)
	fprintf(stdout, "tokens         %s, %s\n", node.TokenPath(*data, node.AdminID), node.TokenPath(*data, node.HolderID))
	return nil
}

// openLedger opens a data directory's ledger as its node when the node's
// identity is there (so it can sign checkpoints), read-only otherwise.
func openLedger(data string, e *env) (*ledger.Ledger, error) {
	var node *ledger.Identity
	if _, err := os.Stat(identityPath(data, "node")); err == nil {
		if node, err = ledger.LoadIdentity(identityPath(data, "node")); err != nil {
			return nil, err
		}
	}
	return ledger.Open(ledgerDir(data), node, ledger.Options{Log: e.log})
}

func cmdLedgerVerify(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	f := newFlags("ledger verify", stderr)
	data := f.String("data", envOr("ZKSHARE_DATA", "zkshare.d"), "data directory")
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	l, err := ledger.Open(ledgerDir(*data), nil, ledger.Options{Log: e.log})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	start := time.Now()
	p := progress(stderr)
	err = l.Verify(ctx, func(done, total uint64) { p("verify", int(done), int(total)) })
	var bb *ledger.BadBlockError
	if errors.As(err, &bb) {
		fprintf(stdout, "FAIL: first bad block is %d: %s\n", bb.Height, bb.Reason)
		return err
	}
	if err != nil {
		return err
	}
	h := l.Head()
	fprintf(stdout, "ok: %d blocks, %d transactions, every signature, transaction root, log root and state hash checked (%s)\n",
		h.Height, h.LogSize, time.Since(start).Round(time.Millisecond))
	fprintf(stdout, "log root %x\n", h.LogRoot)
	return nil
}

func cmdLedgerShow(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	f := newFlags("ledger show", stderr)
	data := f.String("data", envOr("ZKSHARE_DATA", "zkshare.d"), "data directory")
	txHash := f.String("tx", "", "show this transaction (hex hash) with its inclusion proof")
	recent := f.Int("blocks", 10, "how many recent blocks to list")
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	l, err := openLedger(*data, e)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	h := l.Head()
	fprintf(stdout, "origin   %s\nheight   %d\ntime     %s\nlog size %d\nlog root %x\n",
		l.Origin(), h.Height, time.UnixMilli(h.TimeUnixMs).UTC().Format(time.RFC3339Nano), h.LogSize, h.LogRoot)
	if vkey, err := note.NewEd25519VerifierKey(l.Origin(), l.NodeKey()); err == nil {
		fprintf(stdout, "checkpoint key %s   (zkshare verify --ledger-key)\n", vkey)
	}
	cp, _, cpErr := l.Checkpoint()
	if cpErr == nil {
		fprintf(stdout, "\ncheckpoint:\n%s", cp)
	}
	if *txHash != "" {
		return showTx(l, *txHash, cp, stdout)
	}
	from := uint64(1)
	if h.Height > uint64(*recent) {
		from = h.Height - uint64(*recent) + 1
	}
	hdrs, err := l.Blocks(from, h.Height, *recent)
	if err != nil {
		return err
	}
	fprintln(stdout, "\nrecent blocks:")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fprintln(tw, "height\ttime\ttxs\tlog size\tproposer\ttx root")
	for i := len(hdrs) - 1; i >= 0; i-- {
		b := hdrs[i]
		fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%.16x\n", b.GetHeight(), time.UnixMilli(b.GetTimeUnixMs()).UTC().Format(time.RFC3339), b.GetTxCount(), b.GetLogSize(), b.GetProposer(), b.GetTxRoot())
	}
	return tw.Flush()
}

func showTx(l *ledger.Ledger, hash string, checkpoint []byte, stdout io.Writer) error {
	b, err := hex.DecodeString(hash)
	if err != nil || len(b) != 32 {
		return fmt.Errorf("--tx: want 64 hex digits")
	}
	en, err := l.Transaction(b)
	if err != nil {
		return err
	}
	body, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(en.Tx.Body)
	if err != nil {
		return err
	}
	fprintf(stdout, "\ntransaction %x\nheight %d, log index %d\n%s\n", en.Tx.Hash, en.Height, en.LogIndex, body)
	size := l.Head().LogSize
	p, err := l.InclusionProof(en.LogIndex, size)
	if err != nil {
		return err
	}
	fprintf(stdout, "inclusion proof (index %d, size %d):\n", en.LogIndex, size)
	for _, h := range p {
		fprintf(stdout, "  %x\n", h)
	}
	if checkpoint != nil {
		v, err := ledger.NoteVerifier(l.Origin(), l.NodeKey())
		if err != nil {
			return err
		}
		if _, err := ledger.VerifyInclusion(checkpoint, l.Origin(), v, en.Tx.Raw, en.LogIndex, p); err != nil {
			return fmt.Errorf("inclusion proof does not verify: %w", err)
		}
		fprintln(stdout, "verified against the checkpoint above")
	}
	return nil
}
