package holder

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/tree"
	"github.com/zkshare/zkshare/zkhash"
)

// CommitResult says what a commit did.
type CommitResult struct {
	Inserted, Updated, Deleted int
	Count                      uint64
	Root                       fr.Element
	// Opened counts inserted readings whose opening was waiting for them
	// (AddReadings only).
	Opened int
	// Version is the store version that wrote Root (0 when nothing was
	// written).
	Version Version
}

// Progress reports how far a long operation is: a phase name, done of total.
type Progress func(phase string, done, total int)

// Commit inserts new keys and replaces existing ones (a new version with a
// fresh salt at the same position). The batch is validated whole first: one
// bad record rejects it and nothing is written.
//
// The records are applied in key-path order, in chunks, each one badger
// transaction holding the chunk's records, tree nodes and the collection's
// new root, so the stored tree always matches the stored root and records.
// Path order keeps a chunk's tree changes inside one region of the tree, so
// each node is written about once per load rather than once per chunk. A
// crash during a load larger than one chunk leaves a consistent part of it
// committed; committing the same batch again completes it. Hashing of the
// next chunk overlaps the write of the current one.
func (s *Store) Commit(ctx context.Context, name string, recs []records.Record, progress Progress) (*CommitResult, error) {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.holderFed(name)
	if err != nil {
		return nil, err
	}
	schema := c.schema
	encoded, err := schema.EncodeBatch(recs)
	if err != nil {
		return nil, err
	}
	paths := make([]uint64, len(recs))
	order := make([]int, len(recs))
	for i := range encoded {
		paths[i], order[i] = zkhash.KeyPath(encoded[i].Key), i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(paths[a], paths[b]) })
	recs, encoded, paths = permute(recs, order), permute(encoded, order), permute(paths, order)

	// A producer looks up, salts and hashes chunk k+1 while chunk k is
	// written. Existing keys keep their rows; new keys take the next rows
	// as their chunk is applied.
	ctx, cancel := context.WithCancel(ctx)
	pos := make([]uint64, len(recs))
	versions := make([]uint64, len(recs))
	appended := make([]bool, len(recs))
	salts := make([]fr.Element, len(recs))
	leaves := make([]fr.Element, len(recs))
	schemaID := schema.ID()
	type span struct{ lo, hi int }
	hashed := make(chan span, 1)
	var hashErr error
	defer func() {
		cancel()
		for range hashed { // wait for the producer to stop
		}
	}()
	live := c.Count
	go func() {
		defer close(hashed)
		for lo := 0; lo < len(recs); lo += s.chunk {
			hi := min(lo+s.chunk, len(recs))
			err := s.view(func(txn *badger.Txn) error {
				for i := lo; i < hi; i++ {
					var e *entry
					if live > 0 { // an empty collection has no keys to find
						var err error
						if e, err = lookup(txn, name, recs[i].Key); err != nil {
							return err
						}
					}
					if e != nil {
						pos[i], versions[i] = e.Pos, e.Version+1
					} else {
						appended[i] = true
					}
				}
				return nil
			})
			if err == nil {
				err = freshSalts(salts[lo:hi])
			}
			if err != nil {
				hashErr = err
				return
			}
			tree.Parallel(hi-lo, func(j int) {
				i := lo + j
				leaves[i] = zkhash.Leaf(schemaID, encoded[i].Key, salts[i], &encoded[i].Slots)
			})
			select {
			case hashed <- span{lo, hi}:
			case <-ctx.Done():
				return
			}
		}
	}()

	root, err := records.ParseElement(c.Root)
	if err != nil {
		return nil, fmt.Errorf("collection %s: stored root: %w", name, err)
	}
	res := &CommitResult{Root: root}
	for sp := range hashed {
		for lo := sp.lo; lo < sp.hi; {
			hi := sp.hi
			for {
				b := batch{name: name, recs: recs, pos: pos, versions: versions, appended: appended, salts: salts, leaves: leaves, paths: paths, lo: lo, hi: hi}
				err := s.apply(ctx, c, &b, res)
				if err == nil {
					break
				}
				if !errors.Is(err, badger.ErrTxnTooBig) || hi-lo == 1 {
					return nil, err
				}
				hi = lo + (hi-lo)/2
			}
			lo = hi
			progress("commit", lo, len(recs))
		}
	}
	if hashErr != nil {
		return nil, hashErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Count = c.Count
	s.log.InfoContext(ctx, "records committed", "collection", name, "inserted", res.Inserted, "updated", res.Updated, "count", res.Count, "root", c.Root)
	return res, nil
}

// commitChunk is the default Store.chunk: big enough that per-transaction
// costs vanish, small enough for badger's default transaction limit with
// short values. A chunk too big for one transaction is halved.
const commitChunk = 32768

// batch is a contiguous range [lo, hi) of a commit.
type batch struct {
	name     string
	recs     []records.Record
	pos      []uint64
	versions []uint64
	appended []bool
	salts    []fr.Element
	leaves   []fr.Element
	paths    []uint64
	lo, hi   int
}

// apply writes one range of a commit in one transaction and advances c and
// res only when it committed.
func (s *Store) apply(ctx context.Context, c *Collection, b *batch, res *CommitResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var next Collection
	var root fr.Element
	added := 0
	err := s.write(func(txn *badger.Txn, v Version) error {
		var err error
		next, root, added, err = s.applyTxn(ctx, txn, c, b)
		res.Version = v
		return err
	})
	if err != nil {
		return err
	}
	*c = next
	res.Inserted += added
	res.Updated += b.hi - b.lo - added
	res.Root = root
	return nil
}

// applyTxn stages one range of a commit in txn.
func (s *Store) applyTxn(ctx context.Context, txn *badger.Txn, c *Collection, b *batch) (Collection, fr.Element, int, error) {
	ns := newNodes(b.name, txn)
	changes := make([]tree.Change, 0, b.hi-b.lo)
	added := 0
	for i := b.lo; i < b.hi; i++ {
		op := tree.Update
		if b.appended[i] {
			op = tree.Insert
			b.pos[i] = c.Next + uint64(added)
			added++
		}
		changes = append(changes, tree.Change{Op: op, Path: b.paths[i], Leaf: b.leaves[i], Ref: b.recs[i].Key})
	}
	next := *c
	root, err := tree.Apply(ctx, ns, changes)
	if errors.Is(err, tree.ErrPathCollision) {
		return next, root, 0, fmt.Errorf("collection %s: a new key %w", b.name, ErrKeyPathCollision)
	}
	if err != nil {
		return next, root, 0, err
	}
	if err := ns.flush(); err != nil {
		return next, root, 0, err
	}
	var buf []byte
	for i := b.lo; i < b.hi; i++ {
		e := entry{Pos: b.pos[i], Version: b.versions[i], Salt: b.salts[i], Values: b.recs[i].Values}
		buf = e.append(buf[:0])
		if err := txn.Set(keyKey(b.name, b.recs[i].Key), bytes.Clone(buf)); err != nil {
			return next, root, 0, err
		}
	}
	next.Next += uint64(added)
	next.Count += uint64(added)
	next.Root = records.ElementHex(root)
	meta, err := json.Marshal(&next)
	if err != nil {
		return next, root, 0, err
	}
	return next, root, added, txn.Set(metaKey(b.name), meta)
}

// Delete empties the positions of the given keys. Unknown or repeated keys
// reject the whole call.
func (s *Store) Delete(ctx context.Context, name string, keys []string) (*CommitResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.holderFed(name)
	if err != nil {
		return nil, err
	}
	var root fr.Element
	var at Version
	err = s.write(func(txn *badger.Txn, v Version) error {
		var err error
		root, err = s.deleteTxn(ctx, txn, c, name, keys)
		at = v
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "records deleted", "collection", name, "deleted", len(keys), "count", c.Count, "root", c.Root)
	return &CommitResult{Deleted: len(keys), Count: c.Count, Root: root, Version: at}, nil
}

// deleteTxn stages a delete in txn and updates c.
func (s *Store) deleteTxn(ctx context.Context, txn *badger.Txn, c *Collection, name string, keys []string) (fr.Element, error) {
	seen := map[string]bool{}
	changes := make([]tree.Change, len(keys))
	for i, k := range keys {
		e, err := lookup(txn, name, k)
		if err != nil {
			return fr.Element{}, err
		}
		if e == nil || seen[k] {
			return fr.Element{}, fmt.Errorf("delete: key #%d: %w or repeated", i+1, ErrNotFound)
		}
		seen[k] = true
		changes[i] = tree.Change{Op: tree.Delete, Path: zkhash.KeyPath(records.KeyDigest(k))}
		if err := txn.Delete(keyKey(name, k)); err != nil {
			return fr.Element{}, err
		}
	}
	ns := newNodes(name, txn)
	root, err := tree.Apply(ctx, ns, changes)
	if errors.Is(err, tree.ErrNoSuchLeaf) {
		// Every key was found above: the tree lost a leaf. The tree's error
		// names a key path, which stays here.
		s.log.ErrorContext(ctx, "tree does not match records", "collection", name)
		return root, fmt.Errorf("collection %s: the tree does not hold a stored record: %w", name, errCorruptNode)
	}
	if err != nil {
		return root, err
	}
	if err := ns.flush(); err != nil {
		return root, err
	}
	next := *c
	next.Count -= uint64(len(keys))
	next.Root = records.ElementHex(root)
	meta, err := json.Marshal(&next)
	if err != nil {
		return root, err
	}
	if err := txn.Set(metaKey(name), meta); err != nil {
		return root, err
	}
	*c = next
	return root, nil
}

// permute returns xs in the given order.
func permute[T any](xs []T, order []int) []T {
	out := make([]T, len(xs))
	for i, j := range order {
		out[i] = xs[j]
	}
	return out
}

// lookup returns the live entry of key, or nil.
func lookup(txn *badger.Txn, name, key string) (*entry, error) {
	item, err := txn.Get(keyKey(name, key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e *entry
	err = item.Value(func(v []byte) error { e, err = decodeEntry(v); return err })
	return e, err
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
	err := s.view(func(txn *badger.Txn) error {
		c, err := getMeta(txn, name)
		if err != nil {
			return err
		}
		e, err := lookup(txn, name, key)
		if err != nil {
			return err
		}
		if e == nil {
			if c.Devices {
				if err := checkOpened(txn, name, key); err != nil {
					return err
				}
			}
			return fmt.Errorf("collection %s: subject: %w", name, ErrNotFound)
		}
		w, err = readWitness(txn, c, name, key, e)
		return err
	})
	return w, err
}

func readWitness(txn *badger.Txn, c *Collection, name, key string, e *entry) (*Witness, error) {
	raw := records.Record{Key: key, Values: e.Values}
	kd, slots, err := c.schema.Encode(&raw)
	if err != nil {
		return nil, fmt.Errorf("stored record: %w", err)
	}
	ns := newNodes(name, txn)
	path := zkhash.KeyPath(kd)
	p, err := tree.Prove(ns, path)
	if err != nil {
		return nil, err
	}
	if p.End.Kind != tree.Leaf || p.End.Path != path {
		return nil, fmt.Errorf("collection %s: the tree has no leaf for a stored record: %w", name, errCorruptNode)
	}
	return &Witness{Record: circuits.Record{Key: kd, Salt: e.Salt, Values: slots, Depth: p.Depth, Siblings: p.Siblings}, Raw: raw, Version: e.Version, Root: p.Root}, nil
}

// AbsenceWitness is what the prover needs to show that a key has no live
// record: where the key's walk ends, under Root.
type AbsenceWitness struct {
	Absence circuits.Absence
	Root    fr.Element
}

// Absence returns the proof material that key has no live record under the
// current root, or ErrPresent.
func (s *Store) Absence(ctx context.Context, name, key string) (*AbsenceWitness, error) {
	var w *AbsenceWitness
	err := s.view(func(txn *badger.Txn) error {
		c, err := getMeta(txn, name)
		if err != nil {
			return err
		}
		kd := records.KeyDigest(key)
		ns := newNodes(name, txn)
		p, err := tree.Prove(ns, zkhash.KeyPath(kd))
		if err != nil {
			return err
		}
		w = &AbsenceWitness{Absence: circuits.Absence{Key: kd, Depth: p.Depth, Siblings: p.Siblings}, Root: p.Root}
		if p.End.Kind != tree.Leaf {
			return nil
		}
		if p.End.Ref == key {
			return fmt.Errorf("collection %s: %w", name, ErrPresent)
		}
		// Another key's leaf: open it.
		e, err := lookup(txn, name, p.End.Ref)
		if err != nil {
			return err
		}
		if e == nil {
			return leafWithoutRecord(c)
		}
		okd, slots, err := c.schema.Encode(&records.Record{Key: p.End.Ref, Values: e.Values})
		if err != nil {
			return fmt.Errorf("stored record: %w", err)
		}
		in := zkhash.LeafInput(c.schema.ID(), okd, e.Salt, &slots)
		w.Absence.Other = &in
		return nil
	})
	return w, err
}

// each calls f for every live record of a collection, in key order.
func each(ctx context.Context, txn *badger.Txn, name string, f func(key string, e *entry) (stop bool, err error)) error {
	prefix := []byte("k/" + name + "/")
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var e *entry
		err := it.Item().Value(func(v []byte) error {
			var err error
			e, err = decodeEntry(v)
			return err
		})
		if err != nil {
			return err
		}
		stop, err := f(string(it.Item().Key()[len(prefix):]), e)
		if stop || err != nil {
			return err
		}
	}
	return nil
}

// Find returns the witness of one live record that satisfies q, or
// ErrNotFound. Which one is found is never revealed by a proof.
func (s *Store) Find(ctx context.Context, name string, q *circuits.Query) (*Witness, error) {
	var w *Witness
	err := s.view(func(txn *badger.Txn) error {
		c, err := getMeta(txn, name)
		if err != nil {
			return err
		}
		err = each(ctx, txn, name, func(key string, e *entry) (bool, error) {
			_, slots, err := c.schema.Encode(&records.Record{Key: key, Values: e.Values})
			if err != nil {
				return false, fmt.Errorf("stored record: %w", err)
			}
			ok, err := q.Eval(&slots)
			if err != nil {
				// A record outside the circuit's width or domain cannot be
				// a witness: keep looking.
				return false, nil //nolint:nilerr // see above
			}
			if !ok {
				return false, nil
			}
			w, err = readWitness(txn, c, name, key, e)
			return true, err
		})
		if err == nil && w == nil {
			err = fmt.Errorf("collection %s: no record satisfies the query: %w", name, ErrNotFound)
		}
		return err
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
	err := s.view(func(txn *badger.Txn) error {
		return each(context.Background(), txn, name, func(key string, e *entry) (bool, error) {
			out = append(out, kp{key, e.Pos})
			return false, nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].p < out[j].p })
	keys := make([]string, len(out))
	for i := range out {
		keys[i] = out[i].k
	}
	return keys, err
}
