package bouncer

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/decision"
)

// Service answers bouncers: it reads the decisions and keeps, per bouncer,
// what it was sent.
type Service struct {
	Store     *Store
	Decisions *decision.Store
	Log       *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// message writes an error the way the CrowdSec Local API does: bouncers
// log the message.
func message(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func write(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// authenticate checks the X-Api-Key header. Refusals are 403, as the
// Local API answers them.
func (s *Service) authenticate(w http.ResponseWriter, r *http.Request) (Bouncer, bool) {
	key := strings.TrimSpace(r.Header.Get("X-Api-Key"))
	if key == "" {
		message(w, http.StatusForbidden, "access forbidden: send X-Api-Key (riposte bouncer add NAME makes one)")
		return Bouncer{}, false
	}
	b, err := s.Store.Authenticate(r.Context(), key)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			message(w, http.StatusForbidden, "access forbidden: the API key is unknown or its bouncer was deleted")
		} else {
			message(w, http.StatusInternalServerError, "store error: "+err.Error())
		}
		return Bouncer{}, false
	}
	return b, true
}

func remote(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func filterOf(q map[string][]string, defScopes []string) Filter {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.Join(v, ",")
		}
		return ""
	}
	f := Filter{Scopes: list(get("scopes")), Origins: list(get("origins")),
		Containing: list(get("scenarios_containing")), NotContaining: list(get("scenarios_not_containing"))}
	if _, ok := q["scopes"]; !ok {
		f.Scopes = defScopes
	}
	return f
}

// active returns what bouncers may enforce at now, through f, one decision
// per value when dedup (the one lasting longest).
func (s *Service) active(r *http.Request, f Filter, now time.Time, dedup bool) ([]Decision, error) {
	ds, err := s.Decisions.List(r.Context(), false, now)
	if err != nil {
		return nil, err
	}
	best := map[string]decision.Decision{}
	var out []Decision
	for _, d := range ds {
		sd, ok := served(d, now)
		if !ok || !f.match(sd) {
			continue
		}
		if !dedup {
			out = append(out, sd)
			continue
		}
		if o, ok := best[sd.Value]; !ok || outlasts(d, o) {
			best[sd.Value] = d
		}
	}
	if dedup {
		for _, d := range best {
			sd, _ := served(d, now)
			out = append(out, sd)
		}
	}
	return out, nil
}

// Stream is GET (and HEAD) /v1/decisions/stream: with startup=true every
// decision in force, otherwise what changed since this bouncer's last
// pull, as {"new": [...], "deleted": [...]}. scopes defaults to ip,range.
// HEAD checks the key and changes nothing (bouncers' health check).
func (s *Service) Stream(w http.ResponseWriter, r *http.Request) {
	b, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return
	}
	q := r.URL.Query()
	startup := false
	if v := q.Get("startup"); v != "" {
		var err error
		if startup, err = strconv.ParseBool(v); err != nil {
			message(w, http.StatusBadRequest, "startup="+strconv.Quote(v)+" is not true or false")
			return
		}
	}
	now := s.now()
	want, err := s.active(r, filterOf(q, []string{"ip", "range"}), now, true)
	if err != nil {
		message(w, http.StatusInternalServerError, "store error: "+err.Error())
		return
	}
	added, deleted, err := s.Store.Sync(r.Context(), b, startup, want, remote(r), r.UserAgent(), now)
	if err != nil {
		message(w, http.StatusInternalServerError, "store error: "+err.Error())
		return
	}
	if s.Log != nil && len(added)+len(deleted) > 0 {
		s.Log.Info("bouncer pulled decisions", "bouncer", b.Name, "new", len(added), "deleted", len(deleted), "startup", startup)
	}
	if added == nil {
		added = []Decision{}
	}
	if deleted == nil {
		deleted = []Decision{}
	}
	write(w, map[string][]Decision{"new": added, "deleted": deleted})
}

// queryParams are the parameters GET /v1/decisions takes; any other is
// refused, as the Local API does, so a bouncer's filter is never ignored
// into blocking more than it asked.
var queryParams = map[string]bool{"ip": true, "range": true, "scope": true, "value": true, "type": true, "contains": true,
	"origins": true, "scenarios_containing": true, "scenarios_not_containing": true, "scopes": true}

// Query is GET (and HEAD) /v1/decisions: the decisions in force that match
// (ip=, range= with contains=true|false, scope=, value=, type=, origins=,
// scenarios_containing=...), or null when none do, as the Local API
// answers live-mode bouncers.
func (s *Service) Query(w http.ResponseWriter, r *http.Request) {
	b, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	for k := range q {
		if !queryParams[k] {
			message(w, http.StatusBadRequest, "'"+k+"' doesn't exist: invalid filter")
			return
		}
	}
	contains := true
	if v := q.Get("contains"); v != "" {
		var err error
		if contains, err = strconv.ParseBool(v); err != nil {
			message(w, http.StatusBadRequest, "contains="+strconv.Quote(v)+" is not true or false")
			return
		}
	}
	var want netip.Prefix
	switch ip, rng := q.Get("ip"), q.Get("range"); {
	case ip != "" && rng != "":
		message(w, http.StatusBadRequest, "give ip or range, not both")
		return
	case ip != "":
		a, err := netip.ParseAddr(ip)
		if err != nil {
			message(w, http.StatusBadRequest, "ip="+strconv.Quote(ip)+" is not an IP address")
			return
		}
		want = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	case rng != "":
		p, err := netip.ParsePrefix(rng)
		if err != nil {
			message(w, http.StatusBadRequest, "range="+strconv.Quote(rng)+" is not a CIDR range")
			return
		}
		want = p.Masked()
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return
	}
	f := filterOf(q, nil)
	if sc := q.Get("scope"); sc != "" {
		f.Scopes = []string{sc}
	}
	now := s.now()
	all, err := s.active(r, f, now, false)
	if err != nil {
		message(w, http.StatusInternalServerError, "store error: "+err.Error())
		return
	}
	var out []Decision
	for _, d := range all {
		if v := q.Get("value"); v != "" && v != d.Value {
			continue
		}
		if t := q.Get("type"); t != "" && !strings.EqualFold(t, d.Type) {
			continue
		}
		if want.IsValid() && !overlaps(d, want, contains) {
			continue
		}
		out = append(out, d)
	}
	if err := s.Store.Answered(r.Context(), b, out, remote(r), r.UserAgent(), now); err != nil {
		message(w, http.StatusInternalServerError, "store error: "+err.Error())
		return
	}
	// The Local API answers null, not [], when nothing matches; live
	// bouncers test for it.
	write(w, out)
}

// overlaps reports whether decision d covers want (contains) or lies
// within it (!contains).
func overlaps(d Decision, want netip.Prefix, contains bool) bool {
	p, err := netip.ParsePrefix(d.Value)
	if err != nil {
		a, err := netip.ParseAddr(d.Value)
		if err != nil {
			return false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4() != want.Addr().Is4() {
		return false
	}
	if contains {
		return p.Bits() <= want.Bits() && p.Contains(want.Addr())
	}
	return want.Bits() <= p.Bits() && want.Contains(p.Addr())
}
