package holder

import (
	"context"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/zkshare/zkshare/circuits"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/tree"
)

// AggregateSnapshot returns a collection, its root and its tree split into
// regions of at most maxLeaves records and maxInners inner nodes, from a
// grid of cells of about maxLeaves*3/8 to maxLeaves*3/4 records that
// depends on the record count alone (tree.Regions says why), each record
// opened as the aggregate circuit reads it: everything an aggregate proof
// needs, from one consistent read.
func (s *Store) AggregateSnapshot(ctx context.Context, name string, maxLeaves, maxInners int) (*Collection, []circuits.AggRegion, fr.Element, error) {
	var c *Collection
	var out []circuits.AggRegion
	var root fr.Element
	err := s.view(func(txn *badger.Txn) error {
		var err error
		if c, err = getMeta(txn, name); err != nil {
			return err
		}
		if c.Unopened > 0 {
			return fmt.Errorf("collection %s: %d readings lack their openings: %w", name, c.Unopened, ErrNotOpened)
		}
		ns := newNodes(name, txn)
		if root, err = tree.Root(ns); err != nil {
			return err
		}
		regs, err := tree.Regions(ns, tree.RegionDepth(c.Count, maxLeaves*3/4), maxLeaves, maxInners)
		if err != nil {
			return fmt.Errorf("collection %s: %w", name, err)
		}
		out = make([]circuits.AggRegion, len(regs))
		for i, r := range regs {
			if err := ctx.Err(); err != nil {
				return err
			}
			ar := circuits.AggRegion{Depth: r.Pos.Depth, Prefix: r.Pos.Prefix, Root: r.Root, Leaves: make([]circuits.AggLeaf, len(r.Leaves))}
			for j, l := range r.Leaves {
				e, err := lookup(txn, name, l.Ref)
				if err != nil {
					return err
				}
				if e == nil {
					return leafWithoutRecord(c)
				}
				kd, slots, err := c.schema.Encode(&records.Record{Key: l.Ref, Values: e.Values})
				if err != nil {
					return fmt.Errorf("stored record: %w", err)
				}
				ar.Leaves[j] = circuits.AggLeaf{Key: kd, Salt: e.Salt, Values: slots, Depth: l.Depth}
			}
			for _, n := range r.Inners {
				ar.Inners = append(ar.Inners, circuits.AggInner{Depth: n.Pos.Depth, Prefix: n.Pos.Prefix, Left: n.Left, Right: n.Right})
			}
			out[i] = ar
		}
		return nil
	})
	return c, out, root, err
}
