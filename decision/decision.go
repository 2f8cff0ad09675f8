// Package decision keeps the containment decisions Riposte holds: every
// block or isolation has an owner, a reason, an incident, a start and an
// expiry, and repeat offenders get longer bans. Host agents make their
// firewalls equal to the active set; expiry and recovery revert through
// the same store, so what Riposte believes is active is what hosts enforce.
package decision

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/store"
)

// Kinds of decision.
const (
	DenyIP      = "deny_ip"      // drop traffic from/to an address or network
	ContainHost = "contain_host" // isolate a host but for its agent channel
	// ContainSegment quarantines a network (or one host, by address)
	// behind a gateway agent: routed traffic from and to it is dropped
	// except from/to the SOC (agents.permitted) and the Riposte server.
	ContainSegment = "contain_segment"
)

// Decision is one containment.
type Decision struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Target is the address or CIDR (deny_ip, contain_segment) or the
	// host (contain_host).
	Target string `json:"target"`
	// Host is where a deny applies ("" for every host with an agent); for
	// contain_segment, the gateway ("" for every gateway whose declared
	// segments hold or overlap the target).
	Host     string    `json:"host,omitempty"`
	Owner    string    `json:"owner"`
	Reason   string    `json:"reason"`
	Incident string    `json:"incident,omitempty"`
	Start    time.Time `json:"start"`
	// Expires is when the decision reverts itself (zero: when reverted).
	Expires time.Time `json:"expires,omitempty"`
	// Offense counts this target's decisions, this one included, within
	// the repeat window: it chose the ban's length.
	Offense int `json:"offense"`
	// Rule is the decision's SLPF rule number on every agent enforcing it.
	Rule       int64      `json:"rule"`
	RevertedAt *time.Time `json:"reverted_at,omitempty"`
	RevertedBy string     `json:"reverted_by,omitempty"`
	RevertNote string     `json:"revert_reason,omitempty"`
	// Key is the idempotency key of the call that made it (a playbook
	// step attempt): the same key makes no second decision.
	Key string `json:"key,omitempty"`
	// Forced skips the limits (see Limits); only an admin may set it,
	// with a reason, and the audit entry says so.
	Forced bool `json:"forced,omitempty"`
}

// Active reports whether the decision holds at now.
func (d *Decision) Active(now time.Time) bool {
	return d.RevertedAt == nil && (d.Expires.IsZero() || now.Before(d.Expires))
}

// Schedule lengthens bans for repeat offenders: the nth decision about a
// target within Window lasts Durations[min(n, len)-1].
type Schedule struct {
	Window    time.Duration
	Durations []time.Duration
}

// DefaultSchedule: 1 hour, then a day, a week, a month.
var DefaultSchedule = Schedule{Window: 30 * 24 * time.Hour,
	Durations: []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}}

// ErrNotFound is returned for an unknown decision.
var ErrNotFound = errors.New("not found")

// ErrReverted is returned when reverting a decision already reverted.
var ErrReverted = errors.New("already reverted")

// Store keeps decisions in the control database.
type Store struct {
	db       *store.DB
	schedule Schedule
	limits   Limits
	mu       sync.Mutex
	watchers []func(Decision)
}

// Watch calls fn after every committed change (added, reverted, expired),
// so host agents learn of it at once rather than at their next heartbeat.
// fn must not block.
func (s *Store) Watch(fn func(Decision)) {
	s.mu.Lock()
	s.watchers = append(s.watchers, fn)
	s.mu.Unlock()
}

func (s *Store) changed(d Decision) {
	s.mu.Lock()
	ws := s.watchers
	s.mu.Unlock()
	for _, fn := range ws {
		fn(d)
	}
}

// New wraps the control database.
// New wraps the control database; deny decisions are held to
// DefaultLimits until SetLimits.
func New(db *store.DB, s Schedule) *Store { return &Store{db: db, schedule: s, limits: DefaultLimits} }

// SetLimits replaces the limits every deny decision is checked against.
// Call it before the store is shared.
func (s *Store) SetLimits(l Limits) { s.limits = l }

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// normalize checks a decision's kind and target.
func normalize(d *Decision) error {
	d.Target = strings.TrimSpace(d.Target)
	// Host names compare without case everywhere (agents, assets); store
	// them one way so two spellings are one scope.
	d.Host = strings.ToLower(strings.TrimSpace(d.Host))
	switch d.Kind {
	case DenyIP, ContainSegment:
		if p, err := netip.ParsePrefix(d.Target); err == nil {
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				// ::ffff:0.0.0.0/96 is 0.0.0.0/0 in disguise.
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			d.Target = p.Masked().String()
			return nil
		}
		a, err := netip.ParseAddr(d.Target)
		if err != nil {
			return fmt.Errorf("target %q is neither an IP address nor a CIDR", d.Target)
		}
		d.Target = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String()
	case ContainHost:
		d.Target = strings.ToLower(d.Target)
		if d.Target == "" || strings.ContainsAny(d.Target, " /\\\x00") {
			return fmt.Errorf("target %q is not a host name", d.Target)
		}
	default:
		return fmt.Errorf("kind %q is not deny_ip, contain_host or contain_segment", d.Kind)
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Add records a decision. With no expiry and ttl 0, the repeat-offender
// schedule sets it; a negative ttl means "until reverted".
func (s *Store) Add(ctx context.Context, d Decision, ttl time.Duration, now time.Time) (Decision, error) {
	if err := normalize(&d); err != nil {
		return d, err
	}
	if strings.TrimSpace(d.Reason) == "" {
		return d, errors.New("a decision needs a reason")
	}
	// Every path (API, playbooks, OpenC2, the CLI) comes through here, so
	// this is where a deny is held to the limits.
	if d.Kind == DenyIP && !d.Forced {
		if err := s.limits.Check(netip.MustParsePrefix(d.Target)); err != nil {
			return d, err
		}
	}
	if d.Kind == ContainSegment && !d.Forced {
		if err := s.limits.CheckSegment(netip.MustParsePrefix(d.Target)); err != nil {
			return d, err
		}
	}
	d.ID, d.Start = event.NewID(now), now
	var superseded []Decision
	var repeat *Decision
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if d.Key != "" {
			var doc string
			err := tx.QueryRowContext(ctx, `SELECT doc FROM decisions WHERE `+s.db.JSONText("doc", "key")+` = ?`, d.Key).Scan(&doc)
			if err == nil {
				var o Decision
				if err := json.Unmarshal([]byte(doc), &o); err != nil {
					return err
				}
				repeat = &o
				return nil
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM decisions WHERE target = ? AND created_at >= ?`,
			d.Target, ns(now.Add(-s.schedule.Window))).Scan(&n); err != nil {
			return err
		}
		d.Offense = n + 1
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(rule), 0) + 1 FROM decisions`).Scan(&d.Rule); err != nil {
			return err
		}
		switch {
		case !d.Expires.IsZero():
		case ttl > 0:
			d.Expires = now.Add(ttl)
		case ttl == 0 && len(s.schedule.Durations) > 0:
			d.Expires = now.Add(s.schedule.Durations[min(d.Offense, len(s.schedule.Durations))-1])
		}
		// A re-ban for the same incident replaces its active decision on
		// the same target and scope, keeping the later expiry, so the
		// kernel timeout is extended rather than left to run out under a
		// newer ban. Decisions of other incidents stay: recovering one
		// incident must not lift another's ban (agents hold one rule per
		// address and are compared by target, see fleet).
		rows, err := tx.QueryContext(ctx, `SELECT doc FROM decisions WHERE kind = ? AND target = ? AND host = ? AND reverted_at = 0 AND (expires_at = 0 OR expires_at > ?)
			AND `+s.db.JSONText("doc", "incident")+` IS NOT DISTINCT FROM ?`,
			d.Kind, d.Target, d.Host, ns(now), nullable(d.Incident))
		if err != nil {
			return err
		}
		superseded = superseded[:0]
		for rows.Next() {
			var doc string
			var o Decision
			if err := rows.Scan(&doc); err == nil && json.Unmarshal([]byte(doc), &o) == nil {
				superseded = append(superseded, o)
			}
		}
		rows.Close()
		for i, o := range superseded {
			if o.Expires.IsZero() || (!d.Expires.IsZero() && o.Expires.After(d.Expires)) {
				d.Expires = o.Expires
			}
			o.RevertedAt, o.RevertedBy, o.RevertNote = &now, "system", "superseded by "+d.ID
			b, _ := json.Marshal(o)
			if _, err := tx.ExecContext(ctx, `UPDATE decisions SET reverted_at = ?, doc = ? WHERE id = ?`, ns(now), string(b), o.ID); err != nil {
				return err
			}
			a, _ := json.Marshal(map[string]string{"superseded_by": d.ID})
			if err := audit.AppendTx(ctx, tx, "system", "decision.supersede", "decision:"+o.ID, a); err != nil {
				return err
			}
			superseded[i] = o
		}
		doc, _ := json.Marshal(d)
		if _, err := tx.ExecContext(ctx, `INSERT INTO decisions (id, kind, target, host, created_at, expires_at, reverted_at, doc, rule)
			VALUES (?,?,?,?,?,?,0,?,?)`, d.ID, d.Kind, d.Target, d.Host, ns(now), ns(d.Expires), string(doc), d.Rule); err != nil {
			return err
		}
		entry := map[string]any{"kind": d.Kind, "target": d.Target, "host": d.Host, "expires": d.Expires,
			"offense": d.Offense, "reason": d.Reason, "incident": d.Incident}
		if d.Forced {
			entry["forced"] = true
		}
		b, _ := json.Marshal(entry)
		return audit.AppendTx(ctx, tx, d.Owner, "decision.add", "decision:"+d.ID, b)
	})
	if err == nil && repeat != nil {
		// A retried call: the same decision, announced again so agents
		// that missed it get it now.
		s.changed(*repeat)
		return *repeat, nil
	}
	if err == nil {
		// The new rule first, then the old one's removal: the target
		// stays blocked throughout.
		s.changed(d)
		for _, o := range superseded {
			s.changed(o)
		}
	}
	return d, err
}

// Revert ends a decision now.
func (s *Store) Revert(ctx context.Context, id, actor, reason string, now time.Time) (Decision, error) {
	var d Decision
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var doc string
		if err := tx.QueryRowContext(ctx, `SELECT doc FROM decisions WHERE id = ?`, id).Scan(&doc); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("decision %s: %w", id, ErrNotFound)
			}
			return err
		}
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			return err
		}
		if d.RevertedAt != nil {
			return fmt.Errorf("decision %s: %w at %s by %s", id, ErrReverted, d.RevertedAt.Format(time.RFC3339), d.RevertedBy)
		}
		d.RevertedAt, d.RevertedBy, d.RevertNote = &now, actor, reason
		b, _ := json.Marshal(d)
		if _, err := tx.ExecContext(ctx, `UPDATE decisions SET reverted_at = ?, doc = ? WHERE id = ?`, ns(now), string(b), id); err != nil {
			return err
		}
		a, _ := json.Marshal(map[string]string{"reason": reason})
		return audit.AppendTx(ctx, tx, actor, "decision.revert", "decision:"+id, a)
	})
	if err == nil {
		s.changed(d)
	}
	return d, err
}

// Get returns one decision.
func (s *Store) Get(ctx context.Context, id string) (Decision, error) {
	var doc string
	var d Decision
	if err := s.db.R.QueryRowContext(ctx, `SELECT doc FROM decisions WHERE id = ?`, id).Scan(&doc); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return d, fmt.Errorf("decision %s: %w", id, ErrNotFound)
		}
		return d, err
	}
	return d, json.Unmarshal([]byte(doc), &d)
}

// Expire records, once each, the decisions whose time ran out by now: an
// audit entry says the ban ended, and watchers are told so agents drop it
// even if their kernel timeout has not fired (clocks differ). The record
// lives in the database, so an expiry that came due while the server was
// down is recorded when it starts: the timer is durable.
func (s *Store) Expire(ctx context.Context, now time.Time) ([]Decision, error) {
	var out []Decision
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT doc FROM decisions WHERE ended = 0 AND reverted_at = 0 AND expires_at != 0 AND expires_at <= ?
			ORDER BY expires_at LIMIT 1000`, ns(now))
		if err != nil {
			return err
		}
		for rows.Next() {
			var doc string
			var d Decision
			if err := rows.Scan(&doc); err != nil {
				rows.Close()
				return err
			}
			if err := json.Unmarshal([]byte(doc), &d); err != nil {
				rows.Close()
				return err
			}
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE decisions SET ended = ? WHERE id = ?`, ns(now), d.ID); err != nil {
				return err
			}
			a, _ := json.Marshal(map[string]any{"target": d.Target, "expires": d.Expires, "incident": d.Incident})
			if err := audit.AppendTx(ctx, tx, "system", "decision.expire", "decision:"+d.ID, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range out {
		s.changed(d)
	}
	return out, nil
}

// RunExpiry records expiries every interval until ctx ends.
func (s *Store) RunExpiry(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Expire(ctx, time.Now().UTC()); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// AppliesTo reports whether a host's agent must enforce d.
func (d *Decision) AppliesTo(hostname string) bool {
	switch d.Kind {
	case DenyIP:
		return d.Host == "" || strings.EqualFold(d.Host, hostname)
	case ContainHost:
		return strings.EqualFold(d.Target, hostname)
	case ContainSegment:
		// Only a gateway scoped by name is known from the name alone;
		// fleet matches the others by their declared segments.
		return d.Host != "" && strings.EqualFold(d.Host, hostname)
	}
	return false
}

// ForHost returns the active decisions a host's agent must enforce.
func (s *Store) ForHost(ctx context.Context, hostname string, now time.Time) ([]Decision, error) {
	all, err := s.List(ctx, false, now)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, d := range all {
		if d.AppliesTo(hostname) {
			out = append(out, d)
		}
	}
	return out, nil
}

// List returns decisions, newest first; only the active ones at now when
// all is false.
func (s *Store) List(ctx context.Context, all bool, now time.Time) ([]Decision, error) {
	q := `SELECT doc FROM decisions`
	var args []any
	if !all {
		q += ` WHERE reverted_at = 0 AND (expires_at = 0 OR expires_at > ?)`
		args = append(args, ns(now))
	}
	rows, err := s.db.R.QueryContext(ctx, q+` ORDER BY created_at DESC, id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Decision
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var d Decision
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RevertIncident reverts every active decision of an incident (when it is
// recovered), newest first, and returns them.
func (s *Store) RevertIncident(ctx context.Context, incident, actor string, now time.Time) ([]Decision, error) {
	act, err := s.List(ctx, false, now)
	if err != nil {
		return nil, err
	}
	var out []Decision
	for _, d := range act {
		if d.Incident != incident {
			continue
		}
		r, err := s.Revert(ctx, d.ID, actor, "incident "+incident+" recovered", now)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}
