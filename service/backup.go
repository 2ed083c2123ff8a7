package service

import (
	"context"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/internal/chunk"
)

// backupChunk is the size of the archive's pieces on the wire: well under
// a client's message limit, large enough that framing costs nothing.
const backupChunk = 256 << 10

// Backup streams an archive of the node's data (the engine's Backup: its
// admin only) in pieces of backupChunk bytes.
func (a *adminService) Backup(ctx context.Context, _ *zkv1.BackupRequest, stream *connect.ServerStream[zkv1.BackupResponse]) error {
	// Send marshals the piece before it returns: the buffer can be reused.
	cw := chunk.NewWriter(backupChunk, func(b []byte) error {
		return stream.Send(&zkv1.BackupResponse{Chunk: b})
	})
	if err := a.s.node.Backup(ctx, callerOf(ctx), cw); err != nil {
		return toConnect(err)
	}
	return toConnect(cw.Flush())
}
