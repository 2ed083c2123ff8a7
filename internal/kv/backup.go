package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// A store backup is badger's backup format, what DB.Load reads: frames of
// a little-endian uint64 length and a protobuf KVList. The holder store
// and the ledger write theirs with a FrameWriter and read them with Load.
const (
	// frameTarget is the size a backup aims its frames at.
	frameTarget = 4 << 20
	// maxFrame is the largest frame Load accepts: DB.Load allocates a
	// frame's declared length before reading it.
	maxFrame = 64 << 20
	// loadPending bounds the write batches a restore has in flight (each
	// up to badger's batch size, some MiB).
	loadPending = 4
)

// ErrBackupFrame means a backup stream declares a frame larger than a
// restore accepts (64 MiB): it is damaged or not a backup.
var ErrBackupFrame = errors.New("backup frame too large: the stream is damaged or not a backup")

// FrameWriter writes KVs to a backup stream in frames of about 4 MiB,
// holding one frame in memory.
type FrameWriter struct {
	w    io.Writer
	list pb.KVList
	size int
}

// NewFrameWriter writes a backup stream to w.
func NewFrameWriter(w io.Writer) *FrameWriter { return &FrameWriter{w: w} }

// Add adds one KV (a key at one version), writing a frame when it is full.
func (f *FrameWriter) Add(kv *pb.KV) error {
	f.list.Kv = append(f.list.Kv, kv)
	if f.size += proto.Size(kv); f.size >= frameTarget {
		return f.Flush()
	}
	return nil
}

// Flush writes what is held as one frame; the stream ends after the last
// Flush.
func (f *FrameWriter) Flush() error {
	if len(f.list.Kv) == 0 {
		return nil
	}
	b, err := proto.Marshal(&f.list)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
	if _, err := f.w.Write(n[:]); err != nil {
		return err
	}
	if _, err := f.w.Write(b); err != nil {
		return err
	}
	f.list.Kv, f.size = f.list.Kv[:0], 0
	return nil
}

// Load writes a backup stream into db, refusing a frame over 64 MiB
// (ErrBackupFrame) before anything allocates it. A stream cut at a frame
// boundary cannot be told from a whole one: the caller checks the
// stream's length and digest.
func Load(db *badger.DB, r io.Reader) error {
	return db.Load(&frameReader{r: r, max: maxFrame}, loadPending)
}

// frameReader passes a backup stream through unchanged, refusing a frame
// longer than max before DB.Load, which trusts the length, allocates it.
type frameReader struct {
	r   io.Reader
	max uint64
	// hdr is the frame header being passed on (its last off bytes are
	// pending); left is what remains of the frame's body.
	hdr  [8]byte
	off  int
	left uint64
}

func (f *frameReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if f.left == 0 && f.off == 0 {
		n, err := io.ReadFull(f.r, f.hdr[:])
		switch {
		case n == 0 && errors.Is(err, io.EOF):
			return 0, io.EOF
		case errors.Is(err, io.EOF):
			return 0, io.ErrUnexpectedEOF
		case err != nil:
			return 0, err
		}
		size := binary.LittleEndian.Uint64(f.hdr[:])
		if size > f.max {
			return 0, fmt.Errorf("%w (%d bytes; at most %d)", ErrBackupFrame, size, f.max)
		}
		f.off, f.left = len(f.hdr), size
	}
	if f.off > 0 {
		n := copy(p, f.hdr[len(f.hdr)-f.off:])
		f.off -= n
		return n, nil
	}
	if uint64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= uint64(n)
	if errors.Is(err, io.EOF) {
		if f.left > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	return n, err
}
