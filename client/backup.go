package client

import (
	"context"
	"errors"
	"io"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// Backup streams an archive of the node's data into w while the node goes
// on serving (AdminService.Backup: the node's admin's token only), and says
// how many bytes it wrote. The archive is encrypted when the node encrypts
// its holder store at rest; otherwise it holds every record in the clear.
// `zkshare restore` (node.Restore) makes a data directory of it. What was
// written before an error is not an archive: discard it. WithProgress
// reports the bytes written so far (total 0: the size is not known ahead).
func (c *Client) Backup(ctx context.Context, w io.Writer, opts ...CallOption) (int64, error) {
	cfg := callOptions(opts)
	stream, err := c.admin.Backup(ctx, &zkv1.BackupRequest{})
	if err != nil {
		return 0, wrap("backup", err)
	}
	var n int64
	for stream.Receive() {
		k, err := w.Write(stream.Msg().GetChunk())
		n += int64(k)
		if err != nil {
			// Our own write failed: nothing is left to tell of a
			// failure to close.
			_ = stream.Close()
			return n, wrap("backup", err)
		}
		cfg.progress(int(n), 0)
	}
	if err := errors.Join(stream.Err(), stream.Close()); err != nil {
		return n, wrap("backup", err)
	}
	return n, nil
}
