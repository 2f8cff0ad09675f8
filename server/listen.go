package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riposte-soar/riposte/api"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/internal/netlimit"
)

// httpLimits are the API's protections against clients that hold it:
// the pace large bodies must keep, and what unauthenticated and failing
// callers may cost.
func httpLimits(c config.HTTP) (*netlimit.Pace, api.Limits) {
	pace := &netlimit.Pace{MinRate: int64(c.MinBodyRate), Grace: c.BodyRateGrace.D(), Write: c.WriteTimeout.D()}
	return pace, api.Limits{MaxUnauthenticated: c.MaxUnauthenticated, Pace: pace,
		AuthFailures: netlimit.NewFailures(c.AuthFailures.PerMinute, c.AuthFailures.Burst)}
}

// listenHTTP opens the API listener with its connection caps and a server
// with timeouts on every phase of a request, so that no client, with a
// token or without, can hold a connection, a goroutine or memory for
// longer than the limits say. Routes that legitimately take longer
// (ingest, evidence) extend their own deadlines through pace.
func listenHTTP(c config.HTTP, h http.Handler, pace *netlimit.Pace, reg prometheus.Registerer, log *slog.Logger) (net.Listener, *http.Server, error) {
	inner, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("http listener on %s: %w", c.Listen, err)
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "riposte_http_connections_refused_total",
		Help: "API connections closed on accept because of http.max_connections (reason total) or http.max_connections_per_address (per_address)."},
		[]string{"reason"})
	reg.MustRegister(refused)
	ln := netlimit.Listen(inner, netlimit.Limits{MaxConns: c.MaxConnections, MaxPerAddr: c.MaxConnectionsPerAddress},
		func(reason string) { refused.WithLabelValues(reason).Inc() })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "riposte_http_connections_open", Help: "API connections open now."},
		func() float64 { n, _ := ln.Open(""); return float64(n) }))
	hs := &http.Server{Handler: h, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: c.ReadHeaderTimeout.D(), ReadTimeout: c.ReadTimeout.D(),
		WriteTimeout: c.WriteTimeout.D(), IdleTimeout: c.IdleTimeout.D()}
	// Shutting down waits for requests in progress; an upload is one only
	// while it keeps arriving, so stop waiting for its remaining bytes.
	hs.RegisterOnShutdown(pace.Stop)
	return ln, hs, nil
}
