package holder

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/tree"
)

// CommitResult says what a commit did.
type CommitResult struct {
	Inserted, Updated, Deleted int
	Count                      uint64
	Root                       fr.Element
}

// Progress reports how far a long operation is: a phase name, done of total.
type Progress func(phase string, done, total int)

// Commit inserts new keys and replaces existing ones (a new version with a
// fresh salt at the same position). The batch is validated whole first: one
// bad record rejects it and nothing is written.
func (s *Store) Commit(ctx context.Context, name string, recs []records.Record, progress Progress) (*CommitResult, error) {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.Collection(name)
	if err != nil {
		return nil, err
	}
	schema := c.schema
	encoded, err := schema.EncodeBatch(recs)
	if err != nil {
		return nil, err
	}

	// Positions: existing keys keep theirs, new keys take the next ones.
	pos := make([]uint64, len(recs))
	versions := make([]uint64, len(recs))
	var appended []int
	err = s.db.View(func(txn *badger.Txn) error {
		for i := range recs {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			p, v, found, err := lookup(txn, name, recs[i].Key)
			if err != nil {
				return err
			}
			if found {
				pos[i], versions[i] = p, v+1
			} else {
				pos[i] = c.Next + uint64(len(appended))
				appended = append(appended, i)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c.Next+uint64(len(appended)) > 1<<circuits.Depth {
		return nil, fmt.Errorf("collection %s: %d more records overflow its depth-%d tree", name, len(appended), circuits.Depth)
	}

	// Salts and leaves, on all cores.
	salts := make([]fr.Element, len(recs))
	leaves := make([]fr.Element, len(recs))
	for i := range salts {
		if salts[i], err = freshSalt(); err != nil {
			return nil, err
		}
	}
	schemaID := schema.ID()
	const chunk = 8192
	for lo := 0; lo < len(recs); lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+chunk, len(recs))
		tree.Parallel(hi-lo, func(j int) {
			i := lo + j
			leaves[i] = circuits.Leaf(schemaID, encoded[i].Key, salts[i], &encoded[i].Slots)
		})
		progress("hash", hi, len(recs))
	}

	// Tree: appends are built bottom-up; updates rehash their paths.
	var root fr.Element
	staged := tree.NewMemory()
	err = s.db.View(func(txn *badger.Txn) error {
		ns := &nodes{name: name, txn: txn, staged: staged}
		newLeaves := make([]fr.Element, len(appended))
		for j, i := range appended {
			newLeaves[j] = leaves[i]
		}
		if len(newLeaves) > 0 {
			if _, err := tree.Build(ctx, ns, c.Next, newLeaves, func(level int) { progress("tree", level, circuits.Depth) }); err != nil {
				return err
			}
		}
		for i := range recs {
			if pos[i] < c.Next {
				if err := tree.Set(ns, pos[i], leaves[i]); err != nil {
					return err
				}
			}
		}
		var err error
		root, err = tree.Root(ns)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res := &CommitResult{Inserted: len(appended), Updated: len(recs) - len(appended), Count: c.Count + uint64(len(appended)), Root: root}
	c.Next += uint64(len(appended))
	c.Count = res.Count
	c.Root = records.ElementHex(root)
	err = s.write(name, c, staged, func(put func(k, v []byte) error) error {
		for i := range recs {
			e := entry{Key: recs[i].Key, Values: recs[i].Values, Salt: records.ElementHex(salts[i]), Version: versions[i]}
			b, _ := json.Marshal(e)
			if err := put(recKey(name, pos[i]), b); err != nil {
				return err
			}
			var pv [16]byte
			binary.BigEndian.PutUint64(pv[:8], pos[i])
			binary.BigEndian.PutUint64(pv[8:], versions[i])
			if err := put(keyKey(name, recs[i].Key), pv[:]); err != nil {
				return err
			}
			if i%chunk == 0 {
				progress("write", i, len(recs))
			}
		}
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	progress("write", len(recs), len(recs))
	s.log.InfoContext(ctx, "records committed", "collection", name, "inserted", res.Inserted, "updated", res.Updated, "count", res.Count, "root", c.Root)
	return res, nil
}

// Delete empties the positions of the given keys. Unknown keys reject the
// whole call.
func (s *Store) Delete(ctx context.Context, name string, keys []string) (*CommitResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.Collection(name)
	if err != nil {
		return nil, err
	}
	pos := make([]uint64, len(keys))
	staged := tree.NewMemory()
	var root fr.Element
	err = s.db.View(func(txn *badger.Txn) error {
		seen := map[string]bool{}
		for i, k := range keys {
			p, _, found, err := lookup(txn, name, k)
			if err != nil {
				return err
			}
			if !found || seen[k] {
				return fmt.Errorf("delete: key #%d: %w or repeated", i+1, ErrNotFound)
			}
			seen[k] = true
			pos[i] = p
		}
		ns := &nodes{name: name, txn: txn, staged: staged}
		for _, p := range pos {
			if err := tree.Set(ns, p, fr.Element{}); err != nil {
				return err
			}
		}
		root, err = tree.Root(ns)
		return err
	})
	if err != nil {
		return nil, err
	}
	c.Count -= uint64(len(keys))
	c.Root = records.ElementHex(root)
	err = s.write(name, c, staged, nil, func(del func(k []byte) error) error {
		for i, k := range keys {
			if err := del(keyKey(name, k)); err != nil {
				return err
			}
			if err := del(recKey(name, pos[i])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "records deleted", "collection", name, "deleted", len(keys), "count", c.Count, "root", c.Root)
	return &CommitResult{Deleted: len(keys), Count: c.Count, Root: root}, nil
}

// write applies staged nodes and entries, then the collection's metadata,
// which is what makes the new root current. Small changes go in one
// transaction; bulk loads stream through a WriteBatch and write the
// metadata last, so an interrupted load never moves the root.
func (s *Store) write(name string, c *Collection, staged *tree.Memory, puts func(put func(k, v []byte) error) error, dels func(del func(k []byte) error) error) error {
	meta, _ := json.Marshal(c)
	apply := func(set func(k, v []byte) error, del func(k []byte) error) error {
		err := staged.Each(func(level int, index uint64, h fr.Element) error {
			b := h.Bytes()
			return set(nodeKey(name, level, index), b[:])
		})
		if err != nil {
			return err
		}
		if puts != nil {
			if err := puts(set); err != nil {
				return err
			}
		}
		if dels != nil {
			return dels(del)
		}
		return nil
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	err := apply(txn.Set, txn.Delete)
	if err == nil {
		if err = txn.Set(metaKey(name), meta); err == nil {
			return txn.Commit()
		}
	}
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	if err := apply(wb.Set, wb.Delete); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(metaKey(name), meta) })
}

func lookup(txn *badger.Txn, name, key string) (pos, version uint64, found bool, err error) {
	item, err := txn.Get(keyKey(name, key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	err = item.Value(func(v []byte) error {
		if len(v) != 16 {
			return errors.New("corrupt key index entry")
		}
		pos, version = binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint64(v[8:])
		return nil
	})
	return pos, version, err == nil, err
}

// Witness is everything the prover needs about one record, and the raw
// values for a subject's receipt. It never leaves the holder except as a
// receipt to the record's own subject.
type Witness struct {
	Record  circuits.Record
	Raw     records.Record
	Version uint64
	Root    fr.Element
}

// Record returns the live record with key and its path under the current root.
func (s *Store) Record(ctx context.Context, name, key string) (*Witness, error) {
	var w *Witness
	err := s.db.View(func(txn *badger.Txn) error {
		c, err := getMeta(txn, name)
		if err != nil {
			return err
		}
		p, _, found, err := lookup(txn, name, key)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("collection %s: subject: %w", name, ErrNotFound)
		}
		w, err = readWitness(txn, c, name, p)
		return err
	})
	return w, err
}

func readWitness(txn *badger.Txn, c *Collection, name string, p uint64) (*Witness, error) {
	item, err := txn.Get(recKey(name, p))
	if err != nil {
		return nil, fmt.Errorf("record at %d: %w", p, err)
	}
	var e entry
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
		return nil, err
	}
	raw := records.Record{Key: e.Key, Values: e.Values}
	key, slots, err := c.schema.Encode(&raw)
	if err != nil {
		return nil, err
	}
	salt, err := records.ParseElement(e.Salt)
	if err != nil {
		return nil, fmt.Errorf("stored salt: %w", err)
	}
	ns := &nodes{name: name, txn: txn}
	sib, err := tree.Path(ns, p)
	if err != nil {
		return nil, err
	}
	root, err := tree.Root(ns)
	if err != nil {
		return nil, err
	}
	return &Witness{Record: circuits.Record{Key: key, Salt: salt, Values: slots, Index: p, Siblings: sib}, Raw: raw, Version: e.Version, Root: root}, nil
}

// Find returns the witness of one live record that satisfies q, or
// ErrNotFound. Which one is found is never revealed by a proof.
func (s *Store) Find(ctx context.Context, name string, q *circuits.Query) (*Witness, error) {
	var w *Witness
	err := s.db.View(func(txn *badger.Txn) error {
		c, err := getMeta(txn, name)
		if err != nil {
			return err
		}
		prefix := []byte("r/" + name + "/")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var e entry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return err
			}
			_, slots, err := c.schema.Encode(&records.Record{Key: e.Key, Values: e.Values})
			if err != nil {
				return err
			}
			if ok, err := q.Eval(&slots); err != nil || !ok {
				continue
			}
			p := binary.BigEndian.Uint64(it.Item().Key()[len(prefix):])
			w, err = readWitness(txn, c, name, p)
			return err
		}
		return fmt.Errorf("collection %s: no record satisfies the query: %w", name, ErrNotFound)
	})
	return w, err
}

// Keys lists a collection's live keys in position order, for tools and tests.
func (s *Store) Keys(name string) ([]string, error) {
	type kp struct {
		k string
		p uint64
	}
	var out []kp
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := []byte("k/" + name + "/")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := string(it.Item().Key()[len(prefix):])
			err := it.Item().Value(func(v []byte) error {
				out = append(out, kp{k, binary.BigEndian.Uint64(v[:8])})
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].p < out[j].p })
	keys := make([]string, len(out))
	for i := range out {
		keys[i] = out[i].k
	}
	return keys, err
}
