package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/internal/kv"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Genesis fixes a ledger's origin, start time and first participants: the
// admin who registers everyone else, and the node that signs blocks.
type Genesis struct {
	Origin       string        `json:"origin"`
	TimeUnixMs   int64         `json:"time_unix_ms"`
	Participants []Participant `json:"participants"`
	// Threshold is how many governors must approve a governance action
	// (0: a majority of the active admins).
	Threshold uint32 `json:"governance_threshold,omitempty"`
	// Development marks a ledger for development: it accepts circuit keys
	// from a single-party setup, whose maker could forge proofs. A ledger
	// without it takes ceremony keys only.
	Development bool `json:"development,omitempty"`
}

// Hash is the genesis hash, the "previous hash" of block 1.
func (g *Genesis) Hash() ([32]byte, error) {
	b, err := json.Marshal(g)
	return sha256.Sum256(b), err
}

// State is the ledger's state at genesis, bound to this genesis's hash.
func (g *Genesis) State() (*State, error) {
	h, err := g.Hash()
	if err != nil {
		return nil, err
	}
	st := NewState(g.Origin, g.Participants)
	st.Threshold = g.Threshold
	st.Development = g.Development
	st.GenesisHash = h[:]
	return st, nil
}

// Head is the tip of the chain.
type Head struct {
	Height     uint64   `json:"height"`
	Hash       []byte   `json:"hash"` // of the tip block's header
	TimeUnixMs int64    `json:"time_unix_ms"`
	LogSize    uint64   `json:"log_size"`
	LogRoot    []byte   `json:"log_root"`
	LogRange   [][]byte `json:"log_range"` // compact range of the log
	// ConsensusHeight is the consensus engine's height this head reflects,
	// when blocks come from one (see Finalize).
	ConsensusHeight uint64 `json:"consensus_height,omitempty"`
}

// Receipt says where an accepted transaction landed.
type Receipt struct {
	Hash       [32]byte
	Height     uint64
	LogIndex   uint64
	TimeUnixMs int64
}

// Options tune a ledger; the zero value of each field means its default.
type Options struct {
	// MaxBlockTxs cuts a block when this many transactions are waiting (default 2048).
	MaxBlockTxs int
	// BlockInterval cuts a block this long after its first transaction (default 2 ms).
	BlockInterval time.Duration
	// Now is the block clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger
	// Broadcast, when set, makes the ledger a replica under a consensus
	// engine: no local writer; blocks arrive through Finalize and Commit,
	// and SubmitTx hands transactions to Broadcast, which returns once
	// they are committed (or rejected).
	Broadcast func(ctx context.Context, raw []byte) error
	// NextNode is a key the node is rotating to (RotateKey of its own
	// validator): the ledger opens with it if the state already names it,
	// and otherwise signs with it from the block after the one that
	// rotates to it. OnNodeKey then runs, on the goroutine that committed
	// that block, so the caller can make the new key the stored one.
	NextNode  *Identity
	OnNodeKey func(*Identity)
}

// Ledger is one node's ledger. One goroutine writes; readers never block it.
type Ledger struct {
	db     *badger.DB
	log    *slog.Logger
	node   *Identity // the identity the ledger was opened with (nil: read-only)
	signer *rotatingSigner
	opts   Options
	origin string

	// cur is the node's identity now, next the one it rotates to.
	cur, next atomic.Pointer[Identity]

	// tip is the committed state and head, published together so that a
	// reader never sees a state its head does not cover, or the reverse.
	tip atomic.Pointer[tip]

	subs     chan *submission
	quit     chan struct{}
	done     chan struct{}
	closeMu  sync.RWMutex
	closed   bool
	hasher   *rfc6962.Hasher
	rangeFac *compact.RangeFactory

	// Under a consensus engine: the mempool's view and the block being finalised.
	consMu sync.Mutex
	check  *State
	// sigs caches verified device signatures (devices.go), trees the
	// tree writes of recent attestation batches (devtree.go).
	sigs    sigCache
	trees   treeCache
	pending *pendingBlock

	// written counts the key and value bytes of the blocks' write batches.
	written atomic.Uint64
}

type tip struct {
	state *State
	head  *Head
}

// testHookPublish, when set by a test, runs after a block is stored and
// before it is published.
var testHookPublish func()

type submission struct {
	tx    *Tx
	reply chan result
}

type result struct {
	r   *Receipt
	err error
}

// Keys in the ledger's badger store.
var (
	keyHead    = []byte("head")
	keyState   = []byte("state") // the whole state, as stored before statestore.go
	keyGenesis = []byte("genesis")
)

func blockKey(h uint64) []byte { return binary.BigEndian.AppendUint64([]byte("b/"), h) }
func txKey(i uint64) []byte    { return binary.BigEndian.AppendUint64([]byte("t/"), i) }
func hashKey(h []byte) []byte  { return append([]byte("x/"), h...) }
func nodeKey(id compact.NodeID) []byte {
	return binary.BigEndian.AppendUint64(append([]byte("n/"), byte(id.Level)), id.Index)
}
func anchorKey(coll []byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte("ai/"), coll...), seq)
}
func auditCollKey(coll []byte, i uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte("ac/"), coll...), i)
}

// headerKey holds a block's header bytes alone, written with the block, so
// header reads (ListBlocks, WatchBlocks, block times) never load its
// transactions.
func headerKey(h uint64) []byte { return binary.BigEndian.AppendUint64([]byte("h/"), h) }

// Init creates a ledger in dir from genesis. It fails if one exists.
func Init(dir string, g *Genesis) (err error) {
	if !idRE.MatchString(g.Origin) && !strings.Contains(g.Origin, "/") {
		return fmt.Errorf("ledger origin %q: use a name like example.org/zkshare", g.Origin)
	}
	// The node key signs checkpoints (signed notes: the text, which starts
	// with the origin), blocks ("zkshare/block/v1\n" + header) and its own
	// transactions ("zkshare/tx/v1\n" + ...). No checkpoint may start
	// like a block or a transaction.
	if strings.HasPrefix(g.Origin, "zkshare/") {
		return fmt.Errorf("ledger origin %q: names starting zkshare/ are reserved for signature domains", g.Origin)
	}
	if dir == "" {
		return errors.New("ledger init: give a directory")
	}
	db, err := openDB(dir, nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	gh, err := g.Hash()
	if err != nil {
		return err
	}
	st, err := g.State()
	if err != nil {
		return err
	}
	if n := len(st.Governors()); int(g.Threshold) > n {
		return fmt.Errorf("ledger init: governance threshold %d of %d admins", g.Threshold, n)
	}
	return db.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(keyGenesis); err == nil {
			return fmt.Errorf("ledger in %s already exists", dir)
		}
		gb, _ := json.Marshal(g)
		empty := rfc6962.DefaultHasher.EmptyRoot()
		hb, _ := json.Marshal(&Head{Hash: gh[:], TimeUnixMs: g.TimeUnixMs, LogRoot: empty})
		for k, v := range map[string][]byte{string(keyGenesis): gb, string(keyHead): hb, string(keyIndexVersion): indexVersion} {
			if err := txn.Set([]byte(k), v); err != nil {
				return err
			}
		}
		return storeState(txn.Set, st)
	})
}

func openDB(dir string, log *slog.Logger) (*badger.DB, error) {
	db, err := kv.Open(dir, log, kv.Options{})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return db, nil
}

// Open opens the ledger in dir as the node whose identity signs blocks,
// checks its hash chain and tip, and starts the writer. With node nil the
// ledger is opened read-only: queries, proofs and Verify, no Submit.
func Open(dir string, node *Identity, opts Options) (*Ledger, error) {
	if opts.MaxBlockTxs <= 0 {
		opts.MaxBlockTxs = 2048
	}
	if opts.BlockInterval <= 0 {
		opts.BlockInterval = 2 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	db, err := openDB(dir, opts.Log)
	if err != nil {
		return nil, err
	}
	l := &Ledger{db: db, log: opts.Log, node: node, opts: opts, hasher: rfc6962.DefaultHasher,
		subs: make(chan *submission, 4*opts.MaxBlockTxs), quit: make(chan struct{}), done: make(chan struct{})}
	l.rangeFac = &compact.RangeFactory{Hash: l.hasher.HashChildren}
	if err := l.load(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if err := l.reindex(); err != nil {
		return nil, errors.Join(fmt.Errorf("open ledger: rebuild indexes: %w", err), db.Close())
	}
	if err := l.checkTip(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if node == nil {
		close(l.done)
		l.closed = true
		return l, nil
	}
	if nx := opts.NextNode; nx != nil && nx.ID == node.ID {
		if p := l.State().Participants[node.ID]; ed25519.PublicKey(p.Key).Equal(nx.Public()) {
			node = nx // the rotation was committed before the last stop
		} else {
			l.next.Store(nx)
		}
	}
	if p, ok := l.State().Participants[node.ID]; !ok || p.Role != zkv1.Role_ROLE_VALIDATOR || !ed25519.PublicKey(p.Key).Equal(node.Public()) {
		return nil, errors.Join(fmt.Errorf("open ledger: %q is not a validator of this ledger with this key", node.ID), db.Close())
	}
	l.node = node
	l.cur.Store(node)
	l.signer = &rotatingSigner{}
	if err := l.signer.set(l.origin, node); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	l.check = l.State().Clone()
	if opts.Broadcast != nil {
		close(l.done)
		return l, nil
	}
	go l.write()
	return l, nil
}

func (l *Ledger) load() error {
	return l.db.View(func(txn *badger.Txn) error {
		st, err := loadState(txn)
		if err != nil {
			return err
		}
		st.stored, st.trees = dbNodes{l.db}, &l.trees
		var h Head
		if err := getJSON(txn, keyHead, &h); err != nil {
			return err
		}
		l.tip.Store(&tip{state: st, head: &h})
		l.origin = st.Origin
		return nil
	})
}

func getJSON(txn *badger.Txn, k []byte, v any) error {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("%w: no %s: run `zkshare ledger init` first", ErrNotFound, k)
	}
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error { return json.Unmarshal(b, v) })
}

// Close stops the writer after the block in flight and closes the store.
// Submissions waiting in the queue fail with ErrClosed.
func (l *Ledger) Close() error {
	l.closeMu.Lock()
	if l.closed {
		l.closeMu.Unlock()
		if l.node == nil {
			return l.db.Close()
		}
		return nil
	}
	l.closed = true
	close(l.quit)
	l.closeMu.Unlock()
	<-l.done
	return l.db.Close()
}

// Origin is the ledger's name, the first line of its checkpoints.
func (l *Ledger) Origin() string { return l.origin }

// Chain is what transactions for this ledger sign: its origin and genesis hash.
func (l *Ledger) Chain() Chain { return l.State().Chain() }

// NodeKey is the public key that signs blocks and checkpoints.
// It is nil for a ledger opened read-only.
func (l *Ledger) NodeKey() ed25519.PublicKey {
	if l.node == nil {
		return nil
	}
	return l.cur.Load().Public()
}

// State is the committed state; do not modify it.
func (l *Ledger) State() *State { return l.tip.Load().state }

// Head is the committed tip.
func (l *Ledger) Head() Head { return *l.tip.Load().head }

// Tip is the committed state and the head of the same block, read at once.
func (l *Ledger) Tip() (*State, Head) {
	t := l.tip.Load()
	return t.state, *t.head
}

// Submit decodes, authenticates and queues a transaction, and returns once
// it is in a block that is durably written, or with the reason it was
// rejected.
func (l *Ledger) Submit(ctx context.Context, raw []byte) (*Receipt, error) {
	tx, err := DecodeTx(raw)
	if err != nil {
		return nil, err
	}
	return l.SubmitTx(ctx, tx)
}

// SubmitTx is Submit for a decoded transaction.
func (l *Ledger) SubmitTx(ctx context.Context, tx *Tx) (*Receipt, error) {
	// Check the signature here, on the caller's goroutine, against the
	// committed key; the writer only re-checks if the key changed since.
	st := l.State()
	if p, ok := st.Participants[tx.Body.GetSender()]; ok {
		tx.verify(p.Key, st.Chain().GenesisHash)
	}
	l.sigs.precheck(st, tx)
	if l.opts.Broadcast != nil {
		return l.broadcast(ctx, tx)
	}
	s := &submission{tx: tx, reply: make(chan result, 1)}
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case l.subs <- s:
	case <-ctx.Done():
		l.closeMu.RUnlock()
		return nil, ctx.Err()
	}
	l.closeMu.RUnlock()
	select {
	case r := <-s.reply:
		return r.r, r.err
	case <-ctx.Done():
		// The transaction may still land; its hash finds it later.
		return nil, ctx.Err()
	}
}

// MaxBlockBytes bounds the encoded transactions of one block, so that a
// block, its index entries and log nodes fit in one badger transaction
// (about 9.6 MB with the default 64 MB memtable; a block's bytes are stored
// twice, in the block and in the log entries). Transactions beyond it wait
// for the next block.
const MaxBlockBytes = 4 << 20

// maxBlockBytes is MaxBlockBytes; tests lower it.
var maxBlockBytes = MaxBlockBytes

// blockFull is the result of a transaction that did not fit in its block.
func blockFull() error {
	return fmt.Errorf("%w: block full (%d bytes of transactions): submit it again", ErrRejected, maxBlockBytes)
}

// write is the single writer: it gathers submissions into blocks.
func (l *Ledger) write() {
	defer close(l.done)
	var carry *submission // did not fit in the last block: the next one's first
	for {
		var batch []*submission
		if carry != nil {
			batch, carry = append(batch, carry), nil
		} else {
			select {
			case s := <-l.subs:
				batch = append(batch, s)
			case <-l.quit:
				l.drain()
				return
			}
		}
		size := len(batch[0].tx.Raw)
		timer := time.NewTimer(l.opts.BlockInterval)
	gather:
		for len(batch) < l.opts.MaxBlockTxs {
			select {
			case s := <-l.subs:
				if size += len(s.tx.Raw); size > maxBlockBytes {
					carry = s
					break gather
				}
				batch = append(batch, s)
			case <-timer.C:
				break gather
			case <-l.quit:
				break gather
			}
		}
		timer.Stop()
		l.cut(batch)
	}
}

func (l *Ledger) drain() {
	for {
		select {
		case s := <-l.subs:
			s.reply <- result{err: ErrClosed}
		default:
			return
		}
	}
}

// cut applies a batch to a copy of the state, writes the accepted
// transactions as one block in one synced badger transaction, and only then
// publishes the new state and answers the submitters.
func (l *Ledger) cut(batch []*submission) {
	st, head := l.Tip()
	now := l.opts.Now().UnixMilli()
	if now < head.TimeUnixMs {
		now = head.TimeUnixMs // block times never go back
	}
	bc := BlockContext{Height: head.Height + 1, TimeUnixMs: now}
	work := st.Clone()
	var accepted []*submission
	for _, s := range batch {
		if err := Apply(work, s.tx, bc); err != nil {
			s.reply <- result{err: err}
			continue
		}
		accepted = append(accepted, s)
	}
	if len(accepted) == 0 {
		return
	}
	txs := make([]*Tx, len(accepted))
	for i, s := range accepted {
		txs[i] = s.tx
	}
	work.Height = bc.Height
	newHead, err := l.commitBlock(head, work, bc, txs)
	if err != nil {
		l.log.Error("ledger: block not written", "height", bc.Height, "err", err)
		for _, s := range accepted {
			s.reply <- result{err: fmt.Errorf("ledger: block %d not written: %w", bc.Height, err)}
		}
		return
	}
	work.nodes = nil // stored with the block
	if testHookPublish != nil {
		testHookPublish()
	}
	l.tip.Store(&tip{state: work, head: newHead})
	l.adoptNodeKey(work)
	for i, s := range accepted {
		s.reply <- result{r: &Receipt{Hash: s.tx.Hash, Height: bc.Height, LogIndex: head.LogSize + uint64(i), TimeUnixMs: bc.TimeUnixMs}}
	}
}

// buildBlock computes the block for txs on top of head and the new head,
// and the log nodes to store.
func (l *Ledger) buildBlock(head Head, st *State, bc BlockContext, txs []*Tx, proposer string, signer *Identity) (*zkv1.Block, *Head, map[compact.NodeID][]byte, error) {
	logRange, err := l.rangeFac.NewRange(0, head.LogSize, head.LogRange)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: log range: %w", ErrCorrupt, err)
	}
	blockRange := l.rangeFac.NewEmptyRange(0)
	nodes := map[compact.NodeID][]byte{}
	visit := func(id compact.NodeID, h []byte) { nodes[id] = h }
	raws := make([][]byte, len(txs))
	for i, tx := range txs {
		leaf := l.hasher.HashLeaf(tx.Raw)
		if err := logRange.Append(leaf, visit); err != nil {
			return nil, nil, nil, err
		}
		if err := blockRange.Append(leaf, nil); err != nil {
			return nil, nil, nil, err
		}
		raws[i] = tx.Raw
	}
	txRoot, err := blockRange.GetRootHash(nil)
	if err != nil {
		return nil, nil, nil, err
	}
	logRoot, err := logRange.GetRootHash(nil)
	if err != nil {
		return nil, nil, nil, err
	}
	sh, err := st.fold()
	if err != nil {
		return nil, nil, nil, err
	}
	hdr := &zkv1.BlockHeader{
		Origin: st.Origin, Height: bc.Height, TimeUnixMs: bc.TimeUnixMs, PreviousHash: head.Hash,
		TxRoot: txRoot, TxCount: uint32(len(txs)), LogSize: logRange.End(), LogRoot: logRoot,
		StateHash: sh[:], Proposer: proposer,
	}
	hb, err := deterministic.Marshal(hdr)
	if err != nil {
		return nil, nil, nil, err
	}
	hash := sha256.Sum256(hb)
	block := &zkv1.Block{Header: hb, Signature: ed25519.Sign(signer.Key, append([]byte(blockDomain), hb...)), Txs: raws, Signer: signer.ID}
	nh := &Head{Height: bc.Height, Hash: hash[:], TimeUnixMs: bc.TimeUnixMs, LogSize: logRange.End(), LogRoot: logRoot, LogRange: logRange.Hashes()}
	return block, nh, nodes, nil
}

func (l *Ledger) commitBlock(head Head, st *State, bc BlockContext, txs []*Tx) (*Head, error) {
	node := l.cur.Load()
	block, nh, nodes, err := l.buildBlock(head, st, bc, txs, node.ID, node)
	if err != nil {
		return nil, err
	}
	return nh, l.writeBlock(head, st, bc, txs, block, nh, nodes)
}

// writeBlock stores a block, its index entries and log nodes, the state's
// changes and the head in one synced transaction. A nil block stores only
// the head and state (a consensus height that accepted nothing).
func (l *Ledger) writeBlock(head Head, st *State, bc BlockContext, txs []*Tx, block *zkv1.Block, nh *Head, nodes map[compact.NodeID][]byte) error {
	hb, err := json.Marshal(nh)
	if err != nil {
		return err
	}
	txn := l.db.NewTransaction(true)
	defer txn.Discard()
	set := func(k, v []byte) {
		if err == nil {
			err = txn.Set(k, v)
			l.written.Add(uint64(len(k) + len(v)))
		}
	}
	if block != nil {
		bb, merr := deterministic.Marshal(block)
		if merr != nil {
			return merr
		}
		set(blockKey(bc.Height), bb)
		set(headerKey(bc.Height), block.GetHeader())
	}
	for id, h := range nodes {
		set(nodeKey(id), h)
	}
	for i, tx := range txs {
		idx := head.LogSize + uint64(i)
		// An entry is the transaction's bytes, then the height of its block.
		set(txKey(idx), binary.BigEndian.AppendUint64(append(make([]byte, 0, len(tx.Raw)+8), tx.Raw...), bc.Height))
		for _, e := range txIndex(tx, idx) {
			set(e.key, e.val)
		}
	}
	if serr := storeChanges(set, func(k []byte) {
		if err == nil {
			err = txn.Delete(k)
		}
	}, st); serr != nil {
		return serr
	}
	set(keyHead, hb)
	if errors.Is(err, badger.ErrTxnTooBig) {
		return fmt.Errorf("block %d: %d transactions exceed the store's write batch (at most %d bytes, %d entries): %w",
			bc.Height, len(txs), l.db.MaxBatchSize(), l.db.MaxBatchCount(), err)
	}
	if err != nil {
		return err
	}
	return txn.Commit()
}

// Header returns the header of the block at height without reading its
// transactions.
func (l *Ledger) Header(height uint64) (*zkv1.BlockHeader, error) {
	var raw []byte
	err := l.db.View(func(txn *badger.Txn) error {
		var err error
		raw, err = headerBytes(txn, height)
		return err
	})
	if err != nil {
		return nil, err
	}
	var hdr zkv1.BlockHeader
	if err := proto.Unmarshal(raw, &hdr); err != nil {
		return nil, fmt.Errorf("%w: block %d header: %w", ErrCorrupt, height, err)
	}
	return &hdr, nil
}

// headerBytes reads the header bytes of the block at height from their
// own key; for a block stored before headers were kept apart, it reads the
// block's header field and skips the rest undecoded.
func headerBytes(txn *badger.Txn, height uint64) ([]byte, error) {
	item, err := txn.Get(headerKey(height))
	if err == nil {
		return item.ValueCopy(nil)
	}
	if !errors.Is(err, badger.ErrKeyNotFound) {
		return nil, err
	}
	if item, err = txn.Get(blockKey(height)); errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("block %d: %w", height, ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	var raw []byte
	err = item.Value(func(v []byte) error {
		raw, err = headerField(v)
		return err
	})
	return raw, err
}

// headerField copies field 1 (header) out of an encoded Block, skipping
// the other fields without decoding them.
func headerField(b []byte) ([]byte, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("%w: block: %w", ErrCorrupt, protowire.ParseError(n))
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("%w: block header: %w", ErrCorrupt, protowire.ParseError(n))
			}
			return bytes.Clone(v), nil
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, fmt.Errorf("%w: block: %w", ErrCorrupt, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return nil, fmt.Errorf("%w: block without a header", ErrCorrupt)
}

// decodeBlock splits a stored block into its header and transactions.
func decodeBlock(b []byte) (*zkv1.Block, *zkv1.BlockHeader, error) {
	var blk zkv1.Block
	if err := proto.Unmarshal(b, &blk); err != nil {
		return nil, nil, fmt.Errorf("%w: block: %w", ErrCorrupt, err)
	}
	var hdr zkv1.BlockHeader
	if err := proto.Unmarshal(blk.GetHeader(), &hdr); err != nil {
		return nil, nil, fmt.Errorf("%w: block header: %w", ErrCorrupt, err)
	}
	return &blk, &hdr, nil
}
