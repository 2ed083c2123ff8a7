package console

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
)

// Pages of the ledger: public, as the ledger itself is.

const (
	recentTxs     = 15 // transactions on the overview
	blocksPerPage = 50
	maxCheckpoint = 4 << 10 // bytes of a pasted checkpoint
)

// txRow is one transaction in a list.
type txRow struct {
	Hash     string
	Height   uint64
	LogIndex uint64
	Kind     string
	Sender   string
	Time     time.Time
}

func row(e *ledger.Entry, t int64) txRow {
	return txRow{Hash: hex.EncodeToString(e.Tx.Hash[:]), Height: e.Height, LogIndex: e.LogIndex,
		Kind: txKind(e.Tx.Body), Sender: e.Tx.Body.GetSender(), Time: time.UnixMilli(t).UTC()}
}

// txKind names a transaction's kind in words ("register collection").
func txKind(b *zkv1.TxBody) string {
	m := b.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("kind")
	if od == nil {
		return "unknown"
	}
	f := m.WhichOneof(od)
	if f == nil {
		return "unknown"
	}
	return strings.ReplaceAll(string(f.Name()), "_", " ")
}

type collectionRow struct {
	Name, Holder, Path string
	AnchorCount        uint64
	Records            uint64
	Root               string
	Pending            int
	DeviceFed          bool
}

type overviewData struct {
	Holder, Admin, Origin, NodeKey, Genesis string
	Height, LogSize                         uint64
	TipHash, LogRoot                        string
	TipTime                                 time.Time
	Checkpoint                              string
	Collections                             []collectionRow
	Recent                                  []txRow
}

func (c *Console) overview(r *request) (*view, error) {
	l := c.n.Ledger()
	st, head := l.Tip()
	cp, _, err := l.Checkpoint()
	if err != nil {
		return nil, err
	}
	d := overviewData{Holder: c.n.HolderID(), Admin: c.n.AdminID(), Origin: l.Origin(),
		NodeKey: hex.EncodeToString(l.NodeKey()), Genesis: hex.EncodeToString(st.GenesisHash),
		Height: head.Height, LogSize: head.LogSize, TipHash: hex.EncodeToString(head.Hash),
		LogRoot: hex.EncodeToString(head.LogRoot), TipTime: time.UnixMilli(head.TimeUnixMs).UTC(), Checkpoint: string(cp)}
	for _, lc := range l.Collections() {
		d.Collections = append(d.Collections, collectionSummary(lc))
	}
	for i := head.LogSize; i > 0 && len(d.Recent) < recentTxs; i-- {
		e, err := l.Entry(i - 1)
		if err != nil {
			return nil, err
		}
		t, _ := l.BlockTime(e.Height) // a block the entry names exists
		d.Recent = append(d.Recent, row(e, t))
	}
	return &view{Page: "overview", Title: "Overview", Data: d}, nil
}

func collectionSummary(lc ledger.Collection) collectionRow {
	cr := collectionRow{Name: lc.Name, Holder: lc.Holder, Path: collectionPath(lc.Name), Pending: len(lc.Pending), DeviceFed: lc.DeviceFed}
	if lc.Last != nil {
		cr.AnchorCount = lc.Last.Sequence
	}
	if lc.Latest != nil {
		cr.Records, cr.Root = lc.Latest.RecordCount, hex.EncodeToString(lc.Latest.Root)
	}
	return cr
}

// collectionPath is a collection's page: /console/collection/HOLDER/NAME.
func collectionPath(qualified string) string {
	return Prefix + "collection/" + qualified
}

type blocksData struct {
	Blocks     []blockRow
	Height     uint64
	Newer      uint64 // the page of newer blocks starts below this (0: none)
	Older      uint64 // the page of older blocks starts below this (0: none)
	Consistent *consistencyResult
}

type blockRow struct {
	Height   uint64
	Hash     string
	Time     time.Time
	TxCount  uint32
	LogSize  uint64
	Proposer string
}

// blocks lists blocks newest first, blocksPerPage at a time, below
// ?before=HEIGHT.
func (c *Console) blocks(r *request) (*view, error) {
	l := c.n.Ledger()
	head := l.Head()
	before := head.Height + 1
	if s := r.URL.Query().Get("before"); s != "" {
		b, err := strconv.ParseUint(s, 10, 64)
		if err != nil || b == 0 {
			return nil, badRequest("before: want a block height")
		}
		before = min(b, head.Height+1)
	}
	from := uint64(1)
	if before > blocksPerPage {
		from = before - blocksPerPage
	}
	d := blocksData{Height: head.Height}
	if before > 1 {
		hs, err := l.Blocks(from, before-1, blocksPerPage)
		if err != nil {
			return nil, err
		}
		for i := len(hs) - 1; i >= 0; i-- {
			h := hs[i]
			hash, _ := l.BlockHash(h.GetHeight()) // the block was just read
			d.Blocks = append(d.Blocks, blockRow{Height: h.GetHeight(), Hash: hex.EncodeToString(hash),
				Time: time.UnixMilli(h.GetTimeUnixMs()).UTC(), TxCount: h.GetTxCount(), LogSize: h.GetLogSize(), Proposer: h.GetProposer()})
		}
	}
	if from > 1 {
		d.Older = from
	}
	if before <= head.Height {
		d.Newer = min(before+blocksPerPage, head.Height+1)
	}
	return &view{Page: "blocks", Title: "Ledger", Data: d}, nil
}

type blockData struct {
	blockRow
	Previous, TxRoot, LogRoot, StateHash string
	Txs                                  []txRow
}

func (c *Console) block(r *request) (*view, error) {
	height, err := strconv.ParseUint(r.PathValue("height"), 10, 64)
	if err != nil || height == 0 {
		return nil, badRequest("want a block height")
	}
	l := c.n.Ledger()
	if height > l.Head().Height {
		return nil, notFound("block %d: the ledger's tip is %d", height, l.Head().Height)
	}
	blk, h, err := l.Block(height)
	if err != nil {
		return nil, err
	}
	hash, _ := l.BlockHash(height) // the block was just read
	d := blockData{blockRow: blockRow{Height: height, Hash: hex.EncodeToString(hash), Time: time.UnixMilli(h.GetTimeUnixMs()).UTC(),
		TxCount: h.GetTxCount(), LogSize: h.GetLogSize(), Proposer: h.GetProposer()},
		Previous: hex.EncodeToString(h.GetPreviousHash()), TxRoot: hex.EncodeToString(h.GetTxRoot()),
		LogRoot: hex.EncodeToString(h.GetLogRoot()), StateHash: hex.EncodeToString(h.GetStateHash())}
	first := h.GetLogSize() - uint64(len(blk.GetTxs()))
	for i, raw := range blk.GetTxs() {
		tx, err := ledger.DecodeTx(raw)
		if err != nil {
			return nil, fmt.Errorf("block %d transaction %d: %w", height, i, err)
		}
		d.Txs = append(d.Txs, row(&ledger.Entry{Tx: tx, Height: height, LogIndex: first + uint64(i)}, h.GetTimeUnixMs()))
	}
	return &view{Page: "block", Title: fmt.Sprintf("Block %d", height), Data: d}, nil
}

type txData struct {
	txRow
	Body       string
	Checkpoint string
	LogSize    uint64
	Proof      []string
	Included   bool
	Reason     string
}

// tx shows a transaction and checks, here, its inclusion proof against
// the latest checkpoint, whose signature is checked with the node's key.
func (c *Console) tx(r *request) (*view, error) {
	hash, err := hex.DecodeString(r.PathValue("hash"))
	if err != nil || len(hash) != 32 {
		return nil, badRequest("want a transaction hash: 64 hex digits")
	}
	l := c.n.Ledger()
	e, err := l.Transaction(hash)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, notFound("no transaction %x on this ledger", hash)
	}
	if err != nil {
		return nil, err
	}
	t, _ := l.BlockTime(e.Height) // a block the entry names exists
	body, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(e.Tx.Body)
	if err != nil {
		return nil, err
	}
	cp, h, err := l.Checkpoint()
	if err != nil {
		return nil, err
	}
	p, err := l.InclusionProof(e.LogIndex, h.LogSize)
	if err != nil {
		return nil, err
	}
	d := txData{txRow: row(e, t), Body: string(body), Checkpoint: string(cp), LogSize: h.LogSize}
	for _, n := range p {
		d.Proof = append(d.Proof, hex.EncodeToString(n))
	}
	v, err := ledger.NoteVerifier(l.Origin(), l.NodeKey())
	if err != nil {
		return nil, err
	}
	if _, err := ledger.VerifyInclusion(cp, l.Origin(), v, e.Tx.Raw, e.LogIndex, p); err != nil {
		d.Reason = err.Error()
	} else {
		d.Included = true
	}
	return &view{Page: "tx", Title: "Transaction " + d.Hash[:16], Data: d}, nil
}

// consistencyResult is a checked consistency proof between two logs.
type consistencyResult struct {
	From, To         uint64
	FromRoot, ToRoot string
	FromWhat, ToWhat string
	Proof            []string
	Consistent       bool
	Reason           string
}

type consistencyData struct {
	Height, LogSize uint64
	FromHeight      uint64
	ToHeight        uint64
	Result          *consistencyResult
	Checkpoint      string
}

// consistency checks that one log is a prefix of a later one: the logs
// after two blocks (GET ?from=H&to=H), or a checkpoint the visitor kept
// and the latest one (POST checkpoint=...).
func (c *Console) consistency(r *request) (*view, error) {
	l := c.n.Ledger()
	head := l.Head()
	d := consistencyData{Height: head.Height, LogSize: head.LogSize, FromHeight: 1, ToHeight: head.Height}
	var err error
	switch {
	case r.Method == http.MethodPost:
		d.Checkpoint = r.PostFormValue("checkpoint")
		d.Result, err = c.checkpointConsistency(d.Checkpoint)
	case r.URL.Query().Has("from"):
		q := r.URL.Query()
		d.FromHeight, err = parseHeight(q.Get("from"), head.Height)
		if err == nil {
			d.ToHeight, err = parseHeight(q.Get("to"), head.Height)
		}
		if err == nil {
			d.Result, err = c.blockConsistency(d.FromHeight, d.ToHeight)
		}
	}
	if err != nil {
		return nil, err
	}
	return &view{Page: "consistency", Title: "Consistency", Data: d}, nil
}

func parseHeight(s string, tip uint64) (uint64, error) {
	h, err := strconv.ParseUint(s, 10, 64)
	if err != nil || h == 0 || h > tip {
		return 0, badRequest("want a block height from 1 to %d", tip)
	}
	return h, nil
}

func (c *Console) blockConsistency(from, to uint64) (*consistencyResult, error) {
	if from > to {
		from, to = to, from
	}
	l := c.n.Ledger()
	a, err := l.Header(from)
	if err != nil {
		return nil, err
	}
	b, err := l.Header(to)
	if err != nil {
		return nil, err
	}
	res := &consistencyResult{From: a.GetLogSize(), To: b.GetLogSize(), FromRoot: hex.EncodeToString(a.GetLogRoot()),
		ToRoot: hex.EncodeToString(b.GetLogRoot()), FromWhat: fmt.Sprintf("block %d", from), ToWhat: fmt.Sprintf("block %d", to)}
	p, err := l.ConsistencyProof(a.GetLogSize(), b.GetLogSize())
	if err != nil {
		return nil, err
	}
	res.prove(p, proof.VerifyConsistency(rfc6962.DefaultHasher, a.GetLogSize(), b.GetLogSize(), p, a.GetLogRoot(), b.GetLogRoot()))
	return res, nil
}

func (res *consistencyResult) prove(p [][]byte, err error) {
	for _, n := range p {
		res.Proof = append(res.Proof, hex.EncodeToString(n))
	}
	if err != nil {
		res.Reason = err.Error()
		return
	}
	res.Consistent = true
}

// checkpointConsistency checks a checkpoint the visitor kept against the
// latest: both signed with the node's key, the older a prefix.
func (c *Console) checkpointConsistency(text string) (*consistencyResult, error) {
	if len(text) > maxCheckpoint {
		return nil, badRequest("a checkpoint is at most %d bytes", maxCheckpoint)
	}
	text = strings.ReplaceAll(strings.TrimSpace(text), "\r\n", "\n") + "\n"
	l := c.n.Ledger()
	v, err := ledger.NoteVerifier(l.Origin(), l.NodeKey())
	if err != nil {
		return nil, err
	}
	latest, _, err := l.Checkpoint()
	if err != nil {
		return nil, err
	}
	cb, _, _, err := log.ParseCheckpoint(latest, l.Origin(), v)
	if err != nil {
		return nil, err
	}
	res := &consistencyResult{To: cb.Size, ToRoot: hex.EncodeToString(cb.Hash), FromWhat: "your checkpoint", ToWhat: "the latest checkpoint"}
	ca, _, _, err := log.ParseCheckpoint([]byte(text), l.Origin(), v)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			res.Reason = "its signature is not this node's key's"
		} else {
			res.Reason = "it is not a checkpoint of this ledger: " + err.Error()
		}
		return res, nil
	}
	res.From, res.FromRoot = ca.Size, hex.EncodeToString(ca.Hash)
	if ca.Size > cb.Size {
		res.Reason = fmt.Sprintf("it has %d entries, more than the latest checkpoint's %d: the ledger has been rewritten or forked", ca.Size, cb.Size)
		return res, nil
	}
	p, err := l.ConsistencyProof(ca.Size, cb.Size)
	if err != nil {
		return nil, err
	}
	res.prove(p, ledger.VerifyConsistency([]byte(text), latest, l.Origin(), v, p))
	return res, nil
}
