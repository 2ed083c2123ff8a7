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
	if c := callerOf(ctx); c != nil {
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
