package api

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/internal/netlimit"
)

// Limits keep clients from holding the API: what a request without a token
// may cost, how often an address may fail to authenticate, and how slowly
// large bodies may arrive.
type Limits struct {
	// MaxUnauthenticated bounds requests handled at once on routes that
	// take a body without a token (agent enrollment); more get 503, so
	// anyone who can reach the port cannot tie up the handlers and the
	// store that authenticated callers need.
	MaxUnauthenticated int
	// AuthFailures limits failed authentications per client address;
	// nil limits nothing.
	AuthFailures *netlimit.Failures
	// Pace bounds how slowly evidence uploads arrive and how long
	// downloads may take; nil bounds nothing beyond the server's timeouts.
	Pace *netlimit.Pace
}

const (
	// publicBodyLimit bounds the body of a route without a token: an
	// enrollment request is a few hundred bytes.
	publicBodyLimit = 16 << 10
	// publicReadTimeout bounds reading such a request, headers included.
	publicReadTimeout = 5 * time.Second
)

// limit wraps a route's handler with the limits that apply before any
// work: an address over its failed authentications is refused before its
// credential is looked at, and a request without a token is cheap (a
// place among few, a small body, a short deadline) before it is read.
func (s *Server) limit(rt Route, next http.HandlerFunc) http.HandlerFunc {
	if rt.Role == Public && rt.Method == http.MethodGet {
		// Probes, metrics and the OpenAPI document: no credential, no
		// body, and they must answer under attack.
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		if wait, blocked := s.d.Limits.AuthFailures.Blocked(r.RemoteAddr, now); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			w.Header().Set("Connection", "close")
			httpjson.Error(w, http.StatusTooManyRequests, "too_many_failures",
				"too many failed authentications from this address (http.auth_failures): retry after the delay in Retry-After")
			return
		}
		if rt.Role == Public {
			select {
			case s.public <- struct{}{}:
				defer func() { <-s.public }()
			default:
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Connection", "close")
				httpjson.Error(w, http.StatusServiceUnavailable, "busy",
					fmt.Sprintf("%d requests without a token are being handled (http.max_unauthenticated): retry after the delay in Retry-After", cap(s.public)))
				return
			}
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(now.Add(publicReadTimeout))
			r.Body = &clearOnEOF{r: http.MaxBytesReader(w, r.Body, publicBodyLimit), rc: rc, c: r.Body}
		}
		fw := &failWriter{ResponseWriter: w}
		next(fw, r)
		// A credential presented and refused is a failure: 401, and on
		// routes that check their own (enrollment tokens in the body,
		// agent credentials) 403 too. A request without one guessed
		// nothing; on token routes 403 is a valid token without the role.
		presented := r.Header.Get("Authorization") != "" || rt.Role == Public || r.Header.Get("X-Api-Key") != "" ||
			(rt.Role == FeedAuth && r.URL.Query().Has("token"))
		if presented && (fw.status == http.StatusUnauthorized || (fw.status == http.StatusForbidden && (rt.Role == Public || rt.Role == AgentAuth || rt.Role == BouncerAuth))) {
			s.d.Limits.AuthFailures.Fail(r.RemoteAddr, now)
		}
	}
}

type failWriter struct {
	http.ResponseWriter
	status int
}

func (w *failWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *failWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clearOnEOF lifts the short read deadline once the body is read: the
// server reads on in the background to notice a hang-up, and the deadline
// passing there would cancel the request while its handler works.
type clearOnEOF struct {
	r  io.Reader
	c  io.Closer
	rc *http.ResponseController
}

func (b *clearOnEOF) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (b *clearOnEOF) Close() error { return b.c.Close() }
