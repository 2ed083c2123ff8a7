package client

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
)

// HTTPClient is an HTTP client for plain-HTTP (h2c) nodes: it speaks
// unencrypted HTTP/2 with prior knowledge, which Connect, gRPC and
// gRPC-Web all work over. New uses one like it for http:// URLs.
func HTTPClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}}
}

// Bearer is a client interceptor that sends a bearer token on every call,
// unary and streaming. New installs one for WithToken; use it directly
// with generated zksharev1connect clients.
type Bearer string

// WrapUnary implements connect.Interceptor.
func (b Bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor.
func (b Bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

// WrapStreamingHandler implements connect.Interceptor; it changes nothing
// on a server.
func (b Bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
