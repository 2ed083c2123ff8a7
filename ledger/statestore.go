package ledger

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	badger "github.com/dgraph-io/badger/v4"
)

// The state is stored and hashed entry by entry, so that a block costs what
// it changes, not what the state holds. Each participant, circuit,
// collection and proposal is an entry: one badger key ("st/<kind>/<id>",
// its JSON) and one leaf of the state commitment. Apply records the entries
// it changes (State.dirty); building a block folds them into the
// commitment and the block's write batch stores them.
//
// The commitment is a Merkle tree of fixed shape: an entry's place is the
// first 16 bits of sha256(kind || id), each of the 2^16 buckets hashes its
// entries in key-hash order, and empty subtrees have fixed hashes. Its
// root depends only on the entries, never on the order they were added,
// so every replica computes the same one; nodes are never changed in
// place, so a state and its clones share them.
//
//	entry hash   sha256(JSON of the entry)
//	bucket hash  sha256(0x00 || key hash || entry hash || ...) over its entries in key-hash order
//	node hash    sha256(0x01 || left || right)
//	state hash   sha256("zkshare/state/v2\n" || JSON of {origin, genesis_hash, height, governance_threshold} || root)

// Kinds of state entries.
const (
	entryParticipant byte = 'p'
	entryCircuit     byte = 'k'
	entryCollection  byte = 'c'
	entryProposal    byte = 'g'
)

// entryKey names one entry: its kind and its key in the state's map.
type entryKey struct {
	kind byte
	id   string
}

func (k entryKey) dbKey() []byte { return append([]byte{'s', 't', '/', k.kind, '/'}, k.id...) }

func (k entryKey) hash() [32]byte { return sha256.Sum256(append([]byte{k.kind}, k.id...)) }

func compareEntryKeys(a, b entryKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.id, b.id))
}

// Keys of the stored state: its scalar fields, and the prefix of its entries.
var (
	keyStateMeta   = []byte("st/meta")
	keyStateEntry  = []byte("st/")
	stateDomain    = "zkshare/state/v2\n"
	bucketBits     = 16
	emptyStateNode = func() [][32]byte {
		e := make([][32]byte, bucketBits+1)
		e[bucketBits] = sha256.Sum256([]byte{0})
		for lv := bucketBits - 1; lv >= 0; lv-- {
			e[lv] = sha256.Sum256(slices.Concat([]byte{1}, e[lv+1][:], e[lv+1][:]))
		}
		return e
	}()
)

// stateMeta is the state without its entries.
type stateMeta struct {
	Origin      string `json:"origin"`
	GenesisHash []byte `json:"genesis_hash"`
	Height      uint64 `json:"height"`
	Threshold   uint32 `json:"governance_threshold,omitempty"`
	Development bool   `json:"development,omitempty"`
}

func (s *State) meta() stateMeta {
	return stateMeta{Origin: s.Origin, GenesisHash: s.GenesisHash, Height: s.Height, Threshold: s.Threshold, Development: s.Development}
}

// leaf is one entry in a bucket.
type leaf struct{ key, val [32]byte }

// stateNode is a node of the commitment; nil is an empty subtree. A
// bucket (level bucketBits) holds leaves, any other node two children.
type stateNode struct {
	hash   [32]byte
	kids   [2]*stateNode
	leaves []leaf
}

func nodeHash(n *stateNode, level int) [32]byte {
	if n == nil {
		return emptyStateNode[level]
	}
	return n.hash
}

func bit(k [32]byte, level int) int { return int(k[level/8]>>(7-level%8)) & 1 }

func bucketNode(leaves []leaf) *stateNode {
	if len(leaves) == 0 {
		return nil
	}
	b := make([]byte, 1, 1+64*len(leaves))
	for _, l := range leaves {
		b = append(append(b, l.key[:]...), l.val[:]...)
	}
	return &stateNode{hash: sha256.Sum256(b), leaves: leaves}
}

func innerNode(level int, l, r *stateNode) *stateNode {
	if l == nil && r == nil {
		return nil
	}
	lh, rh := nodeHash(l, level+1), nodeHash(r, level+1)
	return &stateNode{hash: sha256.Sum256(slices.Concat([]byte{1}, lh[:], rh[:])), kids: [2]*stateNode{l, r}}
}

// buildStateTree builds the commitment of leaves sorted by key.
func buildStateTree(level int, leaves []leaf) *stateNode {
	if len(leaves) == 0 {
		return nil
	}
	if level == bucketBits {
		return bucketNode(leaves)
	}
	// Sorted leaves under one node share the bits above level: those
	// with this bit 0 come first.
	split := sort.Search(len(leaves), func(i int) bool { return bit(leaves[i].key, level) == 1 })
	return innerNode(level, buildStateTree(level+1, leaves[:split]), buildStateTree(level+1, leaves[split:]))
}

// updateStateTree returns n with the leaf of key set to val (del: removed),
// copying the path and sharing the rest.
func updateStateTree(n *stateNode, level int, key, val [32]byte, del bool) *stateNode {
	if level == bucketBits {
		var leaves []leaf
		if n != nil {
			leaves = n.leaves
		}
		i, found := slices.BinarySearchFunc(leaves, key, func(l leaf, k [32]byte) int { return bytes.Compare(l.key[:], k[:]) })
		switch {
		case del && !found:
			return n
		case del:
			leaves = slices.Delete(slices.Clone(leaves), i, i+1)
		case found:
			leaves = slices.Clone(leaves)
			leaves[i].val = val
		default:
			leaves = slices.Insert(slices.Clone(leaves), i, leaf{key, val})
		}
		return bucketNode(leaves)
	}
	var kids [2]*stateNode
	if n != nil {
		kids = n.kids
	}
	b := bit(key, level)
	kids[b] = updateStateTree(kids[b], level+1, key, val, del)
	return innerNode(level, kids[0], kids[1])
}

// entry returns the value of an entry, or nil if the state has none.
func (s *State) entry(k entryKey) any {
	var v any
	var ok bool
	switch k.kind {
	case entryParticipant:
		v, ok = s.Participants[k.id]
	case entryCircuit:
		v, ok = s.Circuits[k.id]
	case entryCollection:
		v, ok = s.Collections[k.id]
	case entryProposal:
		v, ok = s.Proposals[k.id]
	case entryDevice:
		v, ok = s.Devices[k.id]
	case entryCeremony:
		v, ok = s.Ceremonies[k.id]
	}
	if !ok {
		return nil
	}
	return v
}

// entries lists every entry of the state, in no particular order.
func (s *State) entries() []entryKey {
	out := make([]entryKey, 0, len(s.Participants)+len(s.Circuits)+len(s.Collections)+len(s.Proposals)+len(s.Devices)+len(s.Ceremonies))
	for k := range s.Participants {
		out = append(out, entryKey{entryParticipant, k})
	}
	for k := range s.Circuits {
		out = append(out, entryKey{entryCircuit, k})
	}
	for k := range s.Collections {
		out = append(out, entryKey{entryCollection, k})
	}
	for k := range s.Proposals {
		out = append(out, entryKey{entryProposal, k})
	}
	for k := range s.Devices {
		out = append(out, entryKey{entryDevice, k})
	}
	for k := range s.Ceremonies {
		out = append(out, entryKey{entryCeremony, k})
	}
	return out
}

// touch records that Apply changed (or removed) an entry.
func (s *State) touch(kind byte, id string) {
	if s.dirty == nil {
		s.dirty = map[entryKey]struct{}{}
	}
	s.dirty[entryKey{kind, id}] = struct{}{}
}

func (s *State) putParticipant(p Participant) {
	s.Participants[p.ID] = p
	s.touch(entryParticipant, p.ID)
}

func (s *State) putCircuit(id string, c Circuit) {
	s.Circuits[id] = c
	s.touch(entryCircuit, id)
}

func (s *State) putCollection(id string, c Collection) {
	s.Collections[id] = c
	s.touch(entryCollection, id)
}

func (s *State) dropProposal(id string) {
	delete(s.Proposals, id)
	s.touch(entryProposal, id)
}

// commitment is the state's tree with the changes since the last fold,
// and those changes sorted; it changes nothing in s.
func (s *State) commitment() (*stateNode, []entryKey, error) {
	changed := slices.SortedFunc(maps.Keys(s.dirty), compareEntryKeys)
	if !s.folded {
		all := s.entries()
		leaves := make([]leaf, len(all))
		for i, k := range all {
			eh, err := entryHash(s.entry(k))
			if err != nil {
				return nil, nil, err
			}
			leaves[i] = leaf{k.hash(), eh}
		}
		slices.SortFunc(leaves, func(a, b leaf) int { return bytes.Compare(a.key[:], b.key[:]) })
		return buildStateTree(0, leaves), changed, nil
	}
	t := s.tree
	for _, k := range changed {
		v := s.entry(k)
		var eh [32]byte
		if v != nil {
			var err error
			if eh, err = entryHash(v); err != nil {
				return nil, nil, err
			}
		}
		t = updateStateTree(t, 0, k.hash(), eh, v == nil)
	}
	return t, changed, nil
}

func entryHash(v any) ([32]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

func (s *State) hashWith(t *stateNode) ([32]byte, error) {
	m, err := json.Marshal(s.meta())
	if err != nil {
		return [32]byte{}, err
	}
	root := nodeHash(t, 0)
	return sha256.Sum256(slices.Concat([]byte(stateDomain), m, root[:])), nil
}

// Hash is the state's commitment (see statestore.go). It changes nothing in s.
func (s *State) Hash() ([32]byte, error) {
	t, _, err := s.commitment()
	if err != nil {
		return [32]byte{}, err
	}
	return s.hashWith(t)
}

// fold takes the changes since the last fold into the commitment, records
// them as this state's changes to store, and returns the state hash. Only
// the owner of a state not yet published may fold it.
func (s *State) fold() ([32]byte, error) {
	t, changed, err := s.commitment()
	if err != nil {
		return [32]byte{}, err
	}
	s.tree, s.folded, s.dirty = t, true, nil
	s.changed = changed
	return s.hashWith(t)
}

// storeState writes the whole state through set (at Init, and by tests).
func storeState(set func(k, v []byte) error, st *State) error {
	m, err := json.Marshal(st.meta())
	if err != nil {
		return err
	}
	if err := set(keyStateMeta, m); err != nil {
		return err
	}
	for _, k := range st.entries() {
		b, err := json.Marshal(st.entry(k))
		if err != nil {
			return err
		}
		if err := set(k.dbKey(), b); err != nil {
			return err
		}
	}
	return nil
}

// storeChanges writes what the block that made st changed: its meta and
// the entries its fold recorded.
func storeChanges(set func(k, v []byte), del func(k []byte), st *State) error {
	m, err := json.Marshal(st.meta())
	if err != nil {
		return err
	}
	set(keyStateMeta, m)
	for _, k := range st.changed {
		v := st.entry(k)
		if v == nil {
			del(k.dbKey())
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		set(k.dbKey(), b)
	}
	return storeNodes(set, del, st)
}

// loadState reads the stored state and builds its commitment.
func loadState(txn *badger.Txn) (*State, error) {
	var m stateMeta
	if err := getJSON(txn, keyStateMeta, &m); err != nil {
		if _, old := txn.Get(keyState); old == nil {
			return nil, fmt.Errorf("%w: the state is stored whole, as by an earlier zkshare: initialise the ledger again", ErrCorrupt)
		}
		return nil, err
	}
	st := &State{Origin: m.Origin, GenesisHash: m.GenesisHash, Height: m.Height, Threshold: m.Threshold, Development: m.Development,
		Participants: map[string]Participant{}, Circuits: map[string]Circuit{}, Collections: map[string]Collection{}}
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256, Prefix: keyStateEntry})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		if bytes.Equal(k, keyStateMeta) {
			continue
		}
		if len(k) < 6 || k[4] != '/' {
			return nil, fmt.Errorf("%w: state key %q", ErrCorrupt, k)
		}
		id := string(k[5:])
		err := item.Value(func(v []byte) error {
			switch k[3] {
			case entryParticipant:
				return decodeEntry(v, st.Participants, id)
			case entryCircuit:
				return decodeEntry(v, st.Circuits, id)
			case entryCollection:
				return decodeEntry(v, st.Collections, id)
			case entryProposal:
				if st.Proposals == nil {
					st.Proposals = map[string]Proposal{}
				}
				return decodeEntry(v, st.Proposals, id)
			case entryDevice:
				if st.Devices == nil {
					st.Devices = map[string]Device{}
				}
				return decodeEntry(v, st.Devices, id)
			case entryCeremony:
				if st.Ceremonies == nil {
					st.Ceremonies = map[string]Ceremony{}
				}
				return decodeEntry(v, st.Ceremonies, id)
			}
			return errors.New("unknown kind")
		})
		if err != nil {
			return nil, fmt.Errorf("%w: state entry %q: %w", ErrCorrupt, k, err)
		}
	}
	if _, err := st.fold(); err != nil {
		return nil, err
	}
	st.changed = nil
	return st, nil
}

func decodeEntry[V any](b []byte, m map[string]V, id string) error {
	var v V
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	m[id] = v
	return nil
}
