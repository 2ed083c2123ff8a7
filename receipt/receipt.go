// Package receipt converts between a holder's witness of one record and
// the receipt its subject keeps: the record's values, salt and path under
// an anchored root, enough to prove facts about it offline.
package receipt

import (
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/circuits"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/records"
)

// New builds a receipt from a witness; anchor fields are the caller's.
func New(collection string, schemaRaw []byte, w *holder.Witness) *zkv1.Receipt {
	salt := w.Record.Salt.Bytes()
	root := w.Root.Bytes()
	coll := records.CollectionID(collection)
	id := coll.Bytes()
	r := &zkv1.Receipt{Collection: collection, CollectionId: id[:], Schema: schemaRaw, Key: w.Raw.Key, Values: w.Raw.Values,
		Salt: salt[:], Version: w.Version, Depth: uint32(w.Record.Depth), Root: root[:]}
	for i := range w.Record.Depth {
		b := w.Record.Siblings[i].Bytes()
		r.Siblings = append(r.Siblings, b[:])
	}
	return r
}

// Witness rebuilds the witness a receipt carries and checks that its path
// leads to its root, so a damaged receipt fails here rather than in the prover.
func Witness(r *zkv1.Receipt) (*holder.Witness, error) {
	if r == nil {
		return nil, errors.New("receipt: missing")
	}
	sc, err := records.ParseSchema(r.GetSchema())
	if err != nil {
		return nil, fmt.Errorf("receipt: schema: %w", err)
	}
	raw := records.Record{Key: r.GetKey(), Values: r.GetValues()}
	key, slots, err := sc.Encode(&raw)
	if err != nil {
		return nil, fmt.Errorf("receipt: record: %w", err)
	}
	if d := r.GetDepth(); d > circuits.Depth || len(r.GetSiblings()) != int(d) {
		return nil, fmt.Errorf("receipt: %d siblings at depth %d, want one per level above the leaf (depth at most %d)", len(r.GetSiblings()), d, circuits.Depth)
	}
	w := &holder.Witness{Raw: raw, Version: r.GetVersion(), Record: circuits.Record{Key: key, Values: slots, Depth: int(r.GetDepth())}}
	if err := element(&w.Record.Salt, r.GetSalt()); err != nil {
		return nil, fmt.Errorf("receipt: salt: %w", err)
	}
	if err := element(&w.Root, r.GetRoot()); err != nil {
		return nil, fmt.Errorf("receipt: root: %w", err)
	}
	for i, s := range r.GetSiblings() {
		if err := element(&w.Record.Siblings[i], s); err != nil {
			return nil, fmt.Errorf("receipt: sibling %d: %w", i, err)
		}
	}
	if got, err := w.Record.Root(sc.ID()); err != nil || !got.Equal(&w.Root) {
		return nil, errors.New("receipt: the record and path do not lead to the receipt's root")
	}
	return w, nil
}

func element(e *fr.Element, b []byte) error {
	if len(b) != fr.Bytes {
		return fmt.Errorf("want %d bytes, got %d", fr.Bytes, len(b))
	}
	return e.SetBytesCanonical(b)
}
