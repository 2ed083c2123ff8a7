package service

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/internal/clientlimit"
)

// acquireLimit admits a call of a costly public procedure under l (see
// package clientlimit), or refuses it with ResourceExhausted. A client is
// its participant id when it sent a token, else its IP address.
func acquireLimit(ctx context.Context, l *clientlimit.Limit) (release func(), err error) {
	release, err = l.Acquire(clientOf(ctx))
	if err != nil {
		return nil, connect.NewError(connect.CodeResourceExhausted, err)
	}
	return release, nil
}

// clientOf names the calling client for rate limits.
func clientOf(ctx context.Context) string {
	addr := ""
	if ci, ok := connect.CallInfoForHandlerContext(ctx); ok {
		addr = ci.Peer().Addr
	}
	return clientlimit.Key(callerOf(ctx).ID, addr)
}

// streamLimit bounds long-lived public streams (WatchBlocks): how many one
// client holds open, and how many all clients do. More are refused at once
// with ResourceExhausted.
type streamLimit struct {
	perClient, total int
	mu               sync.Mutex
	open             int
	byClient         map[string]int
}

func newStreamLimit(perClient, total int) *streamLimit {
	return &streamLimit{perClient: perClient, total: total, byClient: map[string]int{}}
}

// acquire admits a stream or says why not; release must follow an admission.
func (l *streamLimit) acquire(ctx context.Context) (release func(), err error) {
	client := clientOf(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byClient[client] >= l.perClient {
		return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("at most %d open streams per client: close one first", l.perClient))
	}
	if l.open >= l.total {
		return nil, connect.NewError(connect.CodeResourceExhausted, errors.New("the node serves as many streams as it can: retry later"))
	}
	l.open++
	l.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.open--
			if l.byClient[client]--; l.byClient[client] <= 0 {
				delete(l.byClient, client)
			}
		})
	}, nil
}
