package holder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/records"
)

// Version is a point in the store's history: the version at which one
// write transaction committed. A view At a version reads every
// collection's records and tree as they were then.
type Version uint64

// AnchoredVersion is a version of a collection whose root the ledger
// anchored: proofs read it while later commits write newer ones.
type AnchoredVersion struct {
	Version  Version `json:"version"`
	Root     string  `json:"root"` // hex
	Count    uint64  `json:"count"`
	Sequence uint64  `json:"sequence"` // the anchor's
	// Replaced is when a newer version was anchored (unix ms; 0: none).
	Replaced int64 `json:"replaced,omitempty"`
}

// versions is a collection's list of kept versions.
type versions struct {
	// Base is the collection's creation: a collection that has no
	// anchored version rolls back to it.
	Base     Version           `json:"base"`
	Anchored []AnchoredVersion `json:"anchored,omitempty"`
}

func versionsKey(name string) []byte { return []byte("v/" + name) }

func putVersions(txn *badger.Txn, name string, vs *versions) error {
	b, err := json.Marshal(vs)
	if err != nil {
		return err
	}
	return txn.Set(versionsKey(name), b)
}

// getVersions returns a collection's versions; found is false for a
// collection made before the store kept them.
func getVersions(txn *badger.Txn, name string) (vs *versions, found bool, err error) {
	item, err := txn.Get(versionsKey(name))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return &versions{}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	vs = &versions{}
	err = item.Value(func(v []byte) error { return json.Unmarshal(v, vs) })
	if err != nil {
		return nil, false, fmt.Errorf("collection %s: stored versions: %w", name, err)
	}
	return vs, true, nil
}

// errView: a view At a version reads; it never writes.
var errView = errors.New("holder store: a view at a past version cannot write")

// write runs fn in one write transaction and commits it at the next
// version, which fn is told.
func (s *Store) write(fn func(txn *badger.Txn, v Version) error) error {
	if s.at != 0 {
		return errView
	}
	s.txMu.Lock()
	defer s.txMu.Unlock()
	read := s.ts.Load()
	txn := s.db.NewTransactionAt(read, true)
	defer txn.Discard()
	if err := fn(txn, Version(read+1)); err != nil {
		return err
	}
	if err := txn.CommitAt(read+1, nil); err != nil {
		return fmt.Errorf("holder store: commit: %w", err)
	}
	s.ts.Store(read + 1)
	return nil
}

// view runs fn in a read transaction at the view's version, or at the
// latest committed one.
func (s *Store) view(fn func(txn *badger.Txn) error) error {
	if s.db.IsClosed() {
		return badger.ErrDBClosed
	}
	at := s.at
	if at == 0 {
		at = Version(s.ts.Load())
	}
	s.readMu.Lock()
	s.reads[at]++
	s.readMu.Unlock()
	defer func() {
		s.readMu.Lock()
		if s.reads[at]--; s.reads[at] == 0 {
			delete(s.reads, at)
		}
		s.readMu.Unlock()
	}()
	txn := s.db.NewTransactionAt(uint64(at), false)
	defer txn.Discard()
	return fn(txn)
}

// Now returns the latest committed version.
func (s *Store) Now() Version { return Version(s.ts.Load()) }

// At returns a read-only view of the store as it was at version v (0: the
// latest, whatever it is when each read starts). Reading a version older
// than the collection's oldest kept one (Prune) is undefined: badger may
// have discarded it.
func (s *Store) At(v Version) *Store { return &Store{base: s.base, at: v} }

// Head is a collection's latest state and the version that wrote it.
type Head struct {
	Version Version
	Root    fr.Element
	Count   uint64
}

// Head returns the latest version of a collection's records and tree.
func (s *Store) Head(name string) (*Head, error) {
	var h *Head
	err := s.view(func(txn *badger.Txn) error {
		var err error
		h, err = head(txn, name)
		return err
	})
	return h, err
}

func head(txn *badger.Txn, name string) (*Head, error) {
	c, v, err := getMetaVersion(txn, name)
	if err != nil {
		return nil, err
	}
	root, err := records.ParseElement(c.Root)
	if err != nil {
		return nil, fmt.Errorf("collection %s: stored root: %w", name, err)
	}
	return &Head{Version: v, Root: root, Count: c.Count}, nil
}

// Versions returns a collection's anchored versions, oldest first.
func (s *Store) Versions(name string) ([]AnchoredVersion, error) {
	var out []AnchoredVersion
	err := s.view(func(txn *badger.Txn) error {
		if _, err := txn.Get(metaKey(name)); errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("collection %s: %w", name, ErrNotFound)
		} else if err != nil {
			return err
		}
		vs, _, err := getVersions(txn, name)
		if vs != nil {
			out = vs.Anchored
		}
		return err
	})
	return out, err
}

// MarkAnchored records that the collection's version v, whose root the
// ledger anchored at sequence seq, can be proven against. v must be a
// version whose root is the anchored one; marking it again does nothing.
func (s *Store) MarkAnchored(ctx context.Context, name string, v Version, seq uint64, now time.Time) error {
	var c *Collection
	var vAt Version
	if err := s.At(v).view(func(txn *badger.Txn) error {
		var err error
		c, vAt, err = getMetaVersion(txn, name)
		return err
	}); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.write(func(txn *badger.Txn, _ Version) error {
		vs, _, err := getVersions(txn, name)
		if err != nil {
			return err
		}
		for _, a := range vs.Anchored {
			if a.Sequence == seq && a.Root == c.Root {
				return nil
			}
		}
		for i := range vs.Anchored {
			if vs.Anchored[i].Replaced == 0 {
				vs.Anchored[i].Replaced = now.UnixMilli()
			}
		}
		// The version that wrote the root: later writes of other
		// collections do not change what it reads.
		vs.Anchored = append(vs.Anchored, AnchoredVersion{Version: vAt, Root: c.Root, Count: c.Count, Sequence: seq})
		return putVersions(txn, name, vs)
	})
	if err != nil {
		return fmt.Errorf("collection %s: mark version %d anchored: %w", name, v, err)
	}
	s.log.InfoContext(ctx, "version anchored", "collection", name, "version", vAt, "sequence", seq, "count", c.Count)
	return nil
}

// Prune forgets the anchored versions of a collection that keep refuses
// and lets badger discard what only they still read. The newest anchored
// version is always kept.
func (s *Store) Prune(ctx context.Context, name string, keep func(AnchoredVersion) bool) (pruned int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var vs *versions
	err = s.view(func(txn *badger.Txn) error {
		var err error
		vs, _, err = getVersions(txn, name)
		return err
	})
	if err == nil {
		kept := vs.Anchored[:0]
		for i, a := range vs.Anchored {
			if i == len(vs.Anchored)-1 || keep(a) {
				kept = append(kept, a)
			} else {
				pruned++
			}
		}
		vs.Anchored = kept
	}
	if err == nil && pruned > 0 {
		// Writers hold mu: the list read above is still the stored one.
		err = s.write(func(txn *badger.Txn, _ Version) error { return putVersions(txn, name, vs) })
	}
	if err != nil {
		return 0, fmt.Errorf("collection %s: prune versions: %w", name, err)
	}
	if pruned > 0 {
		s.log.DebugContext(ctx, "versions pruned", "collection", name, "pruned", pruned)
	}
	return pruned, s.discard()
}

// discard moves badger's discard point up to the oldest version anything
// still reads: a collection's oldest kept version (its base while it has
// none anchored) or a read in flight. Versions above it stay readable.
func (s *Store) discard() error {
	low := Version(math.MaxUint64)
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("v/")})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			floor, ok, err := keptFloor(txn, it.Item())
			if err != nil {
				return err
			}
			if ok {
				low = min(low, floor)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.readMu.Lock()
	for v := range s.reads {
		low = min(low, v)
	}
	s.readMu.Unlock()
	low = min(low, s.Now())
	if low > 0 {
		s.db.SetDiscardTs(uint64(low))
	}
	return nil
}

// keptFloor is the oldest version a collection still needs readable,
// from its versions entry (an item under "v/"): its oldest kept anchored
// version, or, while it has none, its creation (where a commit that fails
// rolls back to) once something was written after it. One unchanged
// since its creation needs nothing kept: the latest version reads the
// same. (A device-fed collection has no entry: nothing rolls it back.)
func keptFloor(txn *badger.Txn, item *badger.Item) (Version, bool, error) {
	name := strings.TrimPrefix(string(item.Key()), "v/")
	var vs versions
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &vs) }); err != nil {
		return 0, false, fmt.Errorf("collection %s: stored versions: %w", name, err)
	}
	if len(vs.Anchored) > 0 {
		return vs.Anchored[0].Version, true, nil
	}
	mi, err := txn.Get(metaKey(name))
	if errors.Is(err, badger.ErrKeyNotFound) || err == nil && Version(mi.Version()) <= vs.Base {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return vs.Base, true, nil
}

// rollback returns a collection's records and tree to what they were at
// version to, writing the old state again as new versions; the
// collection's meta goes last, so a rollback cut short by a crash is seen
// (Head still differs) and done again. It returns how many entries it
// restored.
func (s *Store) rollback(ctx context.Context, name string, to Version) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// What changed is read at one version, so the restores written after
	// it are not seen again.
	snap := s.At(s.Now())
	restored := 0
	for _, prefix := range [][]byte{keyKey(name, ""), []byte("n/" + name + "/")} {
		from := prefix
		for from != nil {
			var keys [][]byte
			var err error
			keys, from, err = snap.changedSince(ctx, prefix, from, to)
			if err == nil {
				err = s.restoreKeys(keys, to)
			}
			if err != nil {
				return restored, fmt.Errorf("collection %s: roll back to version %d: %w", name, to, err)
			}
			restored += len(keys)
		}
	}
	err := s.write(func(txn *badger.Txn, v Version) error {
		if err := restoreKey(s.db, txn, metaKey(name), to); err != nil {
			return err
		}
		// The collection at v is what it was at to: the kept version moves
		// to v, so the head is that version again.
		vs, _, err := getVersions(txn, name)
		if err != nil {
			return err
		}
		if n := len(vs.Anchored); n > 0 && vs.Anchored[n-1].Version == to {
			vs.Anchored[n-1].Version = v
		} else if n == 0 && vs.Base == to {
			vs.Base = v
		}
		return putVersions(txn, name, vs)
	})
	if err != nil {
		return restored, fmt.Errorf("collection %s: roll back to version %d: %w", name, to, err)
	}
	s.log.InfoContext(ctx, "collection rolled back", "collection", name, "version", to, "entries", restored)
	return restored + 1, nil
}

// RollbackUnanchored rolls a collection back to its newest anchored
// version (its creation while it has none), undoing the writes after it,
// and says how many entries it restored and to which version; with nothing
// to undo it does nothing.
func (s *Store) RollbackUnanchored(ctx context.Context, name string) (int, Version, error) {
	var to Version
	var found bool
	var h *Head
	err := s.view(func(txn *badger.Txn) error {
		vs, f, err := getVersions(txn, name)
		if err != nil {
			return err
		}
		found, to = f, vs.Base
		if n := len(vs.Anchored); n > 0 {
			to = vs.Anchored[n-1].Version
		}
		h, err = head(txn, name)
		return err
	})
	switch {
	case err != nil:
		return 0, 0, err
	case !found:
		return 0, 0, fmt.Errorf("collection %s: made before the store kept versions, so its unanchored writes cannot be rolled back: commit again to anchor them", name)
	case h.Version <= to:
		return 0, to, nil
	}
	n, err := s.rollback(ctx, name, to)
	return n, to, err
}

// restoreKeys writes keys' values at version to, in as few transactions
// as fit: a batch too big for one (large values) is halved, as a commit's
// chunks are.
func (s *Store) restoreKeys(keys [][]byte, to Version) error {
	for len(keys) > 0 {
		n := len(keys)
		for {
			err := s.write(func(txn *badger.Txn, _ Version) error {
				for _, k := range keys[:n] {
					if err := restoreKey(s.db, txn, k, to); err != nil {
						return err
					}
				}
				return nil
			})
			if err == nil {
				break
			}
			if !errors.Is(err, badger.ErrTxnTooBig) || n == 1 {
				return err
			}
			n /= 2
		}
		keys = keys[n:]
	}
	return nil
}

// rollbackBatch bounds one rollback transaction.
const rollbackBatch = 4096

// changedSince lists up to rollbackBatch keys under prefix, from key from
// on, written after version since; next is where to go on (nil: done).
func (s *Store) changedSince(ctx context.Context, prefix, from []byte, since Version) (keys [][]byte, next []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	err = s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, AllVersions: true, SinceTs: uint64(since)})
		defer it.Close()
		var last []byte
		for it.Seek(from); it.Valid(); it.Next() {
			k := it.Item().Key()
			if bytes.Equal(k, last) {
				continue // an older version of the key just listed
			}
			if len(keys) == rollbackBatch {
				next = it.Item().KeyCopy(nil)
				return nil
			}
			last = it.Item().KeyCopy(nil)
			keys = append(keys, last)
		}
		return nil
	})
	return keys, next, err
}

// restoreKey writes key's value at version to (or its absence) into txn.
func restoreKey(db *badger.DB, txn *badger.Txn, key []byte, to Version) error {
	old := db.NewTransactionAt(uint64(to), false)
	defer old.Discard()
	item, err := old.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return txn.Delete(key)
	}
	if err != nil {
		return err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	return txn.Set(key, v)
}
