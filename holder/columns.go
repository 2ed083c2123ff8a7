package holder

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/tree"
)

// ErrNoColumns: the store has no column basis (no aggregate keys), so it
// keeps no column commitments.
var ErrNoColumns = errors.New("no aggregate keys: run `zkshare keys setup --aggregate`")

// SetColumnBasis makes the store keep column commitments for aggregate
// proofs, over chunks of b.Rows() positions. Call it before serving.
func (s *Store) SetColumnBasis(b circuits.ColumnBasis) {
	if bits.OnesCount(uint(b.Rows())) != 1 {
		panic("holder: column chunks must be a power of two") // the circuit shape is a constant
	}
	s.basis = b
}

// Columns are a collection's chunk commitments, as of its current root:
// what an anchor carries (Digest) and what the prover needs (Salts).
type Columns struct {
	Root        fr.Element
	Rows        int // positions per chunk
	Salts       []fr.Element
	Commitments []bn254.G1Affine
	Digest      [32]byte
}

// columnKey is where a chunk's commitment lives: a/<name>/<chunk>.
func columnKey(name string, chunk uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("a/"+name+"/"), chunk)
}

// columnEntry is the subtree node a chunk's commitment was made for, its
// salt and the commitment: the node changes whenever a record of the chunk
// does (every version has a fresh salt), which marks the entry stale.
const columnEntrySize = 3 * 32

// Columns returns the collection's column commitments, first bringing up to
// date those of chunks whose records changed since (each with a fresh salt,
// so a commitment's change says nothing of what changed).
func (s *Store) Columns(ctx context.Context, name string) (*Columns, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cols, _, _, err := s.columns(ctx, name, false)
	return cols, err
}

// AggregateSnapshot is Snapshot with the matching column commitments, read
// under the writer lock so that both describe the same state.
func (s *Store) AggregateSnapshot(ctx context.Context, name string) (*Collection, []Positioned, *Columns, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cols, c, recs, err := s.columns(ctx, name, true)
	return c, recs, cols, err
}

// columns refreshes stale chunk commitments and returns them, with the
// collection's records when withRecords is set. The caller holds s.mu.
func (s *Store) columns(ctx context.Context, name string, withRecords bool) (*Columns, *Collection, []Positioned, error) {
	if s.basis == nil {
		return nil, nil, nil, ErrNoColumns
	}
	rows := s.basis.Rows()
	level := bits.TrailingZeros(uint(rows))
	c, err := s.Collection(name)
	if err != nil {
		return nil, nil, nil, err
	}
	n := max(1, (c.Next+uint64(rows)-1)/uint64(rows))
	out := &Columns{Rows: rows, Salts: make([]fr.Element, n), Commitments: make([]bn254.G1Affine, n)}
	nodes := make([]fr.Element, n)
	var stale []uint64
	err = s.db.View(func(txn *badger.Txn) error {
		tn := newNodes(name, txn)
		var err error
		if out.Root, err = tree.Root(tn); err != nil {
			return err
		}
		for i := range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			if nodes[i], err = tree.Node(tn, level, i); err != nil {
				return err
			}
			item, err := txn.Get(columnKey(name, i))
			if errors.Is(err, badger.ErrKeyNotFound) {
				stale = append(stale, i)
				continue
			} else if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(v) != columnEntrySize {
				return fmt.Errorf("column entry %d: %d bytes", i, len(v))
			}
			var node fr.Element
			node.SetBytes(v[:32])
			if !node.Equal(&nodes[i]) {
				stale = append(stale, i)
				continue
			}
			out.Salts[i].SetBytes(v[32:64])
			if _, err := out.Commitments[i].SetBytes(v[64:]); err != nil {
				return fmt.Errorf("column entry %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	var recs []Positioned
	if len(stale) > 0 || withRecords {
		if c, recs, _, err = s.Snapshot(ctx, name); err != nil {
			return nil, nil, nil, err
		}
	}
	if len(stale) > 0 {
		if err := s.refresh(ctx, name, c, recs, stale, nodes, out); err != nil {
			return nil, nil, nil, err
		}
	}
	out.Digest = circuits.ColumnsDigest(rows, out.Commitments)
	return out, c, recs, nil
}

// refresh recommits the stale chunks and stores them in one transaction.
func (s *Store) refresh(ctx context.Context, name string, c *Collection, recs []Positioned, stale []uint64, nodes []fr.Element, out *Columns) error {
	rows, err := AggRows(c, recs, out.Rows, len(out.Salts))
	if err != nil {
		return err
	}
	salts := make([]fr.Element, len(stale))
	if err := freshSalts(salts); err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for k, i := range stale {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, err := s.basis.Commit(rows[int(i)*out.Rows:int(i+1)*out.Rows], salts[k])
		if err != nil {
			return err
		}
		out.Salts[i], out.Commitments[i] = salts[k], d
		v := make([]byte, 0, columnEntrySize)
		node, salt, point := nodes[i].Bytes(), salts[k].Bytes(), d.Bytes()
		v = append(append(append(v, node[:]...), salt[:]...), point[:]...)
		if err := wb.Set(columnKey(name, i), v); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("store column commitments: %w", err)
	}
	s.log.Debug("column commitments refreshed", "collection", name, "chunks", len(stale))
	return nil
}

// AggRows lays a collection's live records out by position, chunks*rows
// positions, encoded as the aggregate circuit reads them; other positions
// are empty.
func AggRows(c *Collection, recs []Positioned, rows, chunks int) ([]circuits.AggRow, error) {
	out := make([]circuits.AggRow, rows*chunks)
	for i := range recs {
		if recs[i].Pos >= uint64(len(out)) {
			return nil, fmt.Errorf("record at position %d beyond %d chunks", recs[i].Pos, chunks)
		}
		_, slots, err := c.schema.Encode(&recs[i].Raw)
		if err != nil {
			return nil, fmt.Errorf("stored record: %w", err)
		}
		out[recs[i].Pos] = circuits.AggRow{Live: true, Values: slots}
	}
	return out, nil
}
