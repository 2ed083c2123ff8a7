package ledger_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// TestBackupRestore backs a ledger up from a snapshot while blocks keep
// coming: the restored ledger verifies block by block, and its tip,
// checkpoint and latest anchor are the snapshot's, none of the blocks
// after it.
func TestBackupRestore(t *testing.T) {
	ctx := t.Context()
	n := newNet(t, filepath.Join(t.TempDir(), "src"))
	n.setup(nil, 0)
	var prev []byte
	for seq := uint64(1); seq <= 20; seq++ {
		root := h32(fmt.Sprint("root", seq))
		n.must("agency", anchor(seq, root, prev))
		prev = root
	}
	cp, head, err := n.l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	snap, err := n.l.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if snap.Head().Height != head.Height || !bytes.Equal(snap.Head().Hash, head.Hash) {
		t.Fatalf("snapshot head %d, ledger's %d", snap.Head().Height, head.Height)
	}
	// Blocks after the snapshot, some while it is written out.
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 50 {
			if _, err := n.submit("agency", ledger.AuditEntry(&zkv1.Audit{CollectionId: benefitsID, Commitment: h32(fmt.Sprint("audit", i))})); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var buf bytes.Buffer
	if err := snap.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n.l.Head().Height <= head.Height {
		t.Fatal("no block after the snapshot")
	}

	dir := filepath.Join(t.TempDir(), "restored")
	if err := ledger.Restore(dir, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(dir, n.node, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Verify(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got, gotHead, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, cp) || gotHead.Height != head.Height || !bytes.Equal(gotHead.Hash, head.Hash) {
		t.Fatalf("restored checkpoint at height %d:\n%s\nwant height %d:\n%s", gotHead.Height, got, head.Height, cp)
	}
	latest, err := l.LatestAnchor(benefitsID)
	if err != nil || latest.Sequence != 20 || !bytes.Equal(latest.Root, prev) {
		t.Fatalf("restored latest anchor %+v, %v", latest, err)
	}
	// The restored ledger goes on from its tip.
	tx, err := ledger.NewTx(l.Chain(), n.ids["agency"], l.State().Participants["agency"].Sequence+1, time.Now(), anchor(21, h32("root21"), prev))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := l.SubmitTx(ctx, tx)
	if err != nil || rec.Height != head.Height+1 {
		t.Fatalf("a block after the restore: %+v, %v", rec, err)
	}
}

// TestLedgerBackupWhileWriting: Ledger.Backup under a steady stream of
// blocks gives a ledger that verifies.
func TestLedgerBackupWhileWriting(t *testing.T) {
	ctx := t.Context()
	n := newNet(t, filepath.Join(t.TempDir(), "src"))
	n.setup(nil, 0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := n.submit("agency", ledger.AuditEntry(&zkv1.Audit{CollectionId: benefitsID, Commitment: h32(fmt.Sprint("audit", i))})); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for i := range 3 {
		var buf bytes.Buffer
		if err := n.l.Backup(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), fmt.Sprint("restored", i))
		if err := ledger.Restore(dir, &buf); err != nil {
			t.Fatal(err)
		}
		l, err := ledger.Open(dir, nil, ledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = l.Verify(ctx, nil)
		l.Close()
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
}

// TestLedgerRestoreRefuses: a frame declaring more than a restore accepts
// fails before anything allocates it; a ledger is never restored over
// another.
func TestLedgerRestoreRefuses(t *testing.T) {
	huge := binary.LittleEndian.AppendUint64(nil, 1<<40)
	if err := ledger.Restore(filepath.Join(t.TempDir(), "l"), bytes.NewReader(huge)); !errors.Is(err, ledger.ErrBackupFrame) {
		t.Fatalf("a 1 TiB frame: %v", err)
	}
	n := newNet(t, filepath.Join(t.TempDir(), "src"))
	var buf bytes.Buffer
	if err := n.l.Backup(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	if err := ledger.Restore(n.dir+"-copy", bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := ledger.Restore(n.dir+"-copy", bytes.NewReader(buf.Bytes())); err == nil {
		t.Fatal("restored over an existing ledger")
	}
}
