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

// ErrNoColumns means the store has no column basis (no aggregate keys), so it
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

// columnEntry is the chunk generation a chunk's commitment was made for,
// its salt and the commitment: every write to a record of the chunk gives
// the chunk a fresh generation (touch), which marks the entry stale.
const columnEntrySize = 3 * 32

// generationKey is where a chunk's generation lives: g/<name>/<chunk>.
func generationKey(name string, chunk uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("g/"+name+"/"), chunk)
}

// columnRows is the number of rows per column chunk: the basis's, or the
// aggregate circuit's shape before a basis is set.
func (s *Store) columnRows() uint64 {
	if s.basis != nil {
		return uint64(s.basis.Rows())
	}
	return circuits.AggChunkRows
}

// touch gives the chunks of the given row positions fresh generations,
// inside the transaction that changes their records.
func (s *Store) touch(txn *badger.Txn, name string, pos []uint64) error {
	seen := map[uint64]bool{}
	for _, p := range pos {
		chunk := p / s.columnRows()
		if seen[chunk] {
			continue
		}
		seen[chunk] = true
		var g [1]fr.Element
		if err := freshSalts(g[:]); err != nil {
			return err
		}
		b := g[0].Bytes()
		if err := txn.Set(generationKey(name, chunk), b[:]); err != nil {
			return err
		}
	}
	return nil
}

// generation reads a chunk's generation: zero for a chunk never written.
func generation(txn *badger.Txn, name string, chunk uint64) (fr.Element, error) {
	var g fr.Element
	item, err := txn.Get(generationKey(name, chunk))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return g, nil
	}
	if err != nil {
		return g, err
	}
	err = item.Value(func(v []byte) error { return g.SetBytesCanonical(v) })
	return g, err
}

// Columns returns the collection's column commitments, first bringing up to
// date those of chunks whose records changed since (each with a fresh salt,
// so a commitment's change says nothing of what changed).
func (s *Store) Columns(ctx context.Context, name string) (*Columns, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _, cols, err := s.columns(ctx, name, false)
	return cols, err
}

// AggregateSnapshot returns the collection, every chunk's rows as the
// aggregate circuit reads them, and the matching column commitments, read
// under the writer lock so that they describe the same state.
func (s *Store) AggregateSnapshot(ctx context.Context, name string) (*Collection, [][]circuits.AggRow, *Columns, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.columns(ctx, name, true)
}

// columns refreshes stale chunk commitments and returns them; with allRows
// it also returns every chunk's rows, else only stale chunks are encoded.
// The caller holds s.mu.
func (s *Store) columns(ctx context.Context, name string, allRows bool) (*Collection, [][]circuits.AggRow, *Columns, error) {
	if s.basis == nil {
		return nil, nil, nil, ErrNoColumns
	}
	rows := s.basis.Rows()
	c, err := s.Collection(name)
	if err != nil {
		return nil, nil, nil, err
	}
	n := max(1, (c.Next+uint64(rows)-1)/uint64(rows))
	out := &Columns{Rows: rows, Salts: make([]fr.Element, n), Commitments: make([]bn254.G1Affine, n)}
	nodes := make([]fr.Element, n)
	stale := make([]bool, n)
	anyStale := false
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
			if nodes[i], err = generation(txn, name, i); err != nil {
				return err
			}
			ok, err := readColumn(txn, name, i, nodes[i], &out.Salts[i], &out.Commitments[i])
			if err != nil {
				return err
			}
			stale[i], anyStale = !ok, anyStale || !ok
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	var chunks [][]circuits.AggRow
	if anyStale || allRows {
		var recs []Positioned
		if c, recs, _, err = s.Snapshot(ctx, name); err != nil {
			return nil, nil, nil, err
		}
		if chunks, err = chunkRows(c, recs, rows, int(n), func(i uint64) bool { return allRows || stale[i] }); err != nil {
			return nil, nil, nil, err
		}
	}
	if anyStale {
		if err := s.refresh(ctx, name, chunks, stale, nodes, out); err != nil {
			return nil, nil, nil, err
		}
	}
	out.Digest = circuits.ColumnsDigest(rows, out.Commitments)
	if !allRows {
		chunks = nil
	}
	return c, chunks, out, nil
}

// readColumn reads chunk i's stored commitment into salt and d; it reports
// false when there is none or it was made for another generation.
func readColumn(txn *badger.Txn, name string, i uint64, node fr.Element, salt *fr.Element, d *bn254.G1Affine) (bool, error) {
	item, err := txn.Get(columnKey(name, i))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return false, err
	}
	if len(v) != columnEntrySize {
		return false, fmt.Errorf("column entry %d: %d bytes", i, len(v))
	}
	var stored fr.Element
	if stored.SetBytes(v[:32]); !stored.Equal(&node) {
		return false, nil
	}
	salt.SetBytes(v[32:64])
	if _, err := d.SetBytes(v[64:]); err != nil {
		return false, fmt.Errorf("column entry %d: %w", i, err)
	}
	return true, nil
}

// refresh recommits the stale chunks and stores them in one batch.
func (s *Store) refresh(ctx context.Context, name string, chunks [][]circuits.AggRow, stale []bool, nodes []fr.Element, out *Columns) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	for i, st := range stale {
		if !st {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var salt [1]fr.Element
		if err := freshSalts(salt[:]); err != nil {
			return err
		}
		d, err := s.basis.Commit(chunks[i], salt[0])
		if err != nil {
			return err
		}
		out.Salts[i], out.Commitments[i] = salt[0], d
		v := make([]byte, 0, columnEntrySize)
		node, sb, point := nodes[i].Bytes(), salt[0].Bytes(), d.Bytes()
		v = append(append(append(v, node[:]...), sb[:]...), point[:]...)
		if err := wb.Set(columnKey(name, uint64(i)), v); err != nil {
			return err
		}
		n++
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("store column commitments: %w", err)
	}
	s.log.Debug("column commitments refreshed", "collection", name, "chunks", n)
	return nil
}

// chunkRows lays the live records of the wanted chunks out by position,
// encoded as the aggregate circuit reads them; other positions are empty
// and unwanted chunks are nil.
func chunkRows(c *Collection, recs []Positioned, rows, chunks int, want func(chunk uint64) bool) ([][]circuits.AggRow, error) {
	out := make([][]circuits.AggRow, chunks)
	for i := range out {
		if want(uint64(i)) {
			out[i] = make([]circuits.AggRow, rows)
		}
	}
	for i := range recs {
		chunk, off := recs[i].Pos/uint64(rows), recs[i].Pos%uint64(rows)
		if chunk >= uint64(chunks) {
			return nil, fmt.Errorf("record at position %d beyond %d chunks", recs[i].Pos, chunks)
		}
		if out[chunk] == nil {
			continue
		}
		_, slots, err := c.schema.Encode(&recs[i].Raw)
		if err != nil {
			return nil, fmt.Errorf("stored record: %w", err)
		}
		out[chunk][off] = circuits.AggRow{Live: true, Values: slots}
	}
	return out, nil
}
