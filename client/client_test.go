package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/records"
	"github.com/zkshare/zkshare/verifier"
)

func TestNewOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  string
		opts []client.Option
		want error // nil, client.ErrBadURL or client.ErrOptions
	}{
		{"plain", "http://127.0.0.1:8080", nil, nil},
		{"trailing slash", "http://127.0.0.1:8080/", nil, nil},
		{"https", "https://node.example:443", nil, nil},
		{"token and grpc", "http://127.0.0.1:8080", []client.Option{client.WithToken("t"), client.WithGRPC()}, nil},
		{"grpc-web", "http://127.0.0.1:8080", []client.Option{client.WithGRPCWeb()}, nil},
		{"own http client", "http://127.0.0.1:8080", []client.Option{client.WithHTTPClient(http.DefaultClient)}, nil},
		{"tls", "https://node.example", []client.Option{client.WithTLS(&tls.Config{ServerName: "x"})}, nil},
		{"nil option ignored", "http://127.0.0.1:8080", []client.Option{nil}, nil},
		{"empty", "", nil, client.ErrBadURL},
		{"no scheme", "127.0.0.1:8080", nil, client.ErrBadURL},
		{"other scheme", "ftp://127.0.0.1", nil, client.ErrBadURL},
		{"no host", "http://", nil, client.ErrBadURL},
		{"query", "http://127.0.0.1:8080?x=1", nil, client.ErrBadURL},
		{"user", "http://u:p@127.0.0.1:8080", nil, client.ErrBadURL},
		{"empty token", "http://127.0.0.1:8080", []client.Option{client.WithToken(" ")}, client.ErrOptions},
		{"nil tls", "https://node.example", []client.Option{client.WithTLS(nil)}, client.ErrOptions},
		{"tls over http", "http://127.0.0.1:8080", []client.Option{client.WithTLS(&tls.Config{})}, client.ErrOptions},
		{"ca file over http", "http://127.0.0.1:8080", []client.Option{client.WithCAFile("ca.pem")}, client.ErrOptions},
		{"tls and http client", "https://node.example", []client.Option{client.WithTLS(&tls.Config{}), client.WithHTTPClient(http.DefaultClient)}, client.ErrOptions},
		{"nil http client", "http://127.0.0.1:8080", []client.Option{client.WithHTTPClient(nil)}, client.ErrOptions},
		{"empty key dir", "http://127.0.0.1:8080", []client.Option{client.WithKeyDir("")}, client.ErrOptions},
		{"key dir without keys", "http://127.0.0.1:8080", []client.Option{client.WithKeyDir(t.TempDir())}, client.ErrOptions},
		{"nil verifier", "http://127.0.0.1:8080", []client.Option{client.WithVerifier(nil)}, client.ErrOptions},
		{"missing ca file", "https://node.example", []client.Option{client.WithCAFile(filepath.Join(t.TempDir(), "none.pem"))}, client.ErrOptions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(tc.url, tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("New(%q) = %v, want %v", tc.url, err, tc.want)
			}
			if err == nil && strings.HasSuffix(c.BaseURL(), "/") {
				t.Errorf("BaseURL %q keeps its slash", c.BaseURL())
			}
		})
	}
}

// protocols are the wire protocols every call works over.
var protocols = []struct {
	name string
	opt  client.Option
}{{"connect", nil}, {"grpc", client.WithGRPC()}, {"grpcweb", client.WithGRPCWeb()}}

func TestErrors(t *testing.T) {
	ctx := t.Context()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			anon := dial(t, node.URL, p.opt)
			bad := dial(t, node.URL, p.opt, client.WithToken("not-a-token"))
			admin := dial(t, node.URL, p.opt, client.WithToken(node.AdminToken))
			holder := dial(t, node.URL, p.opt, client.WithToken(node.HolderToken))
			down := dial(t, "http://127.0.0.1:1", p.opt)
			create := func(c *client.Client) error {
				_, err := c.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(shipmentsSchema), Name: "errors-" + p.name})
				return err
			}
			for _, tc := range []struct {
				name string
				err  error
				code connect.Code
				call string // the context the error names
			}{
				{"no token", create(anon), connect.CodeUnauthenticated, "create collection"},
				{"unknown token", create(bad), connect.CodeUnauthenticated, "create collection"},
				{"wrong role", create(admin), connect.CodePermissionDenied, "create collection"},
				{"no such collection", second(holder.GetCollection(ctx, "no-such-"+p.name)), connect.CodeNotFound, "get collection no-such-" + p.name},
				{"bad schema", second(holder.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte("{")})), connect.CodeInvalidArgument, "create collection"},
				{"node down", second(down.Checkpoint(ctx)), connect.CodeUnavailable, "checkpoint"},
				{"streaming, no token", second(anon.Commit(ctx, "x", nil)), connect.CodeUnauthenticated, "commit x"},
				{"server stream, no token", second(anon.ProveAggregate(ctx, &zkv1.ProveAggregateRequest{Collection: "x"})), connect.CodeUnauthenticated, "prove aggregate"},
			} {
				if got := connect.CodeOf(tc.err); got != tc.code {
					t.Errorf("%s: code %v (%v), want %v", tc.name, got, tc.err, tc.code)
				}
				if tc.err != nil && !strings.HasPrefix(tc.err.Error(), tc.call) {
					t.Errorf("%s: %q does not name the call %q", tc.name, tc.err, tc.call)
				}
			}
		})
	}
}

// TestCommit: records go in chunks of CommitChunk with progress after
// each; a bad record refuses the whole commit; every protocol works.
func TestCommit(t *testing.T) {
	ctx := t.Context()
	n := 2*client.CommitChunk + 1
	recs := func(yield func(records.Record) bool) {
		for i := range n {
			if !yield(records.Record{Key: fmt.Sprintf("K%05d", i), Values: []string{"L-1", fmt.Sprintf("%d.%d", i%30, i%10)}}) {
				return
			}
		}
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			h := dial(t, node.URL, p.opt, client.WithToken(node.HolderToken))
			name := "commit-" + p.name
			if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(shipmentsSchema), Name: name}); err != nil {
				t.Fatal(err)
			}
			var seen []int
			resp, err := h.Commit(ctx, name, recs, client.WithProgress(func(done, total int) { seen = append(seen, done) }))
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetInserted() != uint64(n) || resp.GetRecordCount() != uint64(n) {
				t.Errorf("inserted %d, count %d; want %d", resp.GetInserted(), resp.GetRecordCount(), n)
			}
			if want := []int{client.CommitChunk, 2 * client.CommitChunk, n}; fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("progress %v, want %v", seen, want)
			}
			badRecs := func(yield func(records.Record) bool) {
				_ = yield(records.Record{Key: "NEW", Values: []string{"L-1", "1.0"}}) &&
					yield(records.Record{Key: "BAD", Values: []string{"L-1", "hot"}})
			}
			_, err = h.Commit(ctx, name, badRecs)
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "max_temp") {
				t.Errorf("a bad value: %v, want InvalidArgument naming max_temp", err)
			}
			info, err := h.GetCollection(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if info.GetRecordCount() != uint64(n) {
				t.Errorf("after a refused commit: %d records, want %d", info.GetRecordCount(), n)
			}
		})
	}
}

// TestWatchBlocksCancel: a watch ends without an error when its context
// does.
func TestWatchBlocksCancel(t *testing.T) {
	c := dial(t, node.URL, client.WithGRPC())
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	n := 0
	for _, err := range c.WatchBlocks(ctx, 1) {
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		n++
	}
	if n == 0 {
		t.Error("no block before the context ended")
	}
}

// dial is client.New or the test's end.
func dial(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func second[T any](_ T, err error) error { return err }

// TestCommitChunkBytes: records with long values are cut into messages
// under the node's 16 MiB limit, not only by count.
func TestCommitChunkBytes(t *testing.T) {
	ctx := t.Context()
	var fields []string
	for i := range 16 {
		fields = append(fields, fmt.Sprintf(`{"name": "f%d", "type": "string"}`, i))
	}
	schema := `{"name": "wide", "key": "k", "fields": [` + strings.Join(fields, ",") + `]}`
	h := dial(t, node.URL, client.WithToken(node.HolderToken))
	if _, err := h.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: []byte(schema)}); err != nil {
		t.Fatal(err)
	}
	const n = 1100 // 1,100 records of 16 KB: 17.6 MB, over one message's limit
	long := strings.Repeat("x", 1000)
	recs := func(yield func(records.Record) bool) {
		for i := range n {
			vals := make([]string, 16)
			for j := range vals {
				vals[j] = long
			}
			if !yield(records.Record{Key: fmt.Sprintf("W%04d", i), Values: vals}) {
				return
			}
		}
	}
	var seen []int
	resp, err := h.Commit(ctx, "wide", recs, client.WithProgress(func(done, _ int) { seen = append(seen, done) }))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetRecordCount() != n || len(seen) < 5 || seen[len(seen)-1] != n {
		t.Errorf("%d records in messages ending at %v; want %d in at least 5 messages", resp.GetRecordCount(), seen, n)
	}
}

// Verify runs only with keys the caller pinned: never the node's.
func TestVerifyNeedsPinnedKeys(t *testing.T) {
	c, err := client.New(node.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(t.Context(), &zkv1.Bundle{}, verifier.Expect{}); !errors.Is(err, client.ErrNoKeys) {
		t.Fatalf("Verify without keys = %v, want ErrNoKeys", err)
	}
	c, err = client.New(node.URL, client.WithKeyDir(node.KeyDir))
	if err != nil {
		t.Fatal(err)
	}
	// An old version-1 JSON bundle is refused with its message.
	v, err := c.VerifyBytes(t.Context(), []byte(`{"version": 1, "kind": "subject"}`), verifier.Expect{})
	if err != nil || v.Valid || v.Failed != verifier.CheckDecode || !strings.Contains(v.Reason, "old (version 1)") {
		t.Fatalf("old bundle: %+v, %v", v, err)
	}
	if _, err := c.VerifyFile(t.Context(), filepath.Join(t.TempDir(), "none.json"), verifier.Expect{}); err == nil || !strings.Contains(err.Error(), "none.json") {
		t.Fatalf("missing file: %v", err)
	}
}
