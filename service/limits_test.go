package service_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/service"
)

// TestWatchStreamsBounded: WatchBlocks streams are bounded per client and
// in total; a closed stream frees its place (issue 18, item 5).
func TestWatchStreamsBounded(t *testing.T) {
	n := startNode(t, service.Config{}, service.WithWatchStreamLimit(2, 3))
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.register("insurer", zkv1.Role_ROLE_CONSUMER)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type open struct {
		stream *connect.ServerStreamForClient[zkv1.WatchBlocksResponse]
		cancel context.CancelFunc
	}
	// watch opens a stream and waits for its first header (block 1), or
	// for the error that refused it.
	watch := func(who string) (*open, error) {
		sctx, scancel := context.WithCancel(ctx)
		s, err := n.ledgerClient(who).WatchBlocks(sctx, &zkv1.WatchBlocksRequest{FromHeight: 1})
		if err != nil {
			scancel()
			return nil, err
		}
		if !s.Receive() {
			scancel()
			return nil, s.Err()
		}
		return &open{s, scancel}, nil
	}
	var held []*open
	for _, who := range []string{"", ""} { // anonymous: counted by IP address
		o, err := watch(who)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, o)
	}
	if _, err := watch(""); code(err) != connect.CodeResourceExhausted {
		t.Fatalf("a third stream from one client: %v, want ResourceExhausted", err)
	}
	o, err := watch("bank") // another client: the third and last in total
	if err != nil {
		t.Fatal(err)
	}
	held = append(held, o)
	if _, err := watch("insurer"); code(err) != connect.CodeResourceExhausted {
		t.Fatalf("a stream beyond the total: %v, want ResourceExhausted", err)
	}
	held[0].cancel()
	held[0].stream.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		o, err := watch("insurer")
		if err == nil {
			o.cancel()
			break
		}
		if code(err) != connect.CodeResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("a stream after one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, o := range held[1:] {
		o.cancel()
		o.stream.Close()
	}
}

// TestHTTPServerLimits: the server bounds headers, idle connections,
// HTTP/2 streams per connection, and (through Serve) connections.
func TestHTTPServerLimits(t *testing.T) {
	srv := service.NewHTTPServer(http.NotFoundHandler(), nil)
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 ||
		srv.HTTP2 == nil || srv.HTTP2.MaxConcurrentStreams <= 0 || srv.HTTP2.MaxConcurrentStreams > 1000 {
		t.Fatalf("unbounded server: read header %s, idle %s, header bytes %d, http2 %+v", srv.ReadHeaderTimeout, srv.IdleTimeout, srv.MaxHeaderBytes, srv.HTTP2)
	}

	defer service.SetMaxConnectionsForTest(2)()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- service.Serve(ctx, service.NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), nil), ln, time.Second)
	}()
	defer func() {
		cancel()
		<-done
	}()
	// Two idle connections hold both places.
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		idle = append(idle, c)
	}
	get := func() error {
		cl := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := cl.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	time.Sleep(100 * time.Millisecond) // let the server accept both
	if err := get(); err == nil {
		t.Fatal("a third connection was served while two were open")
	}
	idle[0].Close()
	if err := get(); err != nil {
		t.Fatalf("once one closed: %v", err)
	}
}
