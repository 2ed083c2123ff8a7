// Package clientlimit bounds a costly public call, such as checking an
// aggregate bundle (up to 129 Groth16 verifications): how many run at
// once, and how often each client may call. The Connect API and the web
// console share one Limit, so neither is a way around the other.
package clientlimit

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/time/rate"
)

// Why a call is refused.
var (
	// ErrRate: the client called too often; it may retry later.
	ErrRate = errors.New("too many calls")
	// ErrBusy: every slot is taken; anyone may retry shortly.
	ErrBusy = errors.New("busy")
)

// maxClients bounds the limiter table; when full it starts afresh, which
// at worst grants each client one more burst.
const maxClients = 4096

// Limit admits calls: at most a number at once (more are refused at once,
// not queued) and at most perMinute a minute from each client.
type Limit struct {
	slots     chan struct{}
	perMinute int
	mu        sync.Mutex
	clients   map[string]*rate.Limiter
}

// New returns a limit of concurrency calls at once and perMinute a minute
// per client (both at least 1).
func New(concurrency, perMinute int) *Limit {
	return &Limit{slots: make(chan struct{}, max(concurrency, 1)), perMinute: max(perMinute, 1), clients: map[string]*rate.Limiter{}}
}

// PerMinute is the calls a client may make a minute.
func (l *Limit) PerMinute() int { return l.perMinute }

// Acquire admits a call of client (see Key) or says why not, wrapping
// ErrRate or ErrBusy; release must follow an admission.
func (l *Limit) Acquire(client string) (release func(), err error) {
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
	// A slot first: a call refused because every slot is taken does not
	// count against the client's minute.
	select {
	case l.slots <- struct{}{}:
	default:
		return nil, fmt.Errorf("%w: the verifier is busy: retry shortly", ErrBusy)
	}
	if !lim.Allow() {
		<-l.slots
		return nil, fmt.Errorf("%w: at most %d calls a minute per client: retry later", ErrRate, l.perMinute)
	}
	return func() { <-l.slots }, nil
}

// Key names a client for limits: its participant id when it has one (a
// token, a session), else its IP address from remoteAddr (host:port or a
// bare address), an IPv6 /64 counted as one client, since one client
// holds a whole /64.
func Key(participant, remoteAddr string) string {
	if participant != "" {
		return "id:" + participant
	}
	if remoteAddr == "" {
		return "unknown"
	}
	addr := remoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if ip, err := netip.ParseAddr(addr); err == nil && ip.Is6() && !ip.Is4In6() {
		if p, err := ip.Prefix(64); err == nil {
			return "ip:" + p.String()
		}
	}
	return "ip:" + addr
}
