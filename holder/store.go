// Package holder is a data holder's private store: collections, their
// records with per-version salts, the key index and the collection tree's
// nodes, all in badger. Nothing here is public; what leaves it is a root,
// a count, or a witness handed to the prover.
package holder

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/internal/kv"
	"github.com/zkshare/zkshare/records"
)

// Sentinel errors; the caller maps them to user-facing codes.
var (
	// ErrNotFound: no such collection or key. Check the name.
	ErrNotFound = errors.New("not found")
	// ErrExists: the collection already exists. Pick another name.
	ErrExists = errors.New("already exists")
	// ErrLocked: another process has the store open. Stop it, or use another directory.
	ErrLocked = kv.ErrLocked
	// ErrWrongKey: the store's encryption key is not the one given (or
	// one was given for a plain store, or none for an encrypted one).
	ErrWrongKey = kv.ErrWrongKey
	// ErrOldTree: the collection was built by a version of zkshare whose
	// tree did not fix each key's place; recreate it and commit its
	// records again.
	ErrOldTree = errors.New("was built with an older tree format: recreate it and commit its records again")
	// ErrPresent: the key has a live record, so it cannot be proven absent.
	ErrPresent = errors.New("the key has a live record")
	// ErrKeyPathCollision: two keys share a key path; only one of them can
	// be in a collection.
	ErrKeyPathCollision = errors.New("shares its key path with another key of the collection; rename one of them")
)

// Store is a holder's private store. One writer at a time; readers never
// block it.
//
// The store is versioned (badger's managed mode): every write transaction
// commits at the next version, and a Store returned by At reads the whole
// store as it was at one version, so a proof reads the anchored tree while
// a commit writes the next one (versions.go).
type Store struct {
	*base
	// at is the version this view reads (0: the latest).
	at Version
}

// base is what every view of one store shares.
type base struct {
	db  *badger.DB
	log *slog.Logger
	mu  sync.Mutex // serialises writers
	// txMu serialises write transactions, so versions commit in order and
	// a reader at version v sees every write up to v whole.
	txMu sync.Mutex
	// ts is the last committed version.
	ts atomic.Uint64
	// reads counts the readers in flight at each version, so the discard
	// point never passes one (versions.go).
	readMu sync.Mutex
	reads  map[Version]int
	// chunk is how many records a commit hashes, and tries to write in
	// one transaction, at a time.
	chunk int
}

// Option configures how a store is opened.
type Option func(*options)

type options struct {
	kv    kv.Options
	chunk int
}

// WithEncryptionKey encrypts the store at rest with key (16, 24 or 32
// bytes, AES); a store written with a key opens only with that key.
func WithEncryptionKey(key []byte) Option {
	return func(o *options) { o.kv.EncryptionKey = key }
}

// WithCommitChunk sets how many records a commit writes per transaction
// (default 32,768); crash tests cross chunk boundaries with few records.
func WithCommitChunk(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.chunk = n
		}
	}
}

// Open opens (or creates) a store in dir; dir "" keeps it in memory.
// Writes are synced before they are acknowledged.
func Open(dir string, log *slog.Logger, opts ...Option) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := options{kv: kv.Options{Managed: true}, chunk: commitChunk}
	for _, f := range opts {
		f(&o)
	}
	db, err := kv.Open(dir, log, o.kv)
	if err != nil {
		return nil, fmt.Errorf("holder store: %w", err)
	}
	b := &base{db: db, log: log, chunk: o.chunk, reads: map[Version]int{}}
	b.ts.Store(db.MaxVersion())
	return &Store{base: b}, nil
}

// CheckKey says, without opening or changing anything, whether key opens
// the store in dir (ErrWrongKey if not); a store not made yet takes any key.
func CheckKey(dir string, key []byte) error { return kv.CheckKey(dir, key) }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Collection is the public face of a collection plus its schema.
type Collection struct {
	Name   string          `json:"name"`
	ID     string          `json:"id"` // hex of the collection id element
	Schema json.RawMessage `json:"schema"`
	Next   uint64          `json:"next"`  // next free row (aggregates' position order)
	Count  uint64          `json:"count"` // live records
	Root   string          `json:"root"`  // hex
	// Tree is the tree's format (treeFormat); 0 for a collection made by
	// a version of zkshare whose tree did not fix a key's place.
	Tree int `json:"tree,omitempty"`
	// Devices marks a device-fed collection: the ledger builds its tree
	// from device attestations, so the holder only mirrors it
	// (AddReadings, PutOpenings) and never commits or deletes records.
	Devices bool `json:"devices,omitempty"`
	// Synced is the ledger cursor the last AddReadings reached, stored with
	// its last leaves, so a restarted sync resumes from there.
	Synced uint64 `json:"synced,omitempty"`
	// Unopened counts leaves (of Count) whose opening has not arrived:
	// nothing can be proven about them, and no aggregate over them.
	Unopened uint64 `json:"unopened,omitempty"`
	// Pending counts openings kept for readings the ledger has not
	// attested yet (at most maxPending).
	Pending uint64 `json:"pending,omitempty"`
	schema  *records.Schema
}

// SchemaOf returns the collection's parsed schema.
func (c *Collection) SchemaOf() *records.Schema { return c.schema }

var collectionNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func metaKey(name string) []byte { return []byte("m/" + name) }
func keyKey(name, key string) []byte {
	return append([]byte("k/"+name+"/"), key...)
}

// holderIDRE is a ledger participant id, a qualified name's prefix.
var holderIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidName checks a collection name: NAME, or HOLDER/NAME as a node
// qualifies it (the ledger's form), NAME 1-64 lowercase letters, digits, _
// and -, HOLDER a participant id.
func ValidName(name string) error {
	holder, short, qualified := strings.Cut(name, "/")
	if !qualified {
		short = name
	}
	if !collectionNameRE.MatchString(short) || qualified && !holderIDRE.MatchString(holder) {
		return fmt.Errorf("collection name %q: use 1-64 lowercase letters, digits, _ and -, after the holder's id and a / where qualified", name)
	}
	return nil
}

// prefixTaken: "h" and "h/x" cannot share a store, since their keys
// ("k/h/x/..." of either) would overlap.
func prefixTaken(txn *badger.Txn, name string) bool {
	if holder, _, qualified := strings.Cut(name, "/"); qualified {
		_, err := txn.Get(metaKey(holder))
		return err == nil
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: metaKey(name + "/")})
	defer it.Close()
	it.Rewind()
	return it.Valid()
}

// CreateCollection registers a new, empty collection.
func (s *Store) CreateCollection(ctx context.Context, name string, schema *records.Schema) (*Collection, error) {
	return s.create(ctx, name, schema, false)
}

// CreateDeviceCollection registers a new, empty device-fed collection: its
// tree mirrors the one the ledger builds from device attestations.
func (s *Store) CreateDeviceCollection(ctx context.Context, name string, schema *records.Schema) (*Collection, error) {
	return s.create(ctx, name, schema, true)
}

func (s *Store) create(ctx context.Context, name string, schema *records.Schema, devices bool) (*Collection, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	raw, err := schema.Raw()
	if err != nil {
		return nil, err
	}
	c := &Collection{Name: name, ID: records.ElementHex(records.CollectionID(name)), Schema: raw, Root: records.ElementHex(fr.Element{}), Tree: treeFormat, Devices: devices, schema: schema}
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.write(func(txn *badger.Txn, v Version) error {
		if _, err := txn.Get(metaKey(name)); err == nil {
			return fmt.Errorf("collection %s: %w", name, ErrExists)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if prefixTaken(txn, name) {
			return fmt.Errorf("collection %s: clashes with a collection of this store (\"h\" and \"h/x\" cannot share one): %w", name, ErrExists)
		}
		b, _ := json.Marshal(c)
		if err := txn.Set(metaKey(name), b); err != nil {
			return err
		}
		if devices {
			return nil // the ledger builds its tree: nothing to roll back
		}
		// The empty collection is where a commit that was never anchored
		// rolls back to (RollbackUnanchored).
		return putVersions(txn, name, &versions{Base: v})
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "collection created", "collection", name, "fields", len(schema.Fields), "devices", devices)
	return c, nil
}

// Collection returns a collection's metadata.
func (s *Store) Collection(name string) (*Collection, error) {
	var c *Collection
	err := s.view(func(txn *badger.Txn) error {
		var err error
		c, err = getMeta(txn, name)
		return err
	})
	return c, err
}

// Collections lists every collection.
func (s *Store) Collections() ([]*Collection, error) {
	var out []*Collection
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("m/")})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			c, err := getMeta(txn, strings.TrimPrefix(string(it.Item().Key()), "m/"))
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

func getMeta(txn *badger.Txn, name string) (*Collection, error) {
	c, _, err := getMetaVersion(txn, name)
	return c, err
}

// getMetaVersion is getMeta and the version that wrote the meta: the
// version of the collection's latest change.
func getMetaVersion(txn *badger.Txn, name string) (*Collection, Version, error) {
	item, err := txn.Get(metaKey(name))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("collection %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	var c Collection
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &c) }); err != nil {
		return nil, 0, err
	}
	if c.schema, err = records.ParseSchema(c.Schema); err != nil {
		return nil, 0, fmt.Errorf("collection %s: stored schema: %w", name, err)
	}
	if c.Tree != treeFormat {
		return nil, 0, fmt.Errorf("collection %s: %w", name, ErrOldTree)
	}
	return &c, Version(item.Version()), nil
}

// freshSalts fills out with uniformly random field elements from
// crypto/rand: 384 bits each, reduced mod r, so the bias is negligible.
func freshSalts(out []fr.Element) error {
	const n = 48
	buf := make([]byte, n*len(out))
	if _, err := rand.Read(buf); err != nil {
		return fmt.Errorf("salt: %w", err)
	}
	for i := range out {
		out[i].SetBytes(buf[i*n : (i+1)*n])
	}
	clear(buf)
	return nil
}
