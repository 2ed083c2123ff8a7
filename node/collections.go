package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/circuits"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/records"
)

// Qualify gives a collection name as the ledger has it, HOLDER/NAME: a
// short name is this node's holder's. An empty name stays empty.
func (n *Node) Qualify(name string) string {
	if name == "" {
		return ""
	}
	return ledger.Qualify(n.holderID.ID, name)
}

func collectionKey(name string) string {
	return hex.EncodeToString(elemBytes(records.CollectionID(name)))
}

func elemBytes(e fr.Element) []byte {
	b := e.Bytes()
	return b[:]
}

// ActsAsHolder checks that only the identity this node signs as may have it
// act as a holder (another holder registered on the ledger acts through its
// node).
// Every holder call checks it; a transport may ask first, before it
// receives a long stream.
func (n *Node) ActsAsHolder(c Caller) error {
	if c.ID != n.holderID.ID {
		return errorf(ErrPermissionDenied, "this node acts for holder %q; holder %q's node must do this", n.holderID.ID, c.ID)
	}
	return nil
}

// ownsCollection: the caller must be the identity this node signs as and
// the collection's registered holder.
func (n *Node) ownsCollection(c Caller, name string) error {
	if err := n.ActsAsHolder(c); err != nil {
		return err
	}
	lc, ok := n.ledger.State().Collections[collectionKey(name)]
	if !ok {
		return errorf(ErrNotFound, "collection: %q is not registered on the ledger", name)
	}
	if lc.Holder != c.ID {
		return errorf(ErrPermissionDenied, "collection: %q is held by %q, not by %q", name, lc.Holder, c.ID)
	}
	return nil
}

// NewCollection is a collection to create.
type NewCollection struct {
	// Name is short (this node's holder's) or HOLDER/NAME with this
	// node's holder; empty: the schema's name.
	Name string
	// Schema is the schema's JSON.
	Schema []byte
	// Confirmers and ConfirmationsRequired set M-of-N anchor confirmation.
	Confirmers            []string
	ConfirmationsRequired uint32
	// DeviceFed: its records are device readings, whose tree the ledger
	// builds from signed attestations (SubmitReadings).
	DeviceFed bool
}

// CreateCollection registers a collection on the ledger, then creates it
// in the holder store. It returns the collection and the registration's
// transaction hash (nil when a create cut short is completed).
func (n *Node) CreateCollection(ctx context.Context, c Caller, nc NewCollection) (*zkv1.CollectionInfo, []byte, error) {
	if err := n.ActsAsHolder(c); err != nil {
		return nil, nil, err
	}
	if len(nc.Schema) == 0 || len(nc.Schema) > MaxSchemaBytes {
		return nil, nil, invalid("schema", "want a schema of 1 to %d bytes", MaxSchemaBytes)
	}
	sc, err := records.ParseSchema(nc.Schema)
	if err != nil {
		return nil, nil, invalid("schema", "%v", err)
	}
	name := nc.Name
	if name == "" {
		name = sc.Name
	}
	// The ledger's name is HOLDER/NAME: this node creates its holder's.
	name = n.Qualify(name)
	if err := holder.ValidName(name); err != nil {
		return nil, nil, invalid("name", "%v", err)
	}
	if h, _, _ := ledger.SplitName(name); h != n.holderID.ID {
		return nil, nil, invalid("name", "%q: this node creates collections of holder %q only (name them %q or NAME)", name, n.holderID.ID, n.holderID.ID+"/NAME")
	}
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	if lc, ok := n.ledger.State().Collections[collectionKey(name)]; ok {
		// A create whose ledger registration landed after its caller gave
		// up (say, while a consortium lacked a quorum) is completed here.
		_, err := n.store.Collection(name)
		if lc.Holder != n.holderID.ID || !bytes.Equal(lc.SchemaHash, elemBytes(sc.ID())) || err == nil {
			return nil, nil, errorf(ErrAlreadyExists, "name: collection %q is registered", name)
		}
		col, err := n.createInStore(ctx, name, sc, lc.DeviceFed)
		if err != nil {
			return nil, nil, err
		}
		info, err := n.info(col, n.seesProving(c))
		return info, nil, err
	}
	// The ledger first: a collection the ledger refuses is never created.
	// It names the core circuits the ledger has registered: on a
	// production ledger, those whose ceremony keys are in place.
	circuitIDs := make([][]byte, 0, len(keys.Names()))
	for _, name := range keys.Core {
		id, err := hex.DecodeString(n.manifest.Circuits[name].CircuitID)
		if err != nil {
			return nil, nil, fmt.Errorf("manifest: circuit %s id: %w", name, err)
		}
		if _, ok := n.ledger.State().LatestCircuit(id); ok {
			circuitIDs = append(circuitIDs, id)
		}
	}
	if len(circuitIDs) == 0 {
		return nil, nil, errorf(ErrFailedPrecondition, "collection: none of this node's circuits is registered on the ledger yet (a ledger not marked for development takes ceremony keys only)")
	}
	if _, err := n.store.Collection(name); err == nil {
		return nil, nil, errorf(ErrAlreadyExists, "name: collection %q exists", name)
	}
	rec, err := n.send(ctx, n.holderID, ledger.RegisterCollection(&zkv1.RegisterCollection{
		CollectionId: elemBytes(records.CollectionID(name)), Name: name, SchemaHash: elemBytes(sc.ID()), TreeDepth: circuits.Depth, CircuitIds: circuitIDs,
		Confirmers: nc.Confirmers, ConfirmationsRequired: nc.ConfirmationsRequired, DeviceFed: nc.DeviceFed,
	}))
	if err != nil {
		return nil, nil, err
	}
	col, err := n.createInStore(ctx, name, sc, nc.DeviceFed)
	if err != nil {
		return nil, nil, err
	}
	info, err := n.info(col, n.seesProving(c))
	if err != nil {
		return nil, nil, err
	}
	return info, rec.Hash[:], nil
}

func (n *Node) createInStore(ctx context.Context, name string, sc *records.Schema, deviceFed bool) (*holder.Collection, error) {
	if deviceFed {
		return n.store.CreateDeviceCollection(ctx, name, sc)
	}
	return n.store.CreateCollection(ctx, name, sc)
}

// info is a collection's facts: from the holder store and the ledger;
// with proving, also what proofs of it read (the holder's to know).
func (n *Node) info(c *holder.Collection, proving bool) (*zkv1.CollectionInfo, error) {
	id := elemBytes(records.CollectionID(c.Name))
	info := &zkv1.CollectionInfo{Name: c.Name, Id: id, Schema: c.Schema, SchemaHash: elemBytes(c.SchemaOf().ID()), RecordCount: c.Count}
	var err error
	if info.Root, err = hex.DecodeString(c.Root); err != nil {
		return nil, fmt.Errorf("collection %s: stored root: %w", c.Name, err)
	}
	var vs []holder.AnchoredVersion
	if !c.Devices {
		// A running commit is not visible: the count and root are the
		// newest anchored version's (none: the empty collection's).
		if vs, err = n.store.Versions(c.Name); err != nil {
			return nil, err
		}
		info.RecordCount, info.Root = 0, make([]byte, fr.Bytes)
		if len(vs) > 0 {
			last := vs[len(vs)-1]
			if info.Root, err = hex.DecodeString(last.Root); err != nil {
				return nil, fmt.Errorf("collection %s: kept version %d: root: %w", c.Name, last.Version, err)
			}
			info.RecordCount = last.Count
		}
	}
	if lc, ok := n.ledger.State().Collections[hex.EncodeToString(id)]; ok {
		info.Holder = lc.Holder
		if lc.Latest != nil {
			info.AnchorSequence, info.AnchorHeight = lc.Latest.Sequence, lc.Latest.Height
		}
		if proving && !c.Devices && lc.Holder == n.holderID.ID {
			info.Proving = n.provingState(lc, vs)
		}
	}
	return info, nil
}

// Collection describes one of this node's collections (a short name is
// its holder's) or, from the ledger alone, another holder's (by its full
// name HOLDER/NAME). The node's own holder's collection that the ledger
// has but the store not yet (a create cut short) is not found. Anyone may
// ask: it is public, except what proofs read (ProvingState), which only
// the holder and the admin see.
func (n *Node) Collection(_ context.Context, caller Caller, name string) (*zkv1.CollectionInfo, error) {
	name = n.Qualify(name)
	c, err := n.store.Collection(name)
	if errors.Is(err, holder.ErrNotFound) {
		if lc, ok := n.ledger.State().Collections[collectionKey(name)]; ok && lc.Holder != n.holderID.ID {
			return ledgerInfo(lc), nil
		}
	}
	if err != nil {
		return nil, err
	}
	return n.info(c, n.seesProving(caller))
}

// ledgerInfo is what the ledger alone says of a collection: no schema, and
// the count and root of its latest anchor that counts.
func ledgerInfo(lc ledger.Collection) *zkv1.CollectionInfo {
	info := &zkv1.CollectionInfo{Name: lc.Name, Id: lc.ID, SchemaHash: lc.SchemaHash, Holder: lc.Holder}
	if lc.Latest != nil {
		info.RecordCount, info.Root = lc.Latest.RecordCount, lc.Latest.Root
		info.AnchorSequence, info.AnchorHeight = lc.Latest.Sequence, lc.Latest.Height
	}
	return info
}
