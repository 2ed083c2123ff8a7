package service_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/service"
)

// panicky is a ledger service whose ListBlocks (unary) and WatchBlocks
// (streaming) panic; GetCheckpoint answers.
type panicky struct {
	zksharev1connect.UnimplementedLedgerServiceHandler
}

func (panicky) ListBlocks(context.Context, *zkv1.ListBlocksRequest) (*zkv1.ListBlocksResponse, error) {
	panic("unary boom")
}

func (panicky) WatchBlocks(context.Context, *zkv1.WatchBlocksRequest, *connect.ServerStream[zkv1.WatchBlocksResponse]) error {
	panic("stream boom")
}

func (panicky) GetCheckpoint(context.Context, *zkv1.GetCheckpointRequest) (*zkv1.GetCheckpointResponse, error) {
	return &zkv1.GetCheckpointResponse{Height: 7}, nil
}

// TestPanicsRecovered: a handler that panics, unary or streaming, answers
// Internal "internal error" over Connect and gRPC, the panic is logged with
// its procedure and stack, and the server keeps serving.
func TestPanicsRecovered(t *testing.T) {
	n := startNode(t, service.Config{})
	mux := http.NewServeMux()
	mux.Handle(zksharev1connect.NewLedgerServiceHandler(panicky{}, n.srv.HandlerOptionsForTest()...))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- service.Serve(ctx, service.NewHTTPServer(mux, nil), ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			c := zksharev1connect.NewLedgerServiceClient(client.HTTPClient(), "http://"+ln.Addr().String(), p.opts...)
			internal := func(what string, err error) {
				t.Helper()
				var ce *connect.Error
				if !errors.As(err, &ce) || ce.Code() != connect.CodeInternal || ce.Message() != "internal error" {
					t.Errorf("%s: %v, want Internal \"internal error\"", what, err)
				}
			}
			_, err := c.ListBlocks(t.Context(), &zkv1.ListBlocksRequest{})
			internal("unary panic", err)
			stream, err := c.WatchBlocks(t.Context(), &zkv1.WatchBlocksRequest{})
			if err == nil {
				for stream.Receive() {
				}
				err = stream.Err()
				stream.Close()
			}
			internal("streaming panic", err)
			if cp, err := c.GetCheckpoint(t.Context(), &zkv1.GetCheckpointRequest{}); err != nil || cp.GetHeight() != 7 {
				t.Fatalf("after the panics the server should still serve: %v %v", cp, err)
			}
		})
	}
	logs := n.logs.String()
	for _, want := range []string{"procedure=" + zksharev1connect.LedgerServiceWatchBlocksProcedure, "procedure=" + zksharev1connect.LedgerServiceListBlocksProcedure, "panic=\"stream boom\"", "service_test.panicky.WatchBlocks"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the panic log should hold %s:\n%s", want, logs)
		}
	}
}
