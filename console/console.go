// Package console serves the analyst console: server-rendered HTML pages on
// the API's listener, at /. It sits beside the flow like the API: handlers
// check the person's role, call into the stage packages and leave every
// change in the same audit log (with the person's name); they hold no logic
// of their own. Pages work without JavaScript; the vendored htmx library
// adds partial updates and a server-sent event stream keeps them live.
package console

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/api"
	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/auth/oidc"
	"github.com/riposte-soar/riposte/bouncer"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/eventstore"
	"github.com/riposte-soar/riposte/feeds"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/internal/netlimit"
	"github.com/riposte-soar/riposte/respond"
)

//go:embed templates
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Deps are what the console calls into; nil ones hide their pages.
type Deps struct {
	Users *auth.Users
	// OIDC is set when single sign-on is configured.
	OIDC      *oidc.OIDC
	Audit     *audit.Log
	Alarm     *alarm.Service
	Respond   *respond.Service
	Decisions *decision.Store
	// Bouncers says which CrowdSec bouncers pulled which decision (nil: none).
	Bouncers *bouncer.Store
	// Feeds lists the firewalls polling the block-list feeds (nil: none).
	Feeds  *feeds.Store
	Fleet  *fleet.Fleet
	Events *eventstore.Store
	// Rules is the rule manager the API uses too.
	Rules api.RuleService
	Log   *slog.Logger
	// SignInFailures limits failed sign-ins per client address (the
	// API's limiter for failed tokens: a guesser shares one budget).
	SignInFailures *netlimit.Failures
	// Secure marks the cookies Secure: set when the listener serves TLS.
	Secure  bool
	Version string
	// Now is the clock (tests move it); nil is time.Now.
	Now func() time.Time
}

// Console is the web console.
type Console struct {
	d      Deps
	pages  *pages
	routes []route
	live   *hub
}

// New builds the console. It fails only if the embedded templates do not
// parse, which a test catches before any release.
func New(d Deps) (*Console, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{d: d, pages: p}
	c.live = newHub(c.version)
	c.routes = c.table()
	return c, nil
}

// Run keeps the live stream's poller going until ctx ends.
func (c *Console) Run(ctx context.Context) { c.live.run(ctx, time.Second) }

// Handler serves every console route; api is served for everything the
// console does not own (the REST API, health and metrics).
func (c *Console) Handler(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assetFS, "assets")
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", assetHandler(static)))
	// Browsers ask for /favicon.ico on pages without an icon link (the
	// sign-in hop after single sign-on, the API's JSON opened in a tab).
	mux.Handle("GET /favicon.ico", http.RedirectHandler("/assets/favicon.svg", http.StatusMovedPermanently))
	for _, rt := range c.routes {
		mux.Handle(rt.Method+" "+rt.Path, c.guard(rt))
	}
	mux.Handle("/", api)
	return mux
}

// version is what changes whenever a page a person sees may have: the
// incidents' stories (timeline, alerts), the audit log (every change by a
// person or an automation: decisions, silences, rules, playbooks) and the
// runs. The live stream tells pages to refresh when it moves. Each part is
// one index probe.
func (c *Console) version(ctx context.Context) (string, error) {
	var parts []string
	if c.d.Alarm != nil {
		v, err := c.d.Alarm.Store().Version(ctx)
		if err != nil {
			return "", err
		}
		parts = append(parts, v)
	}
	if c.d.Audit != nil {
		seq, err := c.d.Audit.Head(ctx)
		if err != nil {
			return "", err
		}
		parts = append(parts, strconv.FormatInt(seq, 10))
	}
	if c.d.Respond != nil && c.d.Respond.Engine != nil {
		at, err := c.d.Respond.Engine.Changed(ctx)
		if err != nil {
			return "", err
		}
		parts = append(parts, strconv.FormatInt(at, 10))
	}
	return strings.Join(parts, "-"), nil
}

func assetHandler(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Assets are embedded in the binary: a new binary is a new URL
		// (see assetURL), so they can be cached for long.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
