package holder

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/circuits"
)

// Tree nodes are stored in tiles of tileWidth consecutive nodes of one
// level, the way transparency logs store theirs: a million-leaf tree is
// about 130k badger entries instead of two million, which is what makes
// bulk loads write-bound no longer. A path still reads one tile per level.
const (
	tileBits  = 4
	tileWidth = 1 << tileBits
	tileBytes = tileWidth * fr.Bytes
)

type tileID struct {
	level int
	index uint64 // node index >> tileBits
}

type tile [tileWidth]fr.Element

func tileKey(name string, id tileID) []byte {
	return binary.BigEndian.AppendUint64(append([]byte("t/"+name+"/"), byte(id.level)), id.index)
}

// emptyTile is a tile of empty subtrees at level.
func emptyTile(level int) *tile {
	var t tile
	z := circuits.ZeroHashes()[level]
	for i := range t {
		t[i] = z
	}
	return &t
}

func decodeTile(b []byte) (*tile, error) {
	if len(b) != tileBytes {
		return nil, fmt.Errorf("corrupt tree tile: %d bytes", len(b))
	}
	var t tile
	for i := range t {
		if err := t[i].SetBytesCanonical(b[i*fr.Bytes : (i+1)*fr.Bytes]); err != nil {
			return nil, fmt.Errorf("corrupt tree tile: %w", err)
		}
	}
	return &t, nil
}

func (t *tile) encode() []byte {
	out := make([]byte, 0, tileBytes)
	for i := range t {
		b := t[i].Bytes()
		out = append(out, b[:]...)
	}
	return out
}

// nodes is the tree.Store of one collection inside one badger
// transaction: reads come from staged tiles, then badger; writes go to
// staged tiles, which flush writes into the transaction.
type nodes struct {
	name   string
	txn    *badger.Txn
	staged map[tileID]*tile
}

func newNodes(name string, txn *badger.Txn) *nodes {
	return &nodes{name: name, txn: txn, staged: map[tileID]*tile{}}
}

// load returns the tile, staging it (a copy of the stored one) when stage.
func (n *nodes) load(id tileID, stage bool) (*tile, error) {
	if t, ok := n.staged[id]; ok {
		return t, nil
	}
	var t *tile
	item, err := n.txn.Get(tileKey(n.name, id))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		t = emptyTile(id.level)
	case err != nil:
		return nil, err
	default:
		if err := item.Value(func(v []byte) error { t, err = decodeTile(v); return err }); err != nil {
			return nil, err
		}
	}
	if stage {
		n.staged[id] = t
	}
	return t, nil
}

// Node implements tree.Store.
func (n *nodes) Node(level int, index uint64) (fr.Element, bool, error) {
	t, err := n.load(tileID{level, index >> tileBits}, false)
	if err != nil {
		return fr.Element{}, false, err
	}
	return t[index%tileWidth], true, nil
}

// SetNode implements tree.Store.
func (n *nodes) SetNode(level int, index uint64, h fr.Element) error {
	t, err := n.load(tileID{level, index >> tileBits}, true)
	if err != nil {
		return err
	}
	t[index%tileWidth] = h
	return nil
}

// SetNodes implements tree.RunStore: a level's run of nodes from Build.
func (n *nodes) SetNodes(level int, start uint64, hs []fr.Element) error {
	for len(hs) > 0 {
		t, err := n.load(tileID{level, start >> tileBits}, true)
		if err != nil {
			return err
		}
		k := copy(t[start%tileWidth:], hs)
		hs, start = hs[k:], start+uint64(k)
	}
	return nil
}

// flush writes every staged tile into the transaction.
func (n *nodes) flush() error {
	for id, t := range n.staged {
		if err := n.txn.Set(tileKey(n.name, id), t.encode()); err != nil {
			return err
		}
	}
	return nil
}
