// Package chunk cuts a byte stream into pieces of a fixed size: the parts
// of a backup archive, the messages of a streamed backup. Unlike a
// bufio.Writer, it never passes a large write through whole, so no piece
// is ever larger than the size.
package chunk

// Writer buffers what is written to it and hands Emit each piece of
// exactly the size (the last, on Flush, may be shorter). Emit must be done
// with the piece when it returns: the buffer is reused.
type Writer struct {
	buf  []byte
	emit func([]byte) error
}

// NewWriter cuts pieces of size bytes for emit.
func NewWriter(size int, emit func([]byte) error) *Writer {
	return &Writer{buf: make([]byte, 0, size), emit: emit}
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == cap(w.buf) {
			if err := w.Flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Flush emits what is buffered, if anything.
func (w *Writer) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.emit(w.buf)
	w.buf = w.buf[:0]
	return err
}
