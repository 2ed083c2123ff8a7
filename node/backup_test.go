package node_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/node/datadir"
	"github.com/zkshare/zkshare/records"
)

// canary is a record value that must never be readable in an encrypted
// archive.
const canary = "CANARY-VALUE-5e1f0a"

const canarySchema = `{"name":"people","key":"id","fields":[{"name":"income","type":"uint","width":32},{"name":"status","type":"string"}]}`

// offlineNode makes a stopped node's data directory without circuit keys:
// Init's ledger and identities, a policy file, and a holder store (with
// key, encrypted at rest) with one committed collection.
func offlineNode(t *testing.T, key []byte) string {
	t.Helper()
	ctx := t.Context()
	data := filepath.Join(t.TempDir(), "node.d")
	if err := node.Init(data, "backup.example/ledger", true, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(datadir.Policies(data), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(datadir.Policies(data), "holder%2Fpeople.json"), []byte(`{"rules":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var opts []holder.Option
	if key != nil {
		opts = append(opts, holder.WithEncryptionKey(key))
	}
	st, err := holder.Open(datadir.HolderStore(data), nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sc, err := records.ParseSchema([]byte(canarySchema))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateCollection(ctx, "holder/people", sc); err != nil {
		t.Fatal(err)
	}
	recs := []records.Record{{Key: "a", Values: []string{"10", canary}}, {Key: "b", Values: []string{"20", "ok"}}}
	if _, err := st.Commit(ctx, "holder/people", recs, nil); err != nil {
		t.Fatal(err)
	}
	return data
}

func backupDir(t *testing.T, data string, key []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := node.BackupDir(t.Context(), data, &buf, node.BackupOptions{EncryptionKey: key}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBackupDirRestore: an offline backup restored is the same directory:
// the same files byte for byte, a ledger that verifies with the same tip,
// and the same holder store.
func TestBackupDirRestore(t *testing.T) {
	ctx := t.Context()
	data := offlineNode(t, nil)
	arch := backupDir(t, data, nil)
	if !bytes.Contains(arch, []byte(canary)) {
		t.Fatal("a plain archive does not hold the record: the encryption test below proves nothing")
	}
	// An empty directory is a fine target too.
	dst := filepath.Join(t.TempDir(), "restored")
	if err := os.Mkdir(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	m, err := node.Restore(ctx, bytes.NewReader(arch), dst, node.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != node.BackupFormat || m.NodeID != node.NodeID || m.Origin != "backup.example/ledger" || len(m.Collections) != 1 || m.Collections[0].Count != 2 {
		t.Fatalf("manifest %+v", m)
	}
	for _, f := range []string{"tokens.json", "identities/admin.json", "identities/admin.token", "identities/node.json",
		"identities/holder.json", "identities/holder.token", "policies/holder%2Fpeople.json"} {
		want, err := os.ReadFile(filepath.Join(data, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dst, f))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: restored %q, %v; want %q", f, got, err, want)
		}
	}
	src, err := ledger.Open(datadir.Ledger(data), nil, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantHead := src.Head()
	src.Close()
	l, err := ledger.Open(datadir.Ledger(dst), nil, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Verify(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if h := l.Head(); h.Height != wantHead.Height || !bytes.Equal(h.Hash, wantHead.Hash) || !bytes.Equal(h.LogRoot, wantHead.LogRoot) {
		t.Fatalf("restored tip %d, want %d", h.Height, wantHead.Height)
	}
	st, err := holder.Open(datadir.HolderStore(dst), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err := st.Record(ctx, "holder/people", "a")
	if err != nil || w.Raw.Values[1] != canary {
		t.Fatalf("restored record %+v, %v", w, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "identities", "node.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("restored key file mode %v, %v", fi.Mode(), err)
	}
}

// TestBackupFreshNode: a node whose holder store was never written backs
// up (an empty store stream) and restores.
func TestBackupFreshNode(t *testing.T) {
	data := filepath.Join(t.TempDir(), "fresh")
	if err := node.Init(data, "", true, nil); err != nil {
		t.Fatal(err)
	}
	arch := backupDir(t, data, nil)
	dst := filepath.Join(t.TempDir(), "restored")
	m, err := node.Restore(t.Context(), bytes.NewReader(arch), dst, node.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.HolderVersion != 0 || len(m.Collections) != 0 || !node.Initialized(dst) {
		t.Fatalf("restored %+v", m)
	}
}

// entry is one tar entry of an archive being tampered with.
type entry struct {
	hdr  *tar.Header
	body []byte
}

func untar(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{h, body})
	}
}

func retar(t *testing.T, es []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := *e.hdr
		h.Size = int64(len(e.body))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil && h.Size > 0 {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// edit returns the archive with f applied to its entries.
func edit(t *testing.T, arch []byte, f func([]entry) []entry) []byte {
	return retar(t, f(untar(t, arch)))
}

// before inserts e before the entry named name.
func before(es []entry, name string, e entry) []entry {
	i := slices.IndexFunc(es, func(x entry) bool { return x.hdr.Name == name })
	return slices.Insert(es, i, e)
}

func regular(name string, body []byte) entry {
	return entry{&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600}, body}
}

// TestRestoreRefuses: restore refuses a target that is not new or empty,
// and an archive that is not whole, was changed, or holds an entry it does
// not know, a path leaving the directory or a link; every refusal leaves
// the target's parent as it was.
func TestRestoreRefuses(t *testing.T) {
	arch := backupDir(t, offlineNode(t, nil), nil)
	manifest := func(f func(m map[string]any)) func([]entry) []entry {
		return func(es []entry) []entry {
			var m map[string]any
			if err := json.Unmarshal(es[0].body, &m); err != nil {
				t.Fatal(err)
			}
			f(m)
			es[0].body, _ = json.Marshal(m)
			return es
		}
	}
	for _, tc := range []struct {
		name    string
		arch    []byte
		target  func(dir string) // prepares the target
		want    error            // nil: any error
		message string
	}{
		{name: "non-empty target", arch: arch, target: func(d string) { os.MkdirAll(d, 0o700); os.WriteFile(filepath.Join(d, "x"), nil, 0o600) }, want: node.ErrRestoreTarget},
		{name: "file target", arch: arch, target: func(d string) { os.WriteFile(d, nil, 0o600) }, want: node.ErrRestoreTarget},
		{name: "empty archive", arch: nil, want: node.ErrBadArchive},
		{name: "not an archive", arch: []byte("hello, world"), want: node.ErrBadArchive},
		{name: "unknown format", arch: edit(t, arch, manifest(func(m map[string]any) { m["format"] = 2 })), want: node.ErrBadArchive, message: "format 2"},
		{name: "tampered manifest", arch: edit(t, arch, manifest(func(m map[string]any) { m["node_id"] = "mallory" })), want: node.ErrBadArchive, message: "manifest.json differs"},
		{name: "unknown manifest field", arch: edit(t, arch, manifest(func(m map[string]any) { m["extra"] = true })), want: node.ErrBadArchive},
		{name: "dotdot", arch: edit(t, arch, func(es []entry) []entry {
			return before(es, "end.json", regular("identities/../../evil.json", []byte("{}")))
		}), want: node.ErrBadArchive, message: "leaves the directory"},
		{name: "dotdot first", arch: edit(t, arch, func(es []entry) []entry {
			return before(es, "tokens.json", regular("../evil.json", []byte("{}")))
		}), want: node.ErrBadArchive, message: "leaves the directory"},
		{name: "absolute", arch: edit(t, arch, func(es []entry) []entry {
			return before(es, "end.json", regular("/tmp/evil.json", []byte("{}")))
		}), want: node.ErrBadArchive, message: "leaves the directory"},
		{name: "symlink", arch: edit(t, arch, func(es []entry) []entry {
			return before(es, "end.json", entry{&tar.Header{Typeflag: tar.TypeSymlink, Name: "identities/x.json", Linkname: "/etc/passwd"}, nil})
		}), want: node.ErrBadArchive, message: "not a regular file"},
		{name: "unknown entry", arch: edit(t, arch, func(es []entry) []entry {
			return before(es, "end.json", regular("notes.txt", []byte("hi")))
		}), want: node.ErrBadArchive, message: "unknown entry"},
		{name: "oversize file", arch: edit(t, arch, func(es []entry) []entry {
			return before(es, "end.json", regular("policies/big.json", make([]byte, 2<<20)))
		}), want: node.ErrBadArchive, message: "more than"},
		{name: "file dropped", arch: edit(t, arch, func(es []entry) []entry {
			return slices.DeleteFunc(es, func(e entry) bool { return e.hdr.Name == "identities/admin.token" })
		}), want: node.ErrBadArchive},
		{name: "end dropped", arch: edit(t, arch, func(es []entry) []entry { return es[:len(es)-1] }), want: node.ErrBadArchive, message: "cut short"},
		{name: "truncated", arch: arch[:len(arch)/2], want: node.ErrBadArchive},
		{name: "truncated in a part", arch: arch[:2048], want: node.ErrBadArchive},
		{name: "truncated into an empty dir", arch: arch[:len(arch)-700], target: func(d string) { os.Mkdir(d, 0o700) }, want: node.ErrBadArchive},
		{name: "part changed", arch: edit(t, arch, func(es []entry) []entry {
			for _, e := range es {
				if e.hdr.Name == "ledger.badger/00000000" {
					e.body[len(e.body)/2] ^= 1
				}
			}
			return es
		})},
		{name: "parts out of order", arch: edit(t, arch, func(es []entry) []entry {
			for _, e := range es {
				if e.hdr.Name == "ledger.badger/00000000" {
					e.hdr.Name = "ledger.badger/00000001"
				}
			}
			return es
		}), want: node.ErrBadArchive, message: "out of order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			target := filepath.Join(parent, "restored")
			if tc.target != nil {
				tc.target(target)
			}
			before := listTree(t, filepath.Dir(parent))
			_, err := node.Restore(t.Context(), bytes.NewReader(tc.arch), target, node.RestoreOptions{})
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("restore: %v; want %v %q", err, tc.want, tc.message)
			}
			if after := listTree(t, filepath.Dir(parent)); !slices.Equal(before, after) {
				t.Fatalf("a refused restore left %v (before: %v)", after, before)
			}
		})
	}
}

// listTree lists every path under dir.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		out = append(out, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBackupEncrypted: a node that encrypts its holder store at rest makes
// encrypted archives: no record value in them, and a restore needs the
// key; it then encrypts the restored store with it.
func TestBackupEncrypted(t *testing.T) {
	ctx := t.Context()
	key := bytes.Repeat([]byte{0x5a}, 32)
	arch := backupDir(t, offlineNode(t, key), key)
	if bytes.Contains(arch, []byte(canary)) || bytes.Contains(arch, []byte("manifest.json")) {
		t.Fatal("an encrypted archive shows its contents")
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if _, err := node.Restore(ctx, bytes.NewReader(arch), dst, node.RestoreOptions{}); !errors.Is(err, node.ErrArchiveKey) || !strings.Contains(err.Error(), "no key") {
		t.Fatalf("restore without the key: %v", err)
	}
	if _, err := node.Restore(ctx, bytes.NewReader(arch), dst, node.RestoreOptions{EncryptionKey: bytes.Repeat([]byte{1}, 32)}); !errors.Is(err, node.ErrArchiveKey) || !strings.Contains(err.Error(), "another") {
		t.Fatalf("restore with another key: %v", err)
	}
	cut := arch[:len(arch)-100]
	if _, err := node.Restore(ctx, bytes.NewReader(cut), dst, node.RestoreOptions{EncryptionKey: key}); !errors.Is(err, node.ErrBadArchive) {
		t.Fatalf("restore of a cut encrypted archive: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dst)); len(entries) != 0 {
		t.Fatalf("refused restores left %v", entries)
	}
	m, err := node.Restore(ctx, bytes.NewReader(arch), dst, node.RestoreOptions{EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if !m.EncryptedAtRest {
		t.Fatal("the manifest does not say the store was encrypted at rest")
	}
	if st, err := holder.Open(datadir.HolderStore(dst), nil); err == nil {
		st.Close()
		t.Fatal("the restored store opened without its key")
	}
	st, err := holder.Open(datadir.HolderStore(dst), nil, holder.WithEncryptionKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if w, err := st.Record(ctx, "holder/people", "a"); err != nil || w.Raw.Values[1] != canary {
		t.Fatalf("restored record %+v, %v", w, err)
	}
	if _, enc, err := node.ReadBackupManifest(bytes.NewReader(arch), nil); !enc || !errors.Is(err, node.ErrArchiveKey) {
		t.Fatalf("manifest of an encrypted archive without the key: %v %v", enc, err)
	}
}

// TestBackupDirRefuses: an offline backup of a directory a running node
// holds, or of a consortium organisation's, is refused, saying so.
func TestBackupDirRefuses(t *testing.T) {
	data := offlineNode(t, nil)
	st, err := holder.Open(datadir.HolderStore(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = node.BackupDir(t.Context(), data, io.Discard, node.BackupOptions{})
	st.Close()
	if !errors.Is(err, holder.ErrLocked) {
		t.Fatalf("backup of a store in use: %v", err)
	}
	cons := filepath.Join(t.TempDir(), "org1")
	if err := os.MkdirAll(filepath.Join(cons, "cometbft", "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cons, "cometbft", "config", "genesis.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := node.BackupDir(t.Context(), cons, io.Discard, node.BackupOptions{}); err == nil || !strings.Contains(err.Error(), "consortium") {
		t.Fatalf("backup of a consortium organisation: %v", err)
	}
}

// TestNodeBackup: a running node's backup is its admin's alone; restored,
// it opens as a node with the collection's anchored root, without the
// commit made after the backup, and its tokens authenticate.
func TestNodeBackup(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	n := open(t, data)
	if _, _, err := n.CreateCollection(ctx, holderC, node.NewCollection{Schema: []byte(schema)}); err != nil {
		t.Fatal(err)
	}
	c1, err := n.Commit(ctx, holderC, "people", []records.Record{{Key: "a", Values: []string{"10", "20"}}, {Key: "b", Values: []string{"30", "40"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []node.Caller{holderC, {ID: "bank", Role: zkv1.Role_ROLE_CONSUMER}, {ID: "admin2", Role: zkv1.Role_ROLE_ADMIN}, {}} {
		if err := n.Backup(ctx, c, io.Discard); !errors.Is(err, node.ErrPermissionDenied) {
			t.Fatalf("backup by %+v: %v", c, err)
		}
	}
	var buf bytes.Buffer
	if err := n.Backup(ctx, adminC, &buf); err != nil {
		t.Fatal(err)
	}
	height := n.Ledger().Head().Height
	if _, err := n.Commit(ctx, holderC, "people", []records.Record{{Key: "later", Values: []string{"1", "2"}}}); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if _, err := node.Restore(ctx, &buf, dst, node.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	r := open(t, dst)
	if got := r.Ledger().Head().Height; got != height {
		t.Fatalf("restored ledger at height %d, want %d", got, height)
	}
	info, err := r.Collection(ctx, holderC, "people")
	if err != nil {
		t.Fatal(err)
	}
	if info.GetRecordCount() != 2 || !bytes.Equal(info.GetRoot(), c1.Root) {
		t.Fatalf("restored collection %v, want 2 records under the first commit's root", info)
	}
	if c, err := r.Authenticate(token(t, data, node.HolderID)); err != nil || c.ID != node.HolderID {
		t.Fatalf("holder token on the restored node: %+v, %v", c, err)
	}
	// It goes on: a commit anchors the next root.
	if _, err := r.Commit(ctx, holderC, "people", []records.Record{{Key: "c", Values: []string{"5", "6"}}}); err != nil {
		t.Fatal(err)
	}
}

// TestNodeBackupEncrypted: a running node with an encryption key at rest
// streams an encrypted archive, which restores with that key only, into a
// node that opens with it.
func TestNodeBackupEncrypted(t *testing.T) {
	ctx := t.Context()
	key := bytes.Repeat([]byte{0x3c}, 32)
	n, err := node.Open(ctx, node.Config{Data: t.TempDir(), Keys: sharedKeys(t), EncryptionKey: key, ProveConcurrency: 1, ProveQueue: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, _, err := n.CreateCollection(ctx, holderC, node.NewCollection{Schema: []byte(canarySchema)}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Commit(ctx, holderC, "people", []records.Record{{Key: "a", Values: []string{"10", canary}}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := n.Backup(ctx, adminC, &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("age-encryption.org/v1\n")) || bytes.Contains(buf.Bytes(), []byte(canary)) {
		t.Fatal("the archive of a node encrypted at rest is not encrypted")
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if _, err := node.Restore(ctx, bytes.NewReader(buf.Bytes()), dst, node.RestoreOptions{}); !errors.Is(err, node.ErrArchiveKey) {
		t.Fatalf("restore without the key: %v", err)
	}
	if _, err := node.Restore(ctx, &buf, dst, node.RestoreOptions{EncryptionKey: key}); err != nil {
		t.Fatal(err)
	}
	r, err := node.Open(ctx, node.Config{Data: dst, Keys: sharedKeys(t), EncryptionKey: key, ProveConcurrency: 1, ProveQueue: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if info, err := r.Collection(ctx, holderC, "people"); err != nil || info.GetRecordCount() != 1 {
		t.Fatalf("restored collection %v, %v", info, err)
	}
}
