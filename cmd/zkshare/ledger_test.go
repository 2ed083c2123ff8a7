package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"google.golang.org/protobuf/proto"
)

func TestLedgerCLI(t *testing.T) {
	data := t.TempDir()
	out, _, err := zk(t, "ledger", "init", "--data", data, "--origin", "test.example/ledger")
	if err != nil || !strings.Contains(out, "checkpoint key test.example/ledger+") {
		t.Fatalf("init: %v\n%s", err, out)
	}
	if _, _, err := zk(t, "ledger", "init", "--data", data); err == nil {
		t.Fatal("second init succeeded")
	}

	// Add a few transactions the way the service will: as the node.
	admin, err := ledger.LoadIdentity(identityPath(data, "admin"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := ledger.LoadIdentity(identityPath(data, "node"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ledgerDir(data), node, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var last *ledger.Receipt
	for i := range 3 {
		id, _ := ledger.NewIdentity("c" + string(rune('0'+i)))
		tx, err := ledger.NewTx(l.Chain(), admin, uint64(i+1), time.Now(), ledger.RegisterParticipant(id.ID, zkv1.Role_ROLE_CONSUMER, id.Public()))
		if err != nil {
			t.Fatal(err)
		}
		if last, err = l.SubmitTx(context.Background(), tx); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	out, _, err = zk(t, "ledger", "show", "--data", data, "--tx", hex.EncodeToString(last.Hash[:]))
	if err != nil || !strings.Contains(out, "verified against the checkpoint above") || !strings.Contains(out, `"registerParticipant"`) {
		t.Fatalf("show --tx: %v\n%s", err, out)
	}
	out, _, err = zk(t, "ledger", "show", "--data", data)
	if err != nil || !strings.Contains(out, "height   3") || !strings.Contains(out, "recent blocks:") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if _, _, err := zk(t, "ledger", "show", "--data", data, "--tx", "zz"); err == nil {
		t.Fatal("show accepted a bad hash")
	}
	out, _, err = zk(t, "ledger", "verify", "--data", data)
	if err != nil || !strings.HasPrefix(out, "ok: 3 blocks, 3 transactions") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	tamperBlock(t, filepath.Join(data, "ledger"), 2)
	out, _, err = zk(t, "ledger", "verify", "--data", data)
	if err == nil || !strings.Contains(out, "first bad block is 2") {
		t.Fatalf("verify after tampering: %v\n%s", err, out)
	}
}

// tamperBlock flips a bit of a transaction signature inside a stored block,
// behind the ledger's back (the key layout is ledger's "b/" + height).
func tamperBlock(t *testing.T, dir string, height uint64) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := binary.BigEndian.AppendUint64([]byte("b/"), height)
	err = db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		var blk zkv1.Block
		var tx zkv1.Tx
		if err := proto.Unmarshal(v, &blk); err != nil {
			return err
		}
		if err := proto.Unmarshal(blk.Txs[0], &tx); err != nil {
			return err
		}
		tx.Signature[0] ^= 1
		opts := proto.MarshalOptions{Deterministic: true}
		if blk.Txs[0], err = opts.Marshal(&tx); err != nil {
			return err
		}
		b, err := opts.Marshal(&blk)
		if err != nil {
			return err
		}
		return txn.Set(key, b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLedgerInitThenServe: `ledger init` then `serve` on one directory is
// one bootstrap (serving used to fail on the missing holder and tokens),
// and serve keeps the ledger init made.
func TestLedgerInitThenServe(t *testing.T) {
	if os.Getenv(testkeys.Env) == "" && testing.Short() {
		t.Skip("key setup is slow")
	}
	keyDir, cleanup, err := testkeys.Dir(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	data := t.TempDir()
	out, _, err := zk(t, "ledger", "init", "--dev", "--data", data, "--origin", "init.example/ledger")
	if err != nil {
		t.Fatalf("ledger init: %v\n%s", err, out)
	}
	url := serveForTest(t, keyDir, data)
	cp := checkpointOf(t, url)
	if cp.GetOrigin() != "init.example/ledger" || !strings.Contains(out, "checkpoint key "+cp.GetOrigin()) {
		t.Fatalf("serve runs ledger %q, init printed:\n%s", cp.GetOrigin(), out)
	}
	tok, err := os.ReadFile(node.TokenPath(data, node.HolderID))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(url, client.WithToken(strings.TrimSpace(string(tok))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPolicy(t.Context(), "none"); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("the holder's token from ledger init: %v, want NotFound", err)
	}
}

// TestConsortiumInitTokens: `consortium init` runs the node's bootstrap on
// each organisation, so its tokens exist before the first serve, as after
// `ledger init`.
func TestConsortiumInitTokens(t *testing.T) {
	out := filepath.Join(t.TempDir(), "c")
	if o, errs, err := zk(t, "consortium", "init", "--validators", "2", "--out", out, "--base-port", "36656"); err != nil {
		t.Fatalf("consortium init: %v\n%s%s", err, o, errs)
	}
	for _, org := range []string{"org1", "org2"} {
		if _, err := os.Stat(node.TokenPath(filepath.Join(out, org), node.HolderID)); err != nil {
			t.Errorf("%s: no holder token: %v", org, err)
		}
	}
	if _, err := os.Stat(node.TokenPath(filepath.Join(out, "org1"), node.AdminID)); err != nil {
		t.Errorf("org1 (the admin's): no admin token: %v", err)
	}
}
