package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/zkshare/zkshare/bundle"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/receipt"
	"github.com/zkshare/zkshare/records"
	"google.golang.org/protobuf/proto"
)

// Request limits.
const (
	maxSchemaBytes    = 16 << 10
	maxQueryBytes     = 2 << 10
	maxRecordsPerMsg  = 10_000
	maxRecordsPerCall = 5_000_000
	maxValueBytes     = 1 << 10
)

type holderService struct{ s *Server }

func invalid(field, format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

func (h *holderService) CreateCollection(ctx context.Context, req *zkv1.CreateCollectionRequest) (*zkv1.CreateCollectionResponse, error) {
	s := h.s
	if len(req.GetSchema()) == 0 || len(req.GetSchema()) > maxSchemaBytes {
		return nil, invalid("schema", "want a schema of 1 to %d bytes", maxSchemaBytes)
	}
	sc, err := records.ParseSchema(req.GetSchema())
	if err != nil {
		return nil, invalid("schema", "%v", err)
	}
	name := req.GetName()
	if name == "" {
		name = sc.Name
	}
	// The ledger's name is HOLDER/NAME: this node creates its holder's.
	name = s.qualify(name)
	if err := holder.ValidName(name); err != nil {
		return nil, invalid("name", "%v", err)
	}
	if h, _, _ := ledger.SplitName(name); h != s.holderID.ID {
		return nil, invalid("name", "%q: this node creates collections of holder %q only (name them %q or NAME)", name, s.holderID.ID, s.holderID.ID+"/NAME")
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if lc, ok := s.ledger.State().Collections[collectionKey(name)]; ok {
		// A create whose ledger registration landed after its caller gave
		// up (say, while a consortium lacked a quorum) is completed here.
		_, err := s.store.Collection(name)
		if lc.Holder != s.holderID.ID || !bytes.Equal(lc.SchemaHash, elemBytes(sc.ID())) || err == nil {
			return nil, connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("name: collection %q is registered", name))
		}
		c, err := s.store.CreateCollection(ctx, name, sc)
		if err != nil {
			return nil, toConnect(err)
		}
		info, err := s.info(c)
		if err != nil {
			return nil, toConnect(err)
		}
		return &zkv1.CreateCollectionResponse{Collection: info}, nil
	}
	// The ledger first: a collection the ledger refuses is never created.
	circuitIDs := make([][]byte, 0, len(keys.Names()))
	for _, n := range keys.Core {
		id, _ := hex.DecodeString(s.manifest.Circuits[n].CircuitID)
		circuitIDs = append(circuitIDs, id)
	}
	idb := elemBytes(records.CollectionID(name))
	schemaID := elemBytes(sc.ID())
	if _, err := s.store.Collection(name); err == nil {
		return nil, connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("name: collection %q exists", name))
	}
	rec, err := s.send(ctx, s.holderID, ledger.RegisterCollection(&zkv1.RegisterCollection{
		CollectionId: idb, Name: name, SchemaHash: schemaID, TreeDepth: 32, CircuitIds: circuitIDs,
		Confirmers: req.GetConfirmers(), ConfirmationsRequired: req.GetConfirmationsRequired(),
	}))
	if err != nil {
		return nil, toConnect(err)
	}
	c, err := s.store.CreateCollection(ctx, name, sc)
	if err != nil {
		return nil, toConnect(err)
	}
	info, err := s.info(c)
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.CreateCollectionResponse{Collection: info, RegisterTxHash: rec.Hash[:]}, nil
}

// qualify gives a collection name as the ledger has it, HOLDER/NAME: a
// short name is this node's holder's. An empty name stays empty.
func (s *Server) qualify(name string) string {
	if name == "" {
		return ""
	}
	return ledger.Qualify(s.holderID.ID, name)
}

func collectionKey(name string) string {
	return hex.EncodeToString(elemBytes(records.CollectionID(name)))
}

func elemBytes(e fr.Element) []byte {
	b := e.Bytes()
	return b[:]
}

// info is a collection's public facts: from the holder store and the ledger.
func (s *Server) info(c *holder.Collection) (*zkv1.CollectionInfo, error) {
	id := elemBytes(records.CollectionID(c.Name))
	root, err := records.ParseElement(c.Root)
	if err != nil {
		return nil, err
	}
	info := &zkv1.CollectionInfo{Name: c.Name, Id: id, Schema: c.Schema, SchemaHash: elemBytes(c.SchemaOf().ID()), RecordCount: c.Count, Root: elemBytes(root)}
	if lc, ok := s.ledger.State().Collections[hex.EncodeToString(id)]; ok {
		info.Holder = lc.Holder
		if lc.Latest != nil {
			info.AnchorSequence, info.AnchorHeight = lc.Latest.Sequence, lc.Latest.Height
		}
	}
	return info, nil
}

// GetCollection describes one of this node's collections (a short name is
// its holder's) or, from the ledger alone, another holder's (by its full
// name HOLDER/NAME). The node's own holder's collection that the ledger
// has but the store not yet (a create cut short) is not found.
func (h *holderService) GetCollection(ctx context.Context, req *zkv1.GetCollectionRequest) (*zkv1.GetCollectionResponse, error) {
	name := h.s.qualify(req.GetName())
	c, err := h.s.store.Collection(name)
	if errors.Is(err, holder.ErrNotFound) {
		if lc, ok := h.s.ledger.State().Collections[collectionKey(name)]; ok && lc.Holder != h.s.holderID.ID {
			return &zkv1.GetCollectionResponse{Collection: ledgerInfo(lc)}, nil
		}
	}
	if err != nil {
		return nil, toConnect(err)
	}
	info, err := h.s.info(c)
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.GetCollectionResponse{Collection: info}, nil
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

// CommitRecords takes a stream of record batches, validates them whole,
// commits them to the holder store, and anchors the new root on the ledger.
func (h *holderService) CommitRecords(ctx context.Context, stream *connect.ClientStream[zkv1.CommitRecordsRequest]) (*zkv1.CommitRecordsResponse, error) {
	s := h.s
	var name string
	var recs []records.Record
	for stream.Receive() {
		m := stream.Msg()
		if name == "" {
			name = m.GetCollection()
		} else if m.GetCollection() != "" && m.GetCollection() != name {
			return nil, invalid("collection", "every message must name the same collection")
		}
		if len(m.GetRecords()) > maxRecordsPerMsg {
			return nil, invalid("records", "at most %d per message", maxRecordsPerMsg)
		}
		if len(recs)+len(m.GetRecords()) > maxRecordsPerCall {
			return nil, invalid("records", "at most %d per call", maxRecordsPerCall)
		}
		for i, r := range m.GetRecords() {
			for _, v := range r.GetValues() {
				if len(v) > maxValueBytes {
					return nil, invalid("records", "record #%d: a value is longer than %d bytes", len(recs)+i+1, maxValueBytes)
				}
			}
			recs = append(recs, records.Record{Key: r.GetKey(), Values: r.GetValues()})
		}
	}
	if err := stream.Err(); err != nil {
		return nil, toConnect(err)
	}
	if name == "" {
		return nil, invalid("collection", "required in the first message")
	}
	name = s.qualify(name)
	if len(recs) == 0 {
		return nil, invalid("records", "none sent")
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := s.ownsCollection(ctx, name); err != nil {
		return nil, err
	}
	res, rec, err := s.applyAndAnchor(ctx, name, "committed", func() (*holder.CommitResult, error) {
		return s.store.Commit(ctx, name, recs, nil)
	})
	if err != nil {
		return nil, err
	}
	rb := res.Root.Bytes()
	return &zkv1.CommitRecordsResponse{Inserted: uint64(res.Inserted), Updated: uint64(res.Updated), RecordCount: res.Count,
		Root: rb[:], AnchorTxHash: rec.Hash[:], AnchorHeight: rec.Height}, nil
}

// applyAndAnchor applies a change to the holder store and anchors the new
// root; the caller holds commitMu. A change applied but not anchored says
// so: committing again anchors it.
func (s *Server) applyAndAnchor(ctx context.Context, name, did string, apply func() (*holder.CommitResult, error)) (*holder.CommitResult, *ledger.Receipt, error) {
	res, err := apply()
	if err != nil {
		return nil, nil, toConnect(err)
	}
	rec, err := s.anchor(ctx, name, res.Count, res.Root)
	if err != nil {
		return nil, nil, toConnect(fmt.Errorf("records %s but not anchored (commit again to retry): %w", did, err))
	}
	return res, rec, nil
}

// ownsCollection: the caller must be the identity this node signs as (the
// authorisation interceptor checks that too) and the collection's
// registered holder.
func (s *Server) ownsCollection(ctx context.Context, name string) error {
	c := callerOf(ctx)
	if c == nil || c.ID != s.holderID.ID {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("this node acts for holder %q only", s.holderID.ID))
	}
	lc, ok := s.ledger.State().Collections[collectionKey(name)]
	if !ok {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("collection: %q is not registered on the ledger", name))
	}
	if lc.Holder != c.ID {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("collection: %q is held by %q, not by %q", name, lc.Holder, c.ID))
	}
	return nil
}

// anchor records root as the collection's newest anchor, unless the last
// anchor already covers it (and its columns, when there are any: a root
// anchored before the aggregate keys existed is anchored again with them).
func (s *Server) anchor(ctx context.Context, name string, count uint64, root fr.Element) (*ledger.Receipt, error) {
	lc := s.ledger.State().Collections[collectionKey(name)]
	rb := root.Bytes()
	// With aggregate keys, the anchor also covers the column commitments
	// that aggregate proofs are checked against.
	var columns []byte
	cols, err := s.store.Columns(ctx, name)
	switch {
	case err == nil && cols.Root.Equal(&root):
		columns = cols.Digest[:]
	case err == nil:
		return nil, errors.New("the collection changed while anchoring")
	case !errors.Is(err, holder.ErrNoColumns):
		return nil, fmt.Errorf("column commitments: %w", err)
	}
	var seq uint64
	var prev []byte
	if lc.Last != nil {
		seq, prev = lc.Last.Sequence, lc.Last.Root
		// A root whose anchor never counted (it awaited confirmations
		// when the collection's rule changed) is anchored again.
		stuck := lc.Required == 0 && !lc.Counts(lc.Last.Sequence)
		if bytes.Equal(prev, rb[:]) && (columns == nil || bytes.Equal(lc.Last.Columns, columns)) && !stuck {
			return &ledger.Receipt{Height: lc.Last.Height, Hash: [32]byte(lc.Last.TxHash)}, nil
		}
	}
	a := &zkv1.Anchor{CollectionId: lc.ID, Root: rb[:], RecordCount: count, Sequence: seq + 1, PreviousRoot: prev, Columns: columns}
	return s.send(ctx, s.holderID, ledger.AnchorRoot(a))
}

// Prove answers a consumer's question with a bundle anchored on the ledger,
// and records an audit entry of it.
func (h *holderService) Prove(ctx context.Context, req *zkv1.ProveRequest) (*zkv1.ProveResponse, error) {
	s := h.s
	coll := s.qualify(req.GetCollection())
	c := callerOf(ctx)
	var kind zkv1.StatementKind
	switch req.GetKind() {
	case zkv1.StatementKind_STATEMENT_KIND_SUBJECT:
		kind = bundle.KindSubject
		if req.GetSubject() == "" || len(req.GetSubject()) > maxValueBytes {
			return nil, invalid("subject", "a subject statement needs the subject's key")
		}
	case zkv1.StatementKind_STATEMENT_KIND_EXISTS:
		kind = bundle.KindExists
		if req.GetSubject() != "" {
			return nil, invalid("subject", "an exists statement names no subject")
		}
	default:
		return nil, invalid("kind", "want STATEMENT_KIND_SUBJECT or STATEMENT_KIND_EXISTS")
	}
	if q := req.GetQuery(); q == "" || len(q) > maxQueryBytes {
		return nil, invalid("query", "want 1 to %d bytes", maxQueryBytes)
	}
	var nonce fr.Element
	if err := nonce.SetBytesCanonical(req.GetNonce()); err != nil || len(req.GetNonce()) != 32 {
		return nil, invalid("nonce", "want 32 bytes, a BN254 scalar (big-endian, below the modulus)")
	}
	var blind fr.Element
	switch {
	case kind == bundle.KindExists && len(req.GetBlind()) != 0:
		return nil, invalid("blind", "an exists statement names no subject to blind")
	case kind == bundle.KindSubject && (len(req.GetBlind()) != 32 || blind.SetBytesCanonical(req.GetBlind()) != nil || blind.IsZero()):
		// Without a secret blind, anyone holding the bundle could recover
		// a low-entropy key from the key commitment by trying keys.
		return nil, invalid("blind", "a subject statement needs 32 random bytes (a non-zero BN254 scalar) that the asker keeps")
	}
	if _, ok := s.ledger.State().Collections[collectionKey(coll)]; !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("collection: %q is not registered", coll))
	}
	if _, err := s.policies.allow(coll, c.ID, question{kind: req.GetKind(), query: req.GetQuery()}); err != nil {
		return nil, toConnect(err)
	}
	select {
	case s.queue <- struct{}{}:
		defer func() { <-s.queue }()
	default:
		return nil, connect.NewError(connect.CodeResourceExhausted, errors.New("the prover is busy: retry shortly"))
	}

	s.commitMu.RLock()
	defer s.commitMu.RUnlock()
	b, err := s.prover.Prove(ctx, prover.Request{Collection: coll, Kind: kind, Subject: req.GetSubject(), Query: req.GetQuery(), Nonce: nonce, Blind: blind})
	if errors.Is(err, prover.ErrNoWitness) || errors.Is(err, holder.ErrNotFound) {
		// "No such subject" and "no matching record" are answers too.
		if aerr := s.auditUnproven(ctx, coll, c.ID, bundle.KindName(kind), req.GetQuery(), nonce); aerr != nil {
			return nil, toConnect(fmt.Errorf("audit entry: %w", aerr))
		}
	}
	if err != nil {
		return nil, toConnect(err)
	}
	pb, err := b.Proto()
	if err != nil {
		return nil, toConnect(err)
	}
	if err := s.attachAnchor(pb); err != nil {
		return nil, toConnect(err)
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(pb)
	if err != nil {
		return nil, toConnect(err)
	}
	bh := sha256.Sum256(raw)
	ar, err := s.recordAudit(ctx, &zkv1.AuditReceipt{CollectionId: pb.GetCollectionId(), Consumer: c.ID, Statement: bundle.KindName(kind),
		QueryHash: pb.GetQueryHash(), Nonce: pb.GetNonce(), Result: pb.GetResult(), BundleHash: bh[:]})
	if err != nil {
		return nil, toConnect(fmt.Errorf("audit entry: %w", err))
	}
	s.log.InfoContext(ctx, "proof served", "collection", coll, "consumer", c.ID, "statement", bundle.KindName(kind), "bundle", hex.EncodeToString(bh[:8]))
	return &zkv1.ProveResponse{Bundle: pb, Statement: b.Statement(), Audit: ar}, nil
}

// auditUnproven records a question that was answered without a bundle.
func (s *Server) auditUnproven(ctx context.Context, coll, consumer, kind, text string, nonce fr.Element) error {
	c, err := s.store.Collection(coll)
	if errors.Is(err, holder.ErrNotFound) {
		return nil // not held here: no question was answered
	}
	if err != nil {
		return err
	}
	prep, err := query.Prepare(text, c.SchemaOf())
	if err != nil {
		return err
	}
	id := records.CollectionID(coll)
	_, err = s.recordAudit(ctx, &zkv1.AuditReceipt{CollectionId: elemBytes(id), Consumer: consumer, Statement: kind,
		QueryHash: elemBytes(prep.Hash), Nonce: elemBytes(nonce), Result: false})
	if err == nil {
		s.log.InfoContext(ctx, "question answered without a bundle", "collection", coll, "consumer", consumer, "statement", kind)
	}
	return err
}

// attachAnchor adds the anchor of the bundle's root and the offline
// evidence (bundle.Attach).
func (s *Server) attachAnchor(pb *zkv1.Bundle) error {
	if err := bundle.Attach(s.ledger, pb, 0); errors.Is(err, bundle.ErrNotAnchored) {
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("collection: %w; commit again, or await the confirmations", err))
	} else if err != nil {
		return err
	}
	return nil
}

// UpdateRecords replaces existing records only: one unknown key rejects
// the call and nothing is written.
func (h *holderService) UpdateRecords(ctx context.Context, req *zkv1.UpdateRecordsRequest) (*zkv1.UpdateRecordsResponse, error) {
	s := h.s
	coll := s.qualify(req.GetCollection())
	if n := len(req.GetRecords()); n == 0 || n > maxRecordsPerMsg {
		return nil, invalid("records", "want 1 to %d records", maxRecordsPerMsg)
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := s.ownsCollection(ctx, coll); err != nil {
		return nil, err
	}
	recs := make([]records.Record, len(req.GetRecords()))
	for i, r := range req.GetRecords() {
		if _, err := s.store.Record(ctx, coll, r.GetKey()); err != nil {
			if errors.Is(err, holder.ErrNotFound) {
				return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("records[%d].key: no such record", i))
			}
			return nil, toConnect(err)
		}
		recs[i] = records.Record{Key: r.GetKey(), Values: r.GetValues()}
	}
	res, rec, err := s.applyAndAnchor(ctx, coll, "updated", func() (*holder.CommitResult, error) {
		return s.store.Commit(ctx, coll, recs, nil)
	})
	if err != nil {
		return nil, err
	}
	return &zkv1.UpdateRecordsResponse{Updated: uint64(res.Updated), RecordCount: res.Count, Root: elemBytes(res.Root), AnchorTxHash: rec.Hash[:], AnchorHeight: rec.Height}, nil
}

// DeleteRecords empties the records' positions and anchors the new root.
func (h *holderService) DeleteRecords(ctx context.Context, req *zkv1.DeleteRecordsRequest) (*zkv1.DeleteRecordsResponse, error) {
	s := h.s
	coll := s.qualify(req.GetCollection())
	if n := len(req.GetKeys()); n == 0 || n > maxRecordsPerMsg {
		return nil, invalid("keys", "want 1 to %d keys", maxRecordsPerMsg)
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := s.ownsCollection(ctx, coll); err != nil {
		return nil, err
	}
	res, rec, err := s.applyAndAnchor(ctx, coll, "deleted", func() (*holder.CommitResult, error) {
		return s.store.Delete(ctx, coll, req.GetKeys())
	})
	if err != nil {
		return nil, err
	}
	return &zkv1.DeleteRecordsResponse{Deleted: uint64(res.Deleted), RecordCount: res.Count, Root: elemBytes(res.Root), AnchorTxHash: rec.Hash[:], AnchorHeight: rec.Height}, nil
}

// SetPolicy replaces a collection's access policy.
func (h *holderService) SetPolicy(ctx context.Context, req *zkv1.SetPolicyRequest) (*zkv1.SetPolicyResponse, error) {
	s := h.s
	coll := s.qualify(req.GetCollection())
	if err := s.ownsCollection(ctx, coll); err != nil {
		return nil, err
	}
	c, err := s.store.Collection(coll)
	if err != nil {
		return nil, toConnect(err)
	}
	consumer := func(id string) bool {
		p, ok := s.ledger.State().Participants[id]
		return ok && !p.Revoked && p.Role == zkv1.Role_ROLE_CONSUMER
	}
	if err := checkPolicy(req.GetPolicy(), c.SchemaOf(), consumer); err != nil {
		return nil, err
	}
	if err := s.policies.set(coll, req.GetPolicy()); err != nil {
		return nil, toConnect(err)
	}
	s.log.InfoContext(ctx, "access policy set", "collection", coll, "rules", len(req.GetPolicy().GetRules()))
	return &zkv1.SetPolicyResponse{}, nil
}

// GetPolicy returns a collection's access policy.
func (h *holderService) GetPolicy(ctx context.Context, req *zkv1.GetPolicyRequest) (*zkv1.GetPolicyResponse, error) {
	coll := h.s.qualify(req.GetCollection())
	if err := h.s.ownsCollection(ctx, coll); err != nil {
		return nil, err
	}
	return &zkv1.GetPolicyResponse{Policy: h.s.policies.get(coll)}, nil
}

// IssueReceipt gives the holder a subject's receipt to hand to that
// subject: the record, salt and path under the current anchored root. It is
// never for consumers, and nothing of it is logged.
func (h *holderService) IssueReceipt(ctx context.Context, req *zkv1.IssueReceiptRequest) (*zkv1.IssueReceiptResponse, error) {
	s := h.s
	coll := s.qualify(req.GetCollection())
	if req.GetSubject() == "" || len(req.GetSubject()) > maxValueBytes {
		return nil, invalid("subject", "want the subject's key")
	}
	s.commitMu.RLock()
	defer s.commitMu.RUnlock()
	if err := s.ownsCollection(ctx, coll); err != nil {
		return nil, err
	}
	c, err := s.store.Collection(coll)
	if err != nil {
		return nil, toConnect(err)
	}
	w, err := s.store.Record(ctx, coll, req.GetSubject())
	if err != nil {
		return nil, toConnect(err)
	}
	r := receipt.New(coll, c.Schema, w)
	// The anchor fields make the receipt's proofs complete bundles.
	b := &zkv1.Bundle{CollectionId: r.GetCollectionId(), Root: r.GetRoot()}
	if err := s.attachAnchor(b); err != nil {
		return nil, toConnect(err)
	}
	r.AnchorTx, r.AnchorLogIndex, r.AnchorInclusion, r.Checkpoint = b.AnchorTx, b.AnchorLogIndex, b.AnchorInclusion, b.Checkpoint
	s.log.InfoContext(ctx, "receipt issued", "collection", coll)
	return &zkv1.IssueReceiptResponse{Receipt: r}, nil
}

// ConfirmAnchor co-signs, as this node's holder (who must be the caller),
// an anchor of a collection that names that holder among its confirmers.
func (h *holderService) ConfirmAnchor(ctx context.Context, req *zkv1.ConfirmAnchorRequest) (*zkv1.ConfirmAnchorResponse, error) {
	if len(req.GetCollectionId()) != 32 || len(req.GetRoot()) != 32 {
		return nil, invalid("collection_id", "collection_id and root must be 32 bytes")
	}
	// The confirmation is signed as this node's holder: only it may ask.
	if c := callerOf(ctx); c == nil || c.ID != h.s.holderID.ID {
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("this node confirms as holder %q only", h.s.holderID.ID))
	}
	rec, err := h.s.send(ctx, h.s.holderID, ledger.Confirm(&zkv1.ConfirmAnchor{CollectionId: req.GetCollectionId(), Sequence: req.GetSequence(), Root: req.GetRoot()}))
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.ConfirmAnchorResponse{TxHash: rec.Hash[:], Height: rec.Height}, nil
}

type adminService struct{ s *Server }

func (a *adminService) RegisterParticipant(ctx context.Context, req *zkv1.RegisterParticipantRequest) (*zkv1.RegisterParticipantResponse, error) {
	s := a.s
	// A token is issued with a participant's registration, never after it:
	// otherwise one admin could mint a working token for anyone already
	// registered (the node's own holder included) and act as them.
	if err := s.mayIssueToken(req.GetId()); err != nil {
		return nil, err
	}
	rec, pid, pending, err := s.govern(ctx, ledger.RegisterParticipant(req.GetId(), req.GetRole(), req.GetPublicKey()),
		ledger.ActRegisterParticipant(req.GetId(), req.GetRole(), req.GetPublicKey()),
		func(st *ledger.State) bool {
			p, ok := st.Participants[req.GetId()]
			return ok && p.Role == req.GetRole() && string(p.Key) == string(req.GetPublicKey())
		})
	if err != nil {
		return nil, toConnect(err)
	}
	tok, err := s.tokens.issue(req.GetId())
	if err != nil {
		return nil, toConnect(err)
	}
	resp := &zkv1.RegisterParticipantResponse{Token: tok, Pending: pending, ProposalId: pid}
	if rec != nil {
		resp.TxHash = rec.Hash[:]
	}
	return resp, nil
}
