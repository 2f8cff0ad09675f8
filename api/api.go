// Package api serves Riposte's versioned REST API under /api/v1, plus the
// health, readiness and metrics endpoints. It sits beside the flow: handlers
// check the caller's role, call into the stage packages, and audit every
// change; they hold no logic of their own.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/bouncer"
	"github.com/riposte-soar/riposte/cluster"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/eventstore"
	"github.com/riposte-soar/riposte/feeds"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/respond"
	"github.com/riposte-soar/riposte/secret"
)

// Deps are what the API calls into.
type Deps struct {
	Tokens *auth.Store
	// Secrets is the secret store (nil: none; the routes then hold nothing).
	Secrets *secret.Store
	Audit   *audit.Log
	Events  *eventstore.Store
	Ingest  http.Handler // POST /api/v1/events
	// IngestAlerts serves POST /api/v1/alerts under the same limits.
	IngestAlerts http.Handler
	Rules        RuleService
	Alerts       AlertReader
	Alarm        *alarm.Service
	Respond      *respond.Service
	Decisions    *decision.Store
	// Fleet manages host agents; AgentBusURL says which bus address an
	// enrolling agent should dial, given its enrollment request.
	Fleet       *fleet.Fleet
	AgentBusURL func(*http.Request) string
	Metrics     http.Handler // Prometheus exposition
	// Ready reports nil when the node can take traffic.
	Ready   func(context.Context) error
	Log     *slog.Logger
	Version string
	// Limits keep clients from holding the server (see limits.go); the
	// zero value limits nothing.
	Limits Limits
	// Cluster reports the cluster (GET /api/v1/cluster).
	Cluster *cluster.Runtime
	// Bouncers serves CrowdSec bouncers (nil: the /v1 routes are absent).
	Bouncers *bouncer.Service
	// Feeds serves block lists to firewalls (nil: /feeds is absent).
	Feeds *feeds.Service
	// Slack answers approvals from Slack's interactive messages (package
	// slackapprove; nil: the route is absent).
	Slack http.Handler
}

// Public marks a route that needs no token.
const Public auth.Role = ""

// AgentAuth marks a route for host agents: the handler checks the agent's
// own credential (HTTP Basic), and user tokens do not apply.
const AgentAuth auth.Role = "agent"

// anyRole marks a route any valid token may use (whoami).
const anyRole auth.Role = "any"

// Route is one endpoint: the mux pattern, who may call it, and its
// description for the OpenAPI document.
type Route struct {
	Method  string
	Path    string
	Role    auth.Role
	Summary string
	handler func(http.ResponseWriter, *http.Request, *Caller)
	// Body and Query describe inputs for the OpenAPI document.
	Query []Param
	Body  string // a short description of the JSON request body, if any
}

// Param is a query or path parameter.
type Param struct {
	Name, Desc string
	Required   bool
}

// Caller is who made a request.
type Caller struct {
	Token auth.Token
}

// Actor names the caller in the audit log.
func (c *Caller) Actor() string {
	if c == nil {
		return "anonymous"
	}
	return "token:" + c.Token.ID + " (" + c.Token.Name + ")"
}

// Server is the HTTP API.
type Server struct {
	d      Deps
	routes []Route
	// public admits requests to routes that take a body without a token.
	public chan struct{}
}

// New builds the API.
func New(d Deps) *Server {
	s := &Server{d: d, public: make(chan struct{}, max(d.Limits.MaxUnauthenticated, 1))}
	s.routes = append(s.table(), s.ruleRoutes()...)
	s.routes = append(s.routes, s.alarmRoutes()...)
	s.routes = append(s.routes, s.respondRoutes()...)
	s.routes = append(s.routes, s.decisionRoutes()...)
	s.routes = append(s.routes, s.agentRoutes()...)
	s.routes = append(s.routes, s.clusterRoutes()...)
	s.routes = append(s.routes, s.bouncerRoutes()...)
	s.routes = append(s.routes, s.feedRoutes()...)
	s.routes = append(s.routes, s.slackRoutes()...)
	return s
}

// Routes lists every route (for the role matrix test and the docs).
func (s *Server) Routes() []Route { return s.routes }

// Handler returns the http.Handler serving every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.HandleFunc(rt.Method+" "+rt.Path, s.limit(rt, s.guard(rt)))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no route "+r.Method+" "+r.URL.Path+": see /api/v1/openapi.json")
	})
	return s.logRequests(mux)
}

func (s *Server) guard(rt Route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if rt.Role == Public || rt.Role == AgentAuth || rt.Role == BouncerAuth || rt.Role == FeedAuth {
			rt.handler(w, r, nil)
			return
		}
		h := r.Header.Get("Authorization")
		scheme, secret, ok := strings.Cut(h, " ")
		if h == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="riposte"`)
			httpjson.Error(w, http.StatusUnauthorized, "unauthenticated",
				"this route needs a token: send Authorization: Bearer <token> (riposte token create makes one)")
			return
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="riposte", error="invalid_request"`)
			httpjson.Error(w, http.StatusUnauthorized, "unauthenticated", "Authorization header must be: Bearer <token>")
			return
		}
		tok, err := s.d.Tokens.Lookup(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			var exp *auth.ExpiredError
			if errors.As(err, &exp) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="riposte", error="invalid_token", error_description="token expired"`)
				httpjson.Error(w, http.StatusUnauthorized, "token_expired", exp.Error())
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="riposte", error="invalid_token"`)
			httpjson.Error(w, http.StatusUnauthorized, "invalid_token", "the token is unknown or was revoked")
			return
		}
		if rt.Role != anyRole && !tok.Role.Allows(rt.Role) {
			httpjson.Error(w, http.StatusForbidden, "forbidden",
				"this route needs role "+string(rt.Role)+"; token \""+tok.Name+"\" has role "+string(tok.Role))
			return
		}
		rt.handler(w, r, &Caller{Token: tok})
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		next.ServeHTTP(sw, r)
		if r.URL.Path == "/metrics" || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			return
		}
		s.d.Log.Debug("http", "method", r.Method, "path", r.URL.Path, "status", sw.status, "took", time.Since(start))
	})
}
