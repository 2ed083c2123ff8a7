package node

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/zkshare/zkshare/consortium"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/internal/chunk"
	"github.com/zkshare/zkshare/ledger"
)

// A backup archive is a tar stream (encrypted with age when the node
// encrypts its holder store at rest), in this order:
//
//	manifest.json             BackupManifest: format, node, ledger tip, holder version
//	holder.badger/00000000    the holder store at one version, badger's backup
//	holder.badger/00000001    format, cut into parts of at most 4 MiB ...
//	ledger.badger/00000000    the ledger at the same point, likewise
//	identities/ID.json|.token the local identities' keys and API tokens
//	tokens.json               the token hashes
//	policies/NAME.json        the access policies
//	end.json                  every entry's size and SHA-256, the manifest's too
//
// The stores are cut into parts because a tar header gives its entry's
// size first, and a store's backup is streamed, never held whole: a part
// is buffered, and written when full. end.json comes last so a restore
// knows that nothing was cut off, and that no entry changed.

// BackupFormat is the archive format this version writes and reads.
const BackupFormat = 1

// Bounds of what an archive holds, checked before anything is allocated.
const (
	backupPart      = 4 << 20 // a store part
	maxBackupFile   = 1 << 20 // manifest.json, end.json, an identity, token, policy, tokens.json
	maxBackupFiles  = 1 << 16 // regular files
	maxBackupParts  = 1 << 24 // parts of one store (64 TiB)
	backupChunkRead = 64 << 10
)

// The archive's entries.
const (
	entryManifest = "manifest.json"
	entryEnd      = "end.json"
	entryHolder   = "holder.badger"
	entryLedger   = "ledger.badger"
)

var (
	// ErrBadArchive means the archive is not a zkshare backup, is of an
	// unknown format, or is damaged, cut short or changed. Nothing was
	// restored; make another backup.
	ErrBadArchive = errors.New("not a good zkshare backup archive")
	// ErrArchiveKey means the archive is encrypted and the key given (or
	// none) does not open it. Give the encryption key at rest of the node
	// it was made on.
	ErrArchiveKey = errors.New("the archive is encrypted: it opens only with the encryption key of the node it was made on")
	// ErrRestoreTarget means the directory to restore into exists and is
	// not empty (or is not a directory). Restore into a new or empty one.
	ErrRestoreTarget = errors.New("restore needs a directory that does not exist or is empty")
)

// BackupManifest is an archive's first entry: what it is a backup of.
type BackupManifest struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
	// NodeID and HolderID are the ids of the node's identities.
	NodeID   string `json:"node_id"`
	HolderID string `json:"holder_id"`
	// The ledger as the archive holds it: its name, genesis and tip.
	Origin        string `json:"origin"`
	GenesisHash   string `json:"genesis_hash"` // hex
	LedgerHeight  uint64 `json:"ledger_height"`
	LedgerTipHash string `json:"ledger_tip_hash"` // hex, of the tip block's header
	LedgerLogSize uint64 `json:"ledger_log_size"`
	// HolderVersion is the holder store's version the archive holds: no
	// commit was half done at it.
	HolderVersion uint64 `json:"holder_version"`
	// Collections are the holder store's collections at that version.
	Collections []BackupCollection `json:"collections"`
	// EncryptedAtRest says the node encrypted its holder store at rest: a
	// restore needs its key again (and then encrypts the restored store).
	EncryptedAtRest bool `json:"encrypted_at_rest"`
}

// BackupCollection is a collection of the holder store as the archive
// holds it.
type BackupCollection struct {
	Name  string `json:"name"`
	Root  string `json:"root"` // hex, the head's
	Count uint64 `json:"count"`
	// Anchored is how many anchored versions the store keeps of it.
	Anchored int `json:"anchored"`
}

// backupEnd is the last entry: every entry before it, in order, the parts
// of a store as one.
type backupEnd struct {
	Entries []backupEntry `json:"entries"`
}

type backupEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Parts  int    `json:"parts,omitempty"`
	SHA256 string `json:"sha256"`
}

// backupsRunning holds the nodes that are writing a backup: one at a time
// each, since a backup reads whole stores.
var backupsRunning sync.Map

// Backup writes an archive of the node's data to w while the node goes on
// serving: the holder store at one version at which no commit is half done
// and the ledger as it was at that moment, then the identities, tokens and
// policies. Only this node's admin may take it: it holds every record and
// private key of the node. When the node encrypts its holder store at rest,
// the archive is encrypted with a key derived from that key.
func (n *Node) Backup(ctx context.Context, c Caller, w io.Writer) error {
	if n.admin == nil || c.Role != zkv1.Role_ROLE_ADMIN || c.ID != n.admin.ID {
		return errorf(ErrPermissionDenied, "only this node's admin may back it up")
	}
	if n.cfg.Consortium {
		return errorf(ErrFailedPrecondition, "backup of a consortium organisation's node is not supported yet")
	}
	if _, busy := backupsRunning.LoadOrStore(n, true); busy {
		return errorf(ErrResourceExhausted, "a backup of this node is running: wait for it to end")
	}
	defer backupsRunning.Delete(n)
	// A commit holds commitMu from its first write until its root is
	// anchored or rolled back: under it, the store's latest version has no
	// half-done commit, and the ledger holds exactly the anchors of the
	// versions up to it. Both are pinned there; the copying runs without
	// the lock, so commits and proofs go on.
	n.commitMu.Lock()
	at := n.store.Now()
	release, err := func() {}, error(nil)
	if at > 0 {
		release, err = n.store.Pin(at)
	}
	var snap *ledger.Snapshot
	if err == nil {
		if snap, err = n.ledger.Snapshot(); err != nil {
			release()
		}
	}
	n.commitMu.Unlock()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer release()
	defer snap.Close()
	if len(n.cfg.EncryptionKey) == 0 {
		n.log.WarnContext(ctx, "backup archive NOT encrypted: it holds the holder's records, salts and the node's private keys in the clear (a node with an encryption key at rest writes encrypted archives)")
	}
	start := time.Now()
	m, size, err := writeArchive(ctx, w, archiveSource{data: n.cfg.Data, store: n.store, at: at, ledger: snap, key: n.cfg.EncryptionKey, log: n.log})
	if err != nil {
		n.log.WarnContext(ctx, "backup failed", "err", err)
		return err
	}
	n.log.InfoContext(ctx, "backup written", slog.String("caller", c.ID), slog.Uint64("holder_version", m.HolderVersion),
		slog.Uint64("ledger_height", m.LedgerHeight), slog.Int64("bytes", size), slog.Bool("encrypted", len(n.cfg.EncryptionKey) > 0),
		slog.Duration("took", time.Since(start)))
	return nil
}

// BackupOptions configure BackupDir.
type BackupOptions struct {
	// EncryptionKey is the node's holder store key at rest: it opens the
	// store, and the archive is encrypted with a key derived from it.
	EncryptionKey []byte
	Log           *slog.Logger
}

// BackupDir writes an archive of a stopped node's data directory to w (the
// format Node.Backup writes). A running node holds its stores' locks: then
// it fails with holder.ErrLocked, and the backup is the node's to take
// (Node.Backup, `zkshare backup --server`).
func BackupDir(ctx context.Context, data string, w io.Writer, o BackupOptions) (_ *BackupManifest, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if consortium.IsOrg(data) {
		return nil, errors.New("backup of a consortium organisation's directory is not supported yet")
	}
	if !Initialized(data) {
		return nil, fmt.Errorf("backup: %s holds no node (no %s)", data, IdentityPath(data, NodeID))
	}
	var opts []holder.Option
	if len(o.EncryptionKey) > 0 {
		opts = append(opts, holder.WithEncryptionKey(o.EncryptionKey))
	}
	st, err := holder.Open(holderDir(data), o.Log, opts...)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	l, err := ledger.Open(LedgerDir(data), nil, ledger.Options{Log: o.Log})
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	at := st.Now()
	if at > 0 {
		release, err := st.Pin(at)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		defer release()
	}
	snap, err := l.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer snap.Close()
	m, _, err := writeArchive(ctx, w, archiveSource{data: data, store: st, at: at, ledger: snap, key: o.EncryptionKey, log: o.Log})
	return m, err
}

// archiveSource is what an archive is written from.
type archiveSource struct {
	data   string
	store  *holder.Store
	at     holder.Version
	ledger *ledger.Snapshot
	key    []byte
	log    *slog.Logger
}

// archiveWorkFactor is the scrypt work factor of an archive's key stanza.
// The passphrase is 256 bits from the node's key, so scrypt adds no
// strength; it is kept small, and a restore refuses more than
// maxArchiveWorkFactor so an archive cannot make it spend long.
const (
	archiveWorkFactor    = 12
	maxArchiveWorkFactor = 16
)

// archivePassphrase derives an archive's age passphrase from the node's
// at-rest key: another key than the store's own, for one purpose. age's
// scrypt recipient, the only one in its file, also authenticates the
// archive: no one without the key can make an archive that it opens.
func archivePassphrase(key []byte) (string, error) {
	k, err := hkdf.Key(sha256.New, key, nil, "zkshare backup archive v1", 32)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(k), nil
}

// writeArchive writes the archive of src to w and says how many bytes of
// stores and files it held.
func writeArchive(ctx context.Context, w io.Writer, src archiveSource) (*BackupManifest, int64, error) {
	if src.log == nil {
		src.log = slog.New(slog.DiscardHandler)
	}
	m, err := newManifest(src)
	if err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	out := w
	var enc io.WriteCloser
	if len(src.key) > 0 {
		pass, err := archivePassphrase(src.key)
		if err != nil {
			return nil, 0, fmt.Errorf("backup: %w", err)
		}
		r, err := age.NewScryptRecipient(pass)
		if err != nil {
			return nil, 0, fmt.Errorf("backup: %w", err)
		}
		r.SetWorkFactor(archiveWorkFactor)
		if enc, err = age.Encrypt(w, r); err != nil {
			return nil, 0, fmt.Errorf("backup: encrypt: %w", err)
		}
		out = enc
	}
	aw := &archiveWriter{tw: tar.NewWriter(out), mod: m.Created}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, 0, err
	}
	if err := aw.file(entryManifest, mb); err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	hp := aw.parts(entryHolder)
	// A store never written (version 0) has nothing to copy.
	if src.at > 0 {
		if err := src.store.Backup(ctx, hp, src.at); err != nil {
			return nil, 0, fmt.Errorf("backup: %w", err)
		}
	}
	if err := hp.close(); err != nil {
		return nil, 0, fmt.Errorf("backup: holder store: %w", err)
	}
	lp := aw.parts(entryLedger)
	if err := src.ledger.Backup(ctx, lp); err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	if err := lp.close(); err != nil {
		return nil, 0, fmt.Errorf("backup: ledger: %w", err)
	}
	// The files after the stores: a token issued while the stores were
	// copied is then in tokens.json, for a participant the ledger copy
	// may not know yet (harmless), never the other way round.
	files, err := dataFiles(src.data, src.log)
	if err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		b, err := readSmall(filepath.Join(src.data, filepath.FromSlash(name)))
		if err != nil {
			return nil, 0, fmt.Errorf("backup: %w", err)
		}
		if err := aw.file(name, b); err != nil {
			return nil, 0, fmt.Errorf("backup: %w", err)
		}
	}
	var size int64
	for _, e := range aw.entries {
		size += e.Size
	}
	eb, err := json.MarshalIndent(backupEnd{Entries: aw.entries}, "", "  ")
	if err != nil {
		return nil, 0, err
	}
	if err := aw.file(entryEnd, eb); err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	if err := aw.tw.Close(); err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	// Only a whole archive is closed: an encrypted one cut short by an
	// error lacks age's last chunk, so it never opens as if whole.
	if enc != nil {
		if err := enc.Close(); err != nil {
			return nil, 0, fmt.Errorf("backup: encrypt: %w", err)
		}
	}
	return m, size, nil
}

func newManifest(src archiveSource) (*BackupManifest, error) {
	nodeID, err := ledger.LoadIdentity(IdentityPath(src.data, NodeID))
	if err != nil {
		return nil, err
	}
	holderID, err := ledger.LoadIdentity(IdentityPath(src.data, HolderID))
	if err != nil {
		return nil, err
	}
	h := src.ledger.Head()
	m := &BackupManifest{Format: BackupFormat, Created: time.Now().UTC().Truncate(time.Second), NodeID: nodeID.ID, HolderID: holderID.ID,
		Origin: src.ledger.Origin(), GenesisHash: hex.EncodeToString(src.ledger.GenesisHash()), LedgerHeight: h.Height,
		LedgerTipHash: hex.EncodeToString(h.Hash), LedgerLogSize: h.LogSize, HolderVersion: uint64(src.at),
		EncryptedAtRest: len(src.key) > 0, Collections: []BackupCollection{}}
	view := src.store.At(src.at)
	cols, err := view.Collections()
	if err != nil {
		return nil, fmt.Errorf("holder store: %w", err)
	}
	for _, c := range cols {
		vs, err := view.Versions(c.Name)
		if err != nil {
			return nil, fmt.Errorf("holder store: %w", err)
		}
		m.Collections = append(m.Collections, BackupCollection{Name: c.Name, Root: c.Root, Count: c.Count, Anchored: len(vs)})
	}
	return m, nil
}

// The regular files an archive may hold besides its stores.
var (
	identityFileRE = regexp.MustCompile(`^identities/[a-z0-9][a-z0-9._-]{0,63}\.(json|token)$`)
	policyFileRE   = regexp.MustCompile(`^policies/[A-Za-z0-9%_-][A-Za-z0-9%._-]{0,254}\.json$`)
	partRE         = regexp.MustCompile(`^(holder|ledger)\.badger/([0-9]{8})$`)
)

const tokensFile = "tokens.json"

func dataFileOK(name string) bool {
	return name == tokensFile || identityFileRE.MatchString(name) || policyFileRE.MatchString(name)
}

// dataFiles lists the regular files of a data directory an archive holds,
// slash-separated. What else is there (a temporary file, a symbolic link)
// is left out, and logged.
func dataFiles(data string, log *slog.Logger) ([]string, error) {
	out := []string{}
	if _, err := os.Lstat(tokensPath(data)); err != nil {
		return nil, err
	}
	out = append(out, tokensFile)
	for _, dir := range []string{"identities", "policies"} {
		entries, err := os.ReadDir(filepath.Join(data, dir))
		if errors.Is(err, fs.ErrNotExist) && dir == "policies" {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name := dir + "/" + e.Name()
			if !e.Type().IsRegular() || !dataFileOK(name) {
				log.Warn("backup leaves out a file it does not know", "file", filepath.Join(data, dir, e.Name()))
				continue
			}
			out = append(out, name)
		}
	}
	if len(out) > maxBackupFiles {
		return nil, fmt.Errorf("%s: %d files, more than a backup holds (%d)", data, len(out), maxBackupFiles)
	}
	return out, nil
}

// readSmall reads a regular file of at most maxBackupFile bytes.
func readSmall(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	b, err := io.ReadAll(io.LimitReader(f, maxBackupFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBackupFile {
		return nil, fmt.Errorf("%s: larger than a backup holds (%d bytes)", p, maxBackupFile)
	}
	return b, nil
}

// archiveWriter writes entries and keeps their sizes and digests.
type archiveWriter struct {
	tw      *tar.Writer
	mod     time.Time
	entries []backupEntry
}

func (a *archiveWriter) header(name string, size int64) error {
	return a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: a.mod, Format: tar.FormatPAX})
}

// file writes one whole entry.
func (a *archiveWriter) file(name string, b []byte) error {
	if err := a.header(name, int64(len(b))); err != nil {
		return err
	}
	if _, err := a.tw.Write(b); err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	a.entries = append(a.entries, backupEntry{Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
	return nil
}

// parts starts a store's stream of parts.
func (a *archiveWriter) parts(name string) *partWriter {
	p := &partWriter{a: a, name: name, sum: sha256.New()}
	p.Writer = chunk.NewWriter(backupPart, p.part)
	return p
}

// partWriter cuts a store's backup stream into entries of backupPart
// bytes, one buffered at a time.
type partWriter struct {
	*chunk.Writer
	a     *archiveWriter
	name  string
	parts int
	size  int64
	sum   hash.Hash
}

// part writes one part as an entry.
func (p *partWriter) part(b []byte) error {
	if err := p.a.header(fmt.Sprintf("%s/%08d", p.name, p.parts), int64(len(b))); err != nil {
		return err
	}
	if _, err := p.a.tw.Write(b); err != nil {
		return err
	}
	p.sum.Write(b)
	p.parts++
	p.size += int64(len(b))
	return nil
}

// close writes the last part and records the stream.
func (p *partWriter) close() error {
	if err := p.Flush(); err != nil {
		return err
	}
	p.a.entries = append(p.a.entries, backupEntry{Name: p.name, Size: p.size, Parts: p.parts, SHA256: hex.EncodeToString(p.sum.Sum(nil))})
	return nil
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// EncryptionKey opens an encrypted archive, and encrypts the restored
	// holder store at rest (the node is then served with the same key).
	EncryptionKey []byte
	Log           *slog.Logger
}

// ageMagic begins every age file.
const ageMagic = "age-encryption.org/v1\n"

// Restore makes the data directory data from an archive (Node.Backup's or
// BackupDir's). data must not exist or be empty (ErrRestoreTarget); its
// parent must exist. Everything is written into a new directory beside it
// (inside it, when it exists), checked (every entry's size and digest, the
// ledger's chain and tip, each collection's root), and renamed into place
// last: a restore that fails leaves nothing behind. A node served on data then has the archive's
// ledger, holder store, identities, tokens and policies.
func Restore(ctx context.Context, r io.Reader, data string, o RestoreOptions) (_ *BackupManifest, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if data == "" {
		return nil, errors.New("restore: give a data directory")
	}
	data = filepath.Clean(data)
	exists, err := checkRestoreTarget(data)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(data)
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("restore: the parent directory %s must exist", parent)
	}
	// A new target is made beside it and renamed into place. An empty
	// directory that exists (perhaps a mount point, which cannot be
	// replaced) gets its temporary directory inside it, and the
	// restored entries are moved up, each a rename.
	base := parent
	if exists {
		base = data
	}
	tmp, err := os.MkdirTemp(base, "."+filepath.Base(data)+".restore-")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	moved := false
	defer func() {
		if err != nil && !moved {
			err = errors.Join(err, os.RemoveAll(tmp))
		}
	}()
	m, err := readArchive(ctx, r, tmp, o)
	if err != nil {
		return nil, err
	}
	if err := checkRestored(ctx, tmp, m, o); err != nil {
		return nil, err
	}
	for _, d := range []string{filepath.Join(tmp, "identities"), filepath.Join(tmp, "policies"), tmp} {
		if err := syncDir(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	if !exists {
		if err := os.Rename(tmp, data); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		if err := syncDir(parent); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	} else if err := moveUp(tmp, data, &moved); err != nil {
		return nil, err
	}
	o.Log.Info("restored", "data", data, "node", m.NodeID, "ledger_height", m.LedgerHeight, "holder_version", m.HolderVersion, "collections", len(m.Collections))
	return m, nil
}

// moveUp moves the entries of tmp into dir, its parent, then removes tmp.
// moved is set once the first entry has moved: from then on a failure
// leaves dir incomplete, and says so.
func moveUp(tmp, dir string, moved *bool) error {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			if *moved {
				return fmt.Errorf("restore: moving the restored files into %s: %w; it is incomplete: empty it and restore again", dir, err)
			}
			return fmt.Errorf("restore: %w", err)
		}
		*moved = true
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// checkRestoreTarget refuses a target that is not a new or empty directory.
func checkRestoreTarget(data string) (exists bool, err error) {
	fi, err := os.Lstat(data)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("restore: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("restore into %s: %w (it is not a directory)", data, ErrRestoreTarget)
	}
	f, err := os.Open(data)
	if err != nil {
		return false, fmt.Errorf("restore: %w", err)
	}
	defer func() { _ = f.Close() }() // read only
	if names, _ := f.Readdirnames(1); len(names) > 0 {
		return false, fmt.Errorf("restore into %s: %w (it holds %s)", data, ErrRestoreTarget, names[0])
	}
	return true, nil
}

// badArchive is an ErrBadArchive naming what is wrong.
func badArchive(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadArchive, fmt.Sprintf(format, args...))
}

// openArchive returns the archive's tar stream: decrypted with key when the
// archive is encrypted.
func openArchive(r io.Reader, key []byte) (io.Reader, error) {
	br := bufio.NewReaderSize(r, backupChunkRead)
	head, err := br.Peek(len(ageMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if !bytes.Equal(head, []byte(ageMagic)) {
		if len(key) > 0 {
			// A node with a key writes encrypted archives: a plain one
			// given with the key is not this node's, and anyone could
			// have made it (end.json's digests catch damage, not forgery).
			return nil, fmt.Errorf("%w: the archive is not encrypted, but a key was given: it was not made by a node with this key; restore it without --encryption-key-file only if you made it yourself", ErrArchiveKey)
		}
		return br, nil
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w, and no key was given", ErrArchiveKey)
	}
	pass, err := archivePassphrase(key)
	if err != nil {
		return nil, err
	}
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, err
	}
	id.SetMaxWorkFactor(maxArchiveWorkFactor)
	dr, err := age.Decrypt(br, id)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) || errors.Is(err, age.ErrIncorrectIdentity) {
		return nil, fmt.Errorf("%w, and the key given is another", ErrArchiveKey)
	}
	if err != nil {
		return nil, badArchive("encrypted archive: %v", err)
	}
	return dr, nil
}

// ctxReader fails a read once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// storeLoad is a store being restored from its parts: a goroutine loads
// what the archive reader writes into its pipe.
type storeLoad struct {
	name  string
	pw    *io.PipeWriter
	done  chan error
	parts int
	size  int64
	sum   hash.Hash
	ended bool
	err   error
}

// startLoad starts loading a store's stream (load is nil for a store
// with no parts: it only counts).
func startLoad(name string, load func(io.Reader) error) *storeLoad {
	l := &storeLoad{name: name, done: make(chan error, 1), sum: sha256.New()}
	if load == nil {
		l.done <- nil
		return l
	}
	pr, pw := io.Pipe()
	l.pw = pw
	go func() {
		err := load(pr)
		// A load that failed fails the writer's next write with its error.
		_ = pr.CloseWithError(err) // a pipe's close never fails
		l.done <- err
	}()
	return l
}

// write passes a part's bytes to the load.
func (l *storeLoad) write(b []byte) error {
	l.sum.Write(b)
	if l.pw == nil {
		return nil
	}
	_, err := l.pw.Write(b)
	return err
}

// end closes the stream and waits for the load; cause, when not nil, is
// why the load is cut off (it then fails).
func (l *storeLoad) end(cause error) error {
	if l.ended {
		return l.err
	}
	l.ended = true
	if l.pw != nil {
		_ = l.pw.CloseWithError(cause) // nil: the load reads its end; a pipe's close never fails
	}
	if err := <-l.done; err != nil {
		l.err = fmt.Errorf("%s: %w", l.name, err)
	}
	if cause != nil && l.err == nil {
		l.err = cause
	}
	return l.err
}

// entry is what end.json must say of the store's stream.
func (l *storeLoad) entry() backupEntry {
	return backupEntry{Name: l.name, Size: l.size, Parts: l.parts, SHA256: hex.EncodeToString(l.sum.Sum(nil))}
}

// errRestoreStopped cuts off the loads of a restore that failed.
var errRestoreStopped = errors.New("restore stopped")

// readArchive reads an archive into the directory tmp, checking every
// entry, and returns its manifest. Its entries come in the order
// writeArchive writes them: the manifest, the holder store's parts (none
// for a store never written), the ledger's, the files, end.json.
func readArchive(ctx context.Context, r io.Reader, tmp string, o RestoreOptions) (_ *BackupManifest, err error) {
	in, err := openArchive(ctxReader{ctx, r}, o.EncryptionKey)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(in)
	next := func() (*tar.Header, error) {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, badArchive("it ends before %s: cut short", entryEnd)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, badArchive("%v", err)
		}
		if err := checkEntry(h); err != nil {
			return nil, err
		}
		return h, nil
	}
	h, err := next()
	if err != nil {
		return nil, err
	}
	if h.Name != entryManifest {
		return nil, badArchive("its first entry is %q, not %s", h.Name, entryManifest)
	}
	mb, err := readEntry(tr, h)
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(mb)
	if err != nil {
		return nil, err
	}
	if m.EncryptedAtRest && len(o.EncryptionKey) == 0 {
		o.Log.Warn("the node encrypted its holder store at rest; this restore writes it in the clear: give its key to keep it encrypted")
	}
	got := []backupEntry{digestEntry(entryManifest, mb)}

	var holderOpts []holder.Option
	if len(o.EncryptionKey) > 0 {
		holderOpts = append(holderOpts, holder.WithEncryptionKey(o.EncryptionKey))
	}
	// The stores in their order; stage is the one whose parts come now
	// (len(stores): the files).
	stores := []struct {
		name string
		load func(io.Reader) error
	}{
		{entryHolder, func(r io.Reader) error { return holder.Restore(holderDir(tmp), r, holderOpts...) }},
		{entryLedger, func(r io.Reader) error { return ledger.Restore(LedgerDir(tmp), r) }},
	}
	stage := 0
	var cur *storeLoad
	defer func() {
		if cur != nil {
			_ = cur.end(errRestoreStopped) // the error returned says why
		}
	}()
	// endStage ends the current store's stream (a store with no parts is
	// an empty stream) and moves to the next stage.
	endStage := func() error {
		if cur == nil {
			cur = startLoad(stores[stage].name, nil)
		}
		l := cur
		cur = nil
		if err := l.end(nil); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if l.parts == 0 && l.name == entryLedger {
			return badArchive("it holds no ledger")
		}
		got = append(got, l.entry())
		stage++
		return nil
	}
	files := 0
	seen := map[string]bool{}
	buf := make([]byte, backupChunkRead)
	for {
		h, err := next()
		if err != nil {
			return nil, err
		}
		if p := partRE.FindStringSubmatch(h.Name); p != nil {
			name := p[1] + ".badger"
			for stage < len(stores) && stores[stage].name != name {
				if err := endStage(); err != nil {
					return nil, err
				}
			}
			if stage == len(stores) {
				return nil, badArchive("entry %s is out of order", h.Name)
			}
			if cur == nil {
				cur = startLoad(name, stores[stage].load)
			}
			if p[2] != fmt.Sprintf("%08d", cur.parts) || cur.parts >= maxBackupParts {
				return nil, badArchive("entry %s is out of order", h.Name)
			}
			if h.Size > backupPart {
				return nil, badArchive("entry %s is larger than a part (%d bytes)", h.Name, backupPart)
			}
			for left := h.Size; left > 0; {
				k := int(min(left, int64(len(buf))))
				if _, err := io.ReadFull(tr, buf[:k]); err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					return nil, badArchive("entry %s: %v", h.Name, err)
				}
				if err := cur.write(buf[:k]); err != nil {
					return nil, fmt.Errorf("restore: %w", cur.end(err))
				}
				left -= int64(k)
			}
			cur.parts++
			cur.size += h.Size
			continue
		}
		for stage < len(stores) {
			if err := endStage(); err != nil {
				return nil, err
			}
		}
		if h.Name == entryEnd {
			eb, err := readEntry(tr, h)
			if err != nil {
				return nil, err
			}
			if err := checkEnd(eb, got); err != nil {
				return nil, err
			}
			break
		}
		if !dataFileOK(h.Name) {
			return nil, badArchive("unknown entry %q", h.Name)
		}
		if seen[h.Name] {
			return nil, badArchive("entry %q comes twice", h.Name)
		}
		if files++; files > maxBackupFiles {
			return nil, badArchive("more than %d files", maxBackupFiles)
		}
		seen[h.Name] = true
		b, err := readEntry(tr, h)
		if err != nil {
			return nil, err
		}
		if err := writeRestored(tmp, h.Name, b); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		got = append(got, digestEntry(h.Name, b))
	}
	if _, err := tr.Next(); !errors.Is(err, io.EOF) {
		return nil, badArchive("entries after %s", entryEnd)
	}
	// An encrypted archive's last chunk is checked when its end is read.
	if _, err := io.Copy(io.Discard, io.LimitReader(in, 1<<20)); err != nil {
		return nil, badArchive("%v", err)
	}
	return m, nil
}

// checkEntry refuses an entry that is not a regular file within the
// directory: no links, devices or directories, no absolute path, no "..".
func checkEntry(h *tar.Header) error {
	name := h.Name
	if strings.Contains(name, `\`) || !filepath.IsLocal(name) || path.Clean(name) != name || strings.HasPrefix(name, "/") ||
		slices.Contains(strings.Split(name, "/"), "..") {
		return badArchive("entry %q: its path leaves the directory", name)
	}
	if h.Typeflag != tar.TypeReg {
		return badArchive("entry %q is not a regular file (type %q): refused", name, h.Typeflag)
	}
	if h.Size < 0 {
		return badArchive("entry %q: negative size", name)
	}
	return nil
}

// readEntry reads an entry other than a store's part: at most
// maxBackupFile bytes.
func readEntry(tr *tar.Reader, h *tar.Header) ([]byte, error) {
	if h.Size > maxBackupFile {
		return nil, badArchive("entry %s: %d bytes, more than %d", h.Name, h.Size, maxBackupFile)
	}
	b := make([]byte, h.Size)
	if _, err := io.ReadFull(tr, b); err != nil {
		return nil, badArchive("entry %s: %v", h.Name, err)
	}
	return b, nil
}

func digestEntry(name string, b []byte) backupEntry {
	sum := sha256.Sum256(b)
	return backupEntry{Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
}

func parseManifest(b []byte) (*BackupManifest, error) {
	var probe struct {
		Format int `json:"format"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, badArchive("%s: %v", entryManifest, err)
	}
	if probe.Format != BackupFormat {
		return nil, badArchive("format %d: this zkshare reads format %d", probe.Format, BackupFormat)
	}
	var m BackupManifest
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return nil, badArchive("%s: %v", entryManifest, err)
	}
	if m.NodeID == "" || m.HolderID == "" || m.LedgerHeight == 0 && m.LedgerTipHash == "" {
		return nil, badArchive("%s: incomplete", entryManifest)
	}
	return &m, nil
}

// checkEnd compares end.json with what was read.
func checkEnd(b []byte, got []backupEntry) error {
	var end backupEnd
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&end); err != nil {
		return badArchive("%s: %v", entryEnd, err)
	}
	if len(end.Entries) != len(got) {
		return badArchive("%s lists %d entries, the archive holds %d", entryEnd, len(end.Entries), len(got))
	}
	for i, e := range end.Entries {
		if e != got[i] {
			return badArchive("entry %s differs from what %s says of it (size %d, SHA-256 %.16s…; read %d, %.16s…)", got[i].Name, entryEnd, e.Size, e.SHA256, got[i].Size, got[i].SHA256)
		}
	}
	return nil
}

// writeRestored writes a restored file, synced, readable by its owner only.
func writeRestored(dir, name string, b []byte) error {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// checkRestored opens what a restore wrote as a node would: the ledger
// checks its chain and tip, which must be the manifest's; each collection
// must have the manifest's root and count.
func checkRestored(ctx context.Context, dir string, m *BackupManifest, o RestoreOptions) (err error) {
	for _, id := range []string{NodeID, HolderID, AdminID} {
		if _, err := os.Stat(IdentityPath(dir, id)); err != nil {
			return badArchive("it lacks identities/%s.json", id)
		}
	}
	if _, err := os.Stat(tokensPath(dir)); err != nil {
		return badArchive("it lacks %s", tokensFile)
	}
	l, err := ledger.Open(LedgerDir(dir), nil, ledger.Options{Log: o.Log})
	if err != nil {
		return fmt.Errorf("restore: the restored ledger: %w", err)
	}
	h := l.Head()
	st := l.State()
	err = l.Close()
	switch {
	case err != nil:
		return fmt.Errorf("restore: %w", err)
	case h.Height != m.LedgerHeight || hex.EncodeToString(h.Hash) != m.LedgerTipHash || h.LogSize != m.LedgerLogSize:
		return badArchive("the ledger's tip is block %d (%x), the manifest says %d (%s)", h.Height, h.Hash, m.LedgerHeight, m.LedgerTipHash)
	case st.Origin != m.Origin || hex.EncodeToString(st.GenesisHash) != m.GenesisHash:
		return badArchive("the ledger is %q, the manifest says %q", st.Origin, m.Origin)
	}
	var opts []holder.Option
	if len(o.EncryptionKey) > 0 {
		opts = append(opts, holder.WithEncryptionKey(o.EncryptionKey))
	}
	s, err := holder.Open(holderDir(dir), o.Log, opts...)
	if err != nil {
		return fmt.Errorf("restore: the restored holder store: %w", err)
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	if uint64(s.Now()) > m.HolderVersion {
		return badArchive("the holder store is at version %d, after the manifest's %d", s.Now(), m.HolderVersion)
	}
	cols, err := s.Collections()
	if err != nil {
		return fmt.Errorf("restore: the restored holder store: %w", err)
	}
	if len(cols) != len(m.Collections) {
		return badArchive("the holder store has %d collections, the manifest %d", len(cols), len(m.Collections))
	}
	for i, c := range cols {
		want := m.Collections[i]
		if c.Name != want.Name || c.Root != want.Root || c.Count != want.Count {
			return badArchive("collection %s: root %s, %d records; the manifest says %s: root %s, %d records", c.Name, c.Root, c.Count, want.Name, want.Root, want.Count)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// ReadBackupManifest reads an archive's manifest (its first entry), with
// key if it is encrypted; the rest is not read.
func ReadBackupManifest(r io.Reader, key []byte) (*BackupManifest, bool, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(len(ageMagic))
	encrypted := bytes.Equal(head, []byte(ageMagic))
	in, err := openArchive(br, key)
	if err != nil {
		return nil, encrypted, err
	}
	tr := tar.NewReader(in)
	h, err := tr.Next()
	if err != nil {
		return nil, encrypted, badArchive("%v", err)
	}
	if h.Name != entryManifest {
		return nil, encrypted, badArchive("its first entry is %q, not %s", h.Name, entryManifest)
	}
	b, err := readEntry(tr, h)
	if err != nil {
		return nil, encrypted, err
	}
	m, err := parseManifest(b)
	return m, encrypted, err
}
