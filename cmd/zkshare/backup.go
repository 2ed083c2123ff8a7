package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/internal/atrest"
	"github.com/zkshare/zkshare/node"
)

// cmdBackup writes a node's backup archive: from the running node through
// its API (--server, the admin's token), or from a stopped node's data
// directory (--data). The archive goes to a temporary file beside --out,
// renamed into place once whole: a failed backup leaves no archive that
// looks like one.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	f := newFlags("backup", stderr)
	data := f.String("data", "", "back up the stopped node of this data directory")
	out := f.String("out", "", "write the archive here (never overwritten)")
	keyFile := storeKeyFlag(f)
	r := remoteFlags(f)
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if *out == "" || r.on() == (*data != "") {
		return errors.New("backup: want --out FILE and either --server URL --token-file ADMIN.token (a running node) or --data DIR (a stopped one)")
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("backup: %s exists: not overwriting it", *out)
	}
	key, from, err := storeKey(*keyFile, e.log)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".part-")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			// The archive is incomplete: it must not stay behind.
			err = errors.Join(err, tmp.Close(), os.Remove(tmp.Name()))
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	start := time.Now()
	pw := &progressWriter{w: tmp, meter: meter{show: byteProgress(stderr, "backup", 0), start: start}}
	if r.on() {
		c, err := r.client()
		if err != nil {
			return err
		}
		if _, err := c.Backup(ctx, pw); err != nil {
			return err
		}
	} else {
		_, err := node.BackupDir(ctx, *data, pw, node.BackupOptions{EncryptionKey: key, Log: e.log})
		if errors.Is(err, holder.ErrLocked) {
			return fmt.Errorf("backup: %s is in use by a running node\nhint: back it up through the node: zkshare backup --server URL --token-file %s --out %s",
				*data, node.TokenPath(*data, node.AdminID), *out)
		}
		if err != nil {
			return keyHint(err, from)
		}
	}
	pw.done()
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("backup: %s appeared meanwhile: not overwriting it", *out)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return describeArchive(*out, key, pw.n, time.Since(start), stdout, stderr)
}

// describeArchive prints what an archive just written holds, and warns
// when it is not encrypted.
func describeArchive(path string, key []byte, size int64, took time.Duration, stdout, stderr io.Writer) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = fh.Close() }() // read only
	m, encrypted, err := node.ReadBackupManifest(fh, key)
	switch {
	case errors.Is(err, node.ErrArchiveKey):
		fprintf(stdout, "backup %s: %s in %s, encrypted (restore needs the node's encryption key)\n", path, formatBytes(size), took.Round(time.Millisecond))
		return nil
	case err != nil:
		return fmt.Errorf("backup: reading back %s: %w", path, err)
	}
	how := "NOT encrypted"
	if encrypted {
		how = "encrypted with the node's encryption key"
	}
	fprintf(stdout, "backup %s: %s in %s, %s\n", path, formatBytes(size), took.Round(time.Millisecond), how)
	fprintf(stdout, "node %s, ledger %s at height %d, holder store version %d, %d collection(s)\n",
		m.NodeID, m.Origin, m.LedgerHeight, m.HolderVersion, len(m.Collections))
	for _, c := range m.Collections {
		fprintf(stdout, "  %-24s %d records, root %.16s…\n", c.Name, c.Count, c.Root)
	}
	if !encrypted {
		fprintln(stderr, "WARNING: this archive is not encrypted: it holds the holder's records and salts, and the node's private keys and tokens,\n"+
			"in the clear. Keep it as safe as the data directory (a node with --encryption-key-file makes encrypted archives).")
	} else {
		fprintln(stderr, "The archive holds the node's private keys and tokens: keep it, and the encryption key apart from it, safe.")
	}
	return nil
}

// cmdRestore makes a data directory from a backup archive.
func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	f := newFlags("restore", stderr)
	in := f.String("in", "", "the backup archive")
	data := f.String("data", "", "restore into this directory (it must not exist, or be empty)")
	keyFile := storeKeyFlag(f)
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if *in == "" || *data == "" {
		return errors.New("restore: want --in FILE and --data DIR")
	}
	key, from, err := storeKey(*keyFile, e.log)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fh, err := os.Open(*in)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer func() { _ = fh.Close() }() // read only
	var total int64
	if st, err := fh.Stat(); err == nil {
		total = st.Size()
	}
	start := time.Now()
	pr := &progressReader{r: fh, meter: meter{show: byteProgress(stderr, "restore", total)}}
	m, err := node.Restore(ctx, pr, *data, node.RestoreOptions{EncryptionKey: key, Log: e.log})
	pr.done()
	if err != nil {
		if errors.Is(err, node.ErrArchiveKey) {
			if key == nil {
				return fmt.Errorf("%w\nhint: give the node's key with --encryption-key-file FILE or $%s", err, atrest.EnvVar)
			}
			return fmt.Errorf("%w\nhint: the key tried came from %s", err, from)
		}
		return err
	}
	fprintf(stdout, "restored %s from %s in %s: node %s, ledger %s at height %d, holder store version %d, %d collection(s)\n",
		*data, *in, time.Since(start).Round(time.Millisecond), m.NodeID, m.Origin, m.LedgerHeight, m.HolderVersion, len(m.Collections))
	serve := "zkshare serve --data " + *data + " --keys KEYS"
	if key != nil {
		serve += " --encryption-key-file FILE"
	}
	fprintf(stderr, "check it: zkshare ledger verify --data %s\nserve it: %s\n", *data, serve)
	return nil
}

// byteProgress shows bytes moved (of total, when known) on a terminal,
// at most a few times a second.
func byteProgress(w io.Writer, phase string, total int64) func(n int64, start time.Time, final bool) {
	if !isTerminal(w) {
		return func(int64, time.Time, bool) {}
	}
	var last time.Time
	return func(n int64, start time.Time, final bool) {
		if !final && time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		rate := float64(n) / max(time.Since(start).Seconds(), 1e-3)
		if total > 0 {
			fprintf(w, "\r%-7s %3d%% %s of %s (%s/s)   ", phase, n*100/max(total, 1), formatBytes(n), formatBytes(total), formatBytes(int64(rate)))
		} else {
			fprintf(w, "\r%-7s %s (%s/s)   ", phase, formatBytes(n), formatBytes(int64(rate)))
		}
		if final {
			fprintln(w)
		}
	}
}

// meter counts the bytes through a progressWriter or progressReader and
// shows them with byteProgress's function.
type meter struct {
	n     int64
	start time.Time
	show  func(int64, time.Time, bool)
}

func (m *meter) add(n int) {
	if m.start.IsZero() {
		m.start = time.Now()
	}
	m.n += int64(n)
	m.show(m.n, m.start, false)
}

func (m *meter) done() { m.show(m.n, m.start, true) }

// progressWriter counts what is written through it.
type progressWriter struct {
	w io.Writer
	meter
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.add(n)
	return n, err
}

// progressReader counts what is read through it.
type progressReader struct {
	r io.Reader
	meter
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.add(n)
	return n, err
}

// formatBytes is n in B, KiB, MiB or GiB.
func formatBytes(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }
