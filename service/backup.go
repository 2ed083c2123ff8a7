package service

import (
	"context"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// backupChunk is the size of the archive's pieces on the wire: well under
// a client's message limit, large enough that framing costs nothing.
const backupChunk = 256 << 10

// Backup streams an archive of the node's data (the engine's Backup: its
// admin only) in pieces of backupChunk bytes.
func (a *adminService) Backup(ctx context.Context, _ *zkv1.BackupRequest, stream *connect.ServerStream[zkv1.BackupResponse]) error {
	cw := &chunkWriter{buf: make([]byte, 0, backupChunk), send: func(b []byte) error {
		return stream.Send(&zkv1.BackupResponse{Chunk: b})
	}}
	if err := a.s.node.Backup(ctx, callerOf(ctx), cw); err != nil {
		return toConnect(err)
	}
	return toConnect(cw.flush())
}

// chunkWriter sends what is written to it in pieces of cap(buf) bytes.
// send marshals its piece before it returns, so the buffer is reused.
type chunkWriter struct {
	buf  []byte
	send func([]byte) error
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), cap(c.buf)-len(c.buf))
		c.buf = append(c.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(c.buf) == cap(c.buf) {
			if err := c.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (c *chunkWriter) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	err := c.send(c.buf)
	c.buf = c.buf[:0]
	return err
}
