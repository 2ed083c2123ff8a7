package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics live on a private registry with the zkshare_ prefix, so nothing
// global is touched and two servers in one process do not collide.
type metrics struct {
	log      *slog.Logger
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		log: s.log,
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zkshare_requests_total", Help: "RPCs handled, by procedure and code.",
		}, []string{"procedure", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "zkshare_request_seconds", Help: "RPC latency, by procedure.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"procedure"}),
	}
	m.reg.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zkshare_prove_slots_used", Help: "Proofs in flight or waiting."},
			func() float64 { return float64(s.node.ProveSlotsUsed()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zkshare_ledger_height", Help: "Height of the ledger's tip."},
			func() float64 { return float64(s.node.Ledger().Head().Height) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zkshare_ledger_log_size", Help: "Transactions in the ledger's log."},
			func() float64 { return float64(s.node.Ledger().Head().LogSize) }),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observe records an RPC, and logs the cause of an internal error (the
// caller saw only "internal error").
func (m *metrics) observe(ctx context.Context, procedure string, start time.Time, err error) {
	c := "ok"
	if err != nil {
		c = connect.CodeOf(err).String()
	}
	m.requests.WithLabelValues(procedure, c).Inc()
	m.latency.WithLabelValues(procedure).Observe(time.Since(start).Seconds())
	if ie := (*internalError)(nil); errors.As(err, &ie) {
		m.log.ErrorContext(ctx, "request failed", slog.String("procedure", procedure), slog.Any("err", ie.cause))
	}
}

// interceptor records every RPC, unary and streaming (telemetry).
func (m *metrics) interceptor() connect.Interceptor { return &metricsInterceptor{m} }

type metricsInterceptor struct{ m *metrics }

func (i *metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		resp, err := next(ctx, req)
		i.m.observe(ctx, req.Spec().Procedure, start, err)
		return resp, err
	}
}

func (i *metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		err := next(ctx, conn)
		i.m.observe(ctx, conn.Spec().Procedure, start, err)
		return err
	}
}
