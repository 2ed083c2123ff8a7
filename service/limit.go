package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"connectrpc.com/connect"
	"golang.org/x/time/rate"
)

// publicLimit bounds a costly public procedure: how many calls run at once
// (more are refused at once, as Prove's queue does) and how often each
// client may call. A client is its participant id when it sent a token,
// else its IP address.
type publicLimit struct {
	slots     chan struct{}
	perMinute int
	mu        sync.Mutex
	clients   map[string]*rate.Limiter
}

// maxClients bounds the limiter table; when full it starts afresh, which
// at worst grants each client one more burst.
const maxClients = 4096

func newPublicLimit(concurrency, perMinute int) *publicLimit {
	return &publicLimit{slots: make(chan struct{}, concurrency), perMinute: perMinute, clients: map[string]*rate.Limiter{}}
}

// acquire admits a call or says why not; release must follow an admission.
func (l *publicLimit) acquire(ctx context.Context) (release func(), err error) {
	client := clientOf(ctx)
	l.mu.Lock()
	lim, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= maxClients {
			clear(l.clients)
		}
		lim = rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)
		l.clients[client] = lim
	}
	l.mu.Unlock()
	if !lim.Allow() {
		return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("at most %d calls a minute per client: retry later", l.perMinute))
	}
	select {
	case l.slots <- struct{}{}:
		return func() { <-l.slots }, nil
	default:
		return nil, connect.NewError(connect.CodeResourceExhausted, errors.New("the verifier is busy: retry shortly"))
	}
}

// clientOf names the calling client for rate limits.
func clientOf(ctx context.Context) string {
	if c := callerOf(ctx); c.ID != "" {
		return "id:" + c.ID
	}
	if ci, ok := connect.CallInfoForHandlerContext(ctx); ok {
		addr := ci.Peer().Addr
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
		// One IPv6 client holds a whole /64: count it once.
		if ip, err := netip.ParseAddr(addr); err == nil && ip.Is6() && !ip.Is4In6() {
			if p, err := ip.Prefix(64); err == nil {
				return "ip:" + p.String()
			}
		}
		return "ip:" + addr
	}
	return "unknown"
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
