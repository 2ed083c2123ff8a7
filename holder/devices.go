package holder

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/tree"
	"github.com/zkshare/zkshare/zkhash"
)

// Device-fed collections. A device signs each reading's leaf (its own
// commitment to the values under a fresh salt); the ledger inserts the
// attested leaves into the collection's tree. The holder mirrors that tree
// leaf for leaf (AddReadings), so its proofs verify against the ledger's
// root, and opens a leaf once the device's opening (values and salt)
// arrives and hashes to it (PutOpenings). Until then the leaf counts, but
// nothing can be proven about it.
//
// Stored, besides a collection's usual keys: an opened reading is a record
// entry under "k/<name>/<key>" like any record; an unopened one is only a
// tree leaf; an opening whose reading the ledger has not attested yet waits
// under "o/<name>/<key>" in the entry format (position and version 0).

// Sentinel errors of device-fed collections.
var (
	// ErrDeviceFed: the collection's tree is built by the ledger from
	// device attestations; the holder cannot commit or delete its records.
	// Sync it from the ledger instead.
	ErrDeviceFed = errors.New("is device-fed: its tree is built by the ledger from device attestations")
	// ErrNotDeviceFed: readings and openings go to device-fed collections
	// only; commit this collection's records instead.
	ErrNotDeviceFed = errors.New("is not device-fed: commit its records instead of readings")
	// ErrOpeningMismatch: an opening does not hash to its reading's leaf,
	// or differs from the opening already kept for the key. Nothing of the
	// call was written; ask the device to send the right one.
	ErrOpeningMismatch = errors.New("an opening does not match its reading")
	// ErrReadingConflict: a reading's key is already in the tree with
	// another leaf, or repeated with another leaf. The holder's tree and
	// the ledger's disagree: resync the collection from the ledger.
	ErrReadingConflict = errors.New("a reading's key is already in the tree with another leaf")
	// ErrNotOpened: the reading is in the tree, but its device's opening
	// (values and salt) has not arrived, so nothing can be proven about it.
	// Wait for the device, or ask it to send the opening again.
	ErrNotOpened = errors.New("the reading's opening has not arrived from its device")
	// ErrTooManyPending: too many openings wait for readings the ledger
	// has not attested. Sync readings from the ledger, then send again.
	ErrTooManyPending = errors.New("too many openings wait for their readings")
)

// maxPending bounds the openings a collection keeps for readings not yet
// attested, so that openings nobody attests cannot fill the disk.
const maxPending = 1 << 20

// Reading is a device reading as the ledger attested it: its record key and
// its leaf (the device's commitment).
type Reading struct {
	Key  string
	Leaf fr.Element
}

// Opening is what the device sends the holder: a reading's values and salt.
type Opening struct {
	Key    string
	Values []string
	Salt   fr.Element
}

func pendingKey(name, key string) []byte {
	return append([]byte("o/"+name+"/"), key...)
}

// holderFed returns a collection the holder commits to itself.
func (s *Store) holderFed(name string) (*Collection, error) {
	c, err := s.Collection(name)
	if err != nil {
		return nil, err
	}
	if c.Devices {
		return nil, fmt.Errorf("collection %s: %w", name, ErrDeviceFed)
	}
	return c, nil
}

// deviceFed returns a device-fed collection.
func (s *Store) deviceFed(name string) (*Collection, error) {
	c, err := s.Collection(name)
	if err != nil {
		return nil, err
	}
	if !c.Devices {
		return nil, fmt.Errorf("collection %s: %w", name, ErrNotDeviceFed)
	}
	return c, nil
}

// leafAt returns the leaf that path's walk ends on when it sits at path
// itself. It reads one node per level, where tree.Prove reads two.
func leafAt(s tree.Store, path uint64) (tree.Node, bool, error) {
	p := tree.Pos{}
	for {
		n, err := s.Get(p)
		if err != nil {
			return tree.Node{}, false, err
		}
		if n.Kind != tree.Inner {
			return n, n.Kind == tree.Leaf && n.Path == path, nil
		}
		if p.Depth == tree.Depth {
			return tree.Node{}, false, fmt.Errorf("%w: inner node at depth %d", errCorruptNode, tree.Depth)
		}
		p = tree.Pos{Depth: p.Depth + 1, Prefix: p.Prefix | zkhash.PathBit(path, p.Depth)<<(tree.Depth-1-p.Depth)}
	}
}

// readingLeaf returns key's leaf in the tree, if it has one. Another key's
// leaf on the same path is ErrKeyPathCollision: key can never be inserted.
func readingLeaf(s tree.Store, key string, path uint64) (*fr.Element, error) {
	n, ok, err := leafAt(s, path)
	if err != nil || !ok {
		return nil, err
	}
	if n.Ref != key {
		return nil, fmt.Errorf("its key %w", ErrKeyPathCollision)
	}
	return &n.Hash, nil
}

// checkOpened returns ErrNotOpened when key, which has no record, has a
// leaf in the tree: a reading waiting for its opening.
func checkOpened(txn *badger.Txn, name, key string) error {
	leaf, err := readingLeaf(newNodes(name, txn), key, zkhash.KeyPath(records.KeyDigest(key)))
	if err != nil && !errors.Is(err, ErrKeyPathCollision) {
		return err
	}
	if leaf != nil {
		return fmt.Errorf("collection %s: %w", name, ErrNotOpened)
	}
	return nil
}

// leafWithoutRecord is the error for a tree leaf with no record: an
// unopened reading in a device-fed collection, a corrupt store otherwise.
func leafWithoutRecord(c *Collection) error {
	if c.Devices {
		return fmt.Errorf("collection %s: a tree leaf is a reading: %w", c.Name, ErrNotOpened)
	}
	return fmt.Errorf("collection %s: a tree leaf has no record: %w", c.Name, errCorruptNode)
}

// putMeta stages a collection's metadata in txn.
func putMeta(txn *badger.Txn, c *Collection) error {
	meta, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return txn.Set(metaKey(c.Name), meta)
}

// openingLeaf is the leaf an opening commits to, as the device computed it.
func openingLeaf(schema *records.Schema, key string, values []string, salt *fr.Element) (fr.Element, error) {
	kd, slots, err := schema.Encode(&records.Record{Key: key, Values: values})
	if err != nil {
		return fr.Element{}, err // schema errors never repeat a value
	}
	return zkhash.Leaf(schema.ID(), kd, *salt, &slots), nil
}

// openingLeaves validates a call's openings and returns their leaves. Its
// errors name an opening by its index, never its key, values or salt.
func openingLeaves(schema *records.Schema, ops []Opening) ([]fr.Element, error) {
	leaves := make([]fr.Element, len(ops))
	seen := make(map[string]int, len(ops))
	for i := range ops {
		if ops[i].Key == "" {
			return nil, fmt.Errorf("opening #%d: missing key: %w", i+1, records.ErrInvalidBatch)
		}
		if first, dup := seen[ops[i].Key]; dup {
			return nil, fmt.Errorf("opening #%d: repeats the key of opening #%d: %w", i+1, first, records.ErrInvalidBatch)
		}
		seen[ops[i].Key] = i + 1
		var err error
		if leaves[i], err = openingLeaf(schema, ops[i].Key, ops[i].Values, &ops[i].Salt); err != nil {
			return nil, fmt.Errorf("opening #%d: %w: %w", i+1, records.ErrInvalidBatch, err)
		}
	}
	return leaves, nil
}

// sameOpening says whether a stored entry holds exactly this opening.
func sameOpening(e *entry, op *Opening) bool {
	return e.Salt.Equal(&op.Salt) && slices.Equal(e.Values, op.Values)
}

// PutOpenings takes openings from devices. An opening of a reading the
// ledger has attested opens its leaf if it hashes to it; one of a reading
// not attested yet waits for AddReadings (at most maxPending per
// collection); one the holder already has is a no-op. The call is checked
// whole and written in one transaction: a bad or mismatched opening
// rejects it and nothing is written (a call too big for one transaction
// fails with badger.ErrTxnTooBig: send fewer). It returns how many leaves
// it opened.
//
// A second, different opening of a key is ErrOpeningMismatch even while
// the first waits unchecked: the first one stays until its reading
// arrives, and is dropped then if it does not match.
func (s *Store) PutOpenings(ctx context.Context, name string, ops []Opening) (opened int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.deviceFed(name)
	if err != nil {
		return 0, err
	}
	leaves, err := openingLeaves(c.schema, ops)
	if err != nil {
		return 0, fmt.Errorf("collection %s: %w", name, err)
	}
	var next Collection
	err = s.write(func(txn *badger.Txn, _ Version) error {
		ns := newNodes(name, txn)
		next, opened = *c, 0
		for i := range ops {
			if err := ctx.Err(); err != nil {
				return err
			}
			ok, err := putOpening(txn, ns, &next, &ops[i], &leaves[i])
			if err != nil {
				return fmt.Errorf("collection %s: opening #%d: %w", name, i+1, err)
			}
			if ok {
				opened++
			}
		}
		if next.Pending > maxPending {
			return fmt.Errorf("collection %s: %d openings would wait, at most %d: %w", name, next.Pending, maxPending, ErrTooManyPending)
		}
		return putMeta(txn, &next)
	})
	if err != nil {
		return 0, err
	}
	s.log.InfoContext(ctx, "openings received", "collection", name, "openings", len(ops), "opened", opened, "unopened", next.Unopened, "pending", next.Pending)
	return opened, nil
}

// putOpening stages one opening in txn and advances c; it says whether it
// opened a leaf.
func putOpening(txn *badger.Txn, ns tree.Store, c *Collection, op *Opening, leaf *fr.Element) (bool, error) {
	e, err := lookup(txn, c.Name, op.Key)
	if err != nil {
		return false, err
	}
	if e != nil { // already opened
		if !sameOpening(e, op) {
			return false, ErrOpeningMismatch
		}
		return false, nil
	}
	attested, err := readingLeaf(ns, op.Key, zkhash.KeyPath(records.KeyDigest(op.Key)))
	if err != nil {
		return false, err
	}
	if attested != nil {
		if !attested.Equal(leaf) {
			return false, ErrOpeningMismatch
		}
		return true, openLeaf(txn, c, op)
	}
	return false, keepPending(txn, c, op)
}

// openLeaf makes an opening the record of its unopened leaf, at the next
// row, and advances c.
func openLeaf(txn *badger.Txn, c *Collection, op *Opening) error {
	if c.Unopened == 0 {
		return fmt.Errorf("an unopened leaf, but none is counted: %w", errCorruptNode)
	}
	e := entry{Pos: c.Next, Salt: op.Salt, Values: op.Values}
	if err := txn.Set(keyKey(c.Name, op.Key), e.append(nil)); err != nil {
		return err
	}
	c.Next++
	c.Unopened--
	return nil
}

// keepPending keeps an opening until its reading arrives; the same opening
// again is a no-op, another one a mismatch.
func keepPending(txn *badger.Txn, c *Collection, op *Opening) error {
	p, err := getPending(txn, c.Name, op.Key)
	if err != nil {
		return err
	}
	if p != nil {
		if !sameOpening(p, op) {
			return ErrOpeningMismatch
		}
		return nil
	}
	e := entry{Salt: op.Salt, Values: op.Values}
	if err := txn.Set(pendingKey(c.Name, op.Key), e.append(nil)); err != nil {
		return err
	}
	c.Pending++
	return nil
}

// getPending returns the opening waiting for key's reading, or nil.
func getPending(txn *badger.Txn, name, key string) (*entry, error) {
	item, err := txn.Get(pendingKey(name, key))
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

// reading is a Reading with its key path and its index in the call.
type reading struct {
	Reading
	path uint64
	at   int
}

// sortReadings orders a call's readings by key path and drops exact
// repeats. A key repeated with another leaf is ErrReadingConflict, two
// keys on one path ErrKeyPathCollision. Errors name readings by index.
func sortReadings(rs []Reading) ([]reading, error) {
	out := make([]reading, len(rs))
	for i, r := range rs {
		if r.Key == "" {
			return nil, fmt.Errorf("reading #%d: missing key: %w", i+1, records.ErrInvalidBatch)
		}
		out[i] = reading{Reading: r, path: zkhash.KeyPath(records.KeyDigest(r.Key)), at: i + 1}
	}
	slices.SortStableFunc(out, func(a, b reading) int { return cmp.Compare(a.path, b.path) })
	kept := out[:0]
	for _, r := range out {
		if n := len(kept); n > 0 && kept[n-1].path == r.path {
			prev := &kept[n-1]
			switch {
			case prev.Key != r.Key:
				return nil, fmt.Errorf("readings #%d and #%d: a key %w", prev.at, r.at, ErrKeyPathCollision)
			case !prev.Leaf.Equal(&r.Leaf):
				return nil, fmt.Errorf("readings #%d and #%d: %w", prev.at, r.at, ErrReadingConflict)
			}
			continue // an exact repeat
		}
		kept = append(kept, r)
	}
	return kept, nil
}

// AddReadings inserts readings the ledger attested into a device-fed
// collection's tree, exactly as the ledger does, so that both trees have
// one root. A reading whose opening waits is opened with it if it matches;
// a mismatched opening is dropped. A reading already in the tree with its
// leaf is skipped, so a sync restarted after a crash can send readings
// again; one with another leaf is ErrReadingConflict.
//
// through is the caller's ledger cursor: it is stored as Collection.Synced
// in the transaction of the last leaves, and only then. Readings are
// applied in key-path order in chunks of one transaction each, as Commit
// does, so a crash leaves a consistent prefix; an error leaves the chunk
// it occurred in unwritten.
func (s *Store) AddReadings(ctx context.Context, name string, through uint64, rs []Reading, progress Progress) (*CommitResult, error) {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.deviceFed(name)
	if err != nil {
		return nil, err
	}
	sorted, err := sortReadings(rs)
	if err != nil {
		return nil, fmt.Errorf("collection %s: %w", name, err)
	}
	root, err := records.ParseElement(c.Root)
	if err != nil {
		return nil, fmt.Errorf("collection %s: stored root: %w", name, err)
	}
	res := &CommitResult{Root: root}
	for lo := 0; ; {
		hi := min(lo+s.chunk, len(sorted))
		for {
			b := readingBatch{rs: sorted[lo:hi], through: through, last: hi == len(sorted)}
			err := s.applyReadings(ctx, c, &b, res)
			if err == nil {
				break
			}
			if !errors.Is(err, badger.ErrTxnTooBig) || hi-lo <= 1 {
				return nil, err
			}
			hi = lo + (hi-lo)/2
		}
		lo = hi
		progress("readings", lo, len(sorted))
		if lo == len(sorted) {
			break
		}
	}
	res.Count = c.Count
	s.log.InfoContext(ctx, "readings added", "collection", name, "inserted", res.Inserted, "opened", res.Opened,
		"count", c.Count, "unopened", c.Unopened, "synced", c.Synced, "root", c.Root)
	return res, nil
}

// readingBatch is one transaction's share of AddReadings.
type readingBatch struct {
	rs      []reading
	through uint64
	last    bool // store through as Synced
}

// applyReadings writes one chunk of readings in one transaction and
// advances c and res only when it committed.
func (s *Store) applyReadings(ctx context.Context, c *Collection, b *readingBatch, res *CommitResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var next Collection
	var changes []tree.Change
	var opened int
	var dropped []string
	root := res.Root
	err := s.write(func(txn *badger.Txn, _ Version) error {
		ns := newNodes(c.Name, txn)
		next, changes, opened, dropped = *c, nil, 0, nil
		for i := range b.rs {
			r := &b.rs[i]
			leaf, err := readingLeaf(ns, r.Key, r.path)
			if err != nil {
				return fmt.Errorf("collection %s: reading #%d: %w", c.Name, r.at, err)
			}
			if leaf != nil {
				if !leaf.Equal(&r.Leaf) {
					return fmt.Errorf("collection %s: reading #%d: %w", c.Name, r.at, ErrReadingConflict)
				}
				continue // already added
			}
			changes = append(changes, tree.Change{Op: tree.Insert, Path: r.path, Leaf: r.Leaf, Ref: r.Key})
			did, err := openWaiting(txn, &next, r)
			if err != nil {
				return fmt.Errorf("collection %s: reading #%d: %w", c.Name, r.at, err)
			}
			switch did {
			case waitOpened:
				opened++
			case waitDropped:
				dropped = append(dropped, r.Key)
			}
		}
		if len(changes) > 0 {
			var err error
			root, err = tree.Apply(ctx, ns, changes)
			if errors.Is(err, tree.ErrPathCollision) {
				return fmt.Errorf("collection %s: a reading's key %w", c.Name, ErrKeyPathCollision)
			}
			if err != nil {
				return err
			}
			if err := ns.flush(); err != nil {
				return err
			}
			next.Root = records.ElementHex(root)
		}
		next.Count += uint64(len(changes))
		next.Unopened += uint64(len(changes) - opened)
		if b.last {
			next.Synced = b.through
		}
		return putMeta(txn, &next)
	})
	if err != nil {
		return err
	}
	for _, k := range dropped {
		s.log.WarnContext(ctx, "opening does not match its attested reading; dropped", "collection", c.Name, "key", k)
	}
	*c = next
	res.Inserted += len(changes)
	res.Opened += opened
	res.Root = root
	return nil
}

// What openWaiting did with a new reading's waiting opening.
const (
	waitNone    = iota // none was waiting
	waitOpened         // it matched: the reading is a record
	waitDropped        // it did not match and was dropped
)

// openWaiting opens a newly inserted reading with the opening waiting for
// it, if one is and it hashes to the reading's leaf, and drops the waiting
// opening either way.
func openWaiting(txn *badger.Txn, c *Collection, r *reading) (int, error) {
	if c.Pending == 0 {
		return waitNone, nil
	}
	p, err := getPending(txn, c.Name, r.Key)
	if err != nil || p == nil {
		return waitNone, err
	}
	if err := txn.Delete(pendingKey(c.Name, r.Key)); err != nil {
		return waitNone, err
	}
	c.Pending--
	leaf, err := openingLeaf(c.schema, r.Key, p.Values, &p.Salt)
	if err != nil || !leaf.Equal(&r.Leaf) {
		// A kept opening that no longer encodes (it was checked when it
		// came) cannot open anything either.
		return waitDropped, nil //nolint:nilerr // see above
	}
	e := entry{Pos: c.Next, Salt: p.Salt, Values: p.Values}
	if err := txn.Set(keyKey(c.Name, r.Key), e.append(nil)); err != nil {
		return waitNone, err
	}
	c.Next++
	return waitOpened, nil
}
