package alarm

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/audit"
)

// Asset is something worth protecting: a host, a user, a network segment
// or a service.
type Asset struct {
	Kind        string   `json:"kind" yaml:"kind"` // host, user, segment, service
	Name        string   `json:"name" yaml:"name"`
	Criticality int      `json:"criticality" yaml:"criticality"` // 1..5
	Owner       string   `json:"owner,omitempty" yaml:"owner"`
	Tags        []string `json:"tags,omitempty" yaml:"tags"`
	// Addresses are IPs of a host, or CIDRs of a segment.
	Addresses []string `json:"addresses,omitempty" yaml:"addresses"`
	// Agent is the id of the host agent, when one runs there.
	Agent      string    `json:"agent,omitempty" yaml:"agent"`
	Discovered bool      `json:"discovered" yaml:"-"`
	FirstSeen  time.Time `json:"first_seen" yaml:"-"`
	LastSeen   time.Time `json:"last_seen" yaml:"-"`
}

var assetKinds = []string{"host", "user", "segment", "service"}

// Validate checks an asset.
func (a *Asset) Validate() error {
	a.Kind = strings.ToLower(strings.TrimSpace(a.Kind))
	a.Name = strings.TrimSpace(a.Name)
	if !slices.Contains(assetKinds, a.Kind) {
		return fmt.Errorf("kind %q is not one of host, user, segment, service", a.Kind)
	}
	if a.Name == "" {
		return errors.New("name must not be empty")
	}
	if a.Criticality < 1 || a.Criticality > 5 {
		return fmt.Errorf("criticality %d is outside 1..5", a.Criticality)
	}
	for _, ad := range a.Addresses {
		if _, err := netip.ParsePrefix(ad); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(ad); err != nil {
			return fmt.Errorf("address %q is neither an IP nor a CIDR", ad)
		}
	}
	return nil
}

// Inventory is the in-memory asset index the alarm stage rates incidents
// with; the store is its source of truth.
type Inventory struct {
	mu       sync.RWMutex
	byName   map[string]*Asset // kind:name (lowercase)
	byAddr   map[netip.Addr]*Asset
	prefixes []prefixAsset
}

type prefixAsset struct {
	p netip.Prefix
	a *Asset
}

// NewInventory builds an index from assets.
func NewInventory(assets []*Asset) *Inventory {
	inv := &Inventory{}
	inv.Replace(assets)
	return inv
}

// Replace swaps the whole index.
func (inv *Inventory) Replace(assets []*Asset) {
	byName := map[string]*Asset{}
	byAddr := map[netip.Addr]*Asset{}
	var prefixes []prefixAsset
	for _, a := range assets {
		byName[a.Kind+":"+strings.ToLower(a.Name)] = a
		for _, ad := range a.Addresses {
			if p, err := netip.ParsePrefix(ad); err == nil {
				prefixes = append(prefixes, prefixAsset{p.Masked(), a})
			} else if ip, err := netip.ParseAddr(ad); err == nil {
				byAddr[ip.Unmap()] = a
			}
		}
	}
	// Longest prefix first, so the most specific segment wins.
	slices.SortFunc(prefixes, func(x, y prefixAsset) int { return y.p.Bits() - x.p.Bits() })
	inv.mu.Lock()
	inv.byName, inv.byAddr, inv.prefixes = byName, byAddr, prefixes
	inv.mu.Unlock()
}

// Lookup finds the asset an entity refers to.
func (inv *Inventory) Lookup(e Entity) *Asset {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	switch e.Kind {
	case "host":
		if a := inv.byName["host:"+strings.ToLower(e.Value)]; a != nil {
			return a
		}
		// host.name may be an FQDN while the inventory holds the short name.
		if short, _, ok := strings.Cut(e.Value, "."); ok {
			return inv.byName["host:"+strings.ToLower(short)]
		}
	case "user":
		v := e.Value
		if _, u, ok := strings.Cut(v, `\`); ok {
			v = u
		}
		return inv.byName["user:"+strings.ToLower(v)]
	case "ip":
		ip, err := netip.ParseAddr(e.Value)
		if err != nil {
			return nil
		}
		ip = ip.Unmap()
		if a := inv.byAddr[ip]; a != nil {
			return a
		}
		for _, p := range inv.prefixes {
			if p.p.Contains(ip) {
				return p.a
			}
		}
	}
	return nil
}

// Criticality adapts the inventory for the engine; discovered assets do
// not count as known.
func (inv *Inventory) Criticality(e Entity) (int, bool) {
	if a := inv.Lookup(e); a != nil && !a.Discovered {
		return a.Criticality, true
	}
	return 0, false
}

// ImportCSV reads assets from CSV with a header row naming the columns:
// kind, name, criticality, owner, tags (separated by ;), addresses (;),
// agent. Errors name the line.
func ImportCSV(r io.Reader) ([]*Asset, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"kind", "name", "criticality"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("csv header: column %q is missing", need)
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ";") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	var out []*Asset
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return out, fmt.Errorf("csv line %d: %w", line, err)
		}
		c, err := strconv.Atoi(get(rec, "criticality"))
		if err != nil {
			return out, fmt.Errorf("csv line %d: criticality %q is not a number", line, get(rec, "criticality"))
		}
		a := &Asset{Kind: get(rec, "kind"), Name: get(rec, "name"), Criticality: c, Owner: get(rec, "owner"),
			Tags: split(get(rec, "tags")), Addresses: split(get(rec, "addresses")), Agent: get(rec, "agent")}
		if err := a.Validate(); err != nil {
			return out, fmt.Errorf("csv line %d: %w", line, err)
		}
		out = append(out, a)
	}
}

// ImportYAML reads a YAML list of assets (or {assets: [...]}).
func ImportYAML(data []byte) ([]*Asset, error) {
	var list []*Asset
	if err := yaml.Unmarshal(data, &list); err != nil {
		var wrapped struct {
			Assets []*Asset `yaml:"assets"`
		}
		if err2 := yaml.Unmarshal(data, &wrapped); err2 != nil {
			return nil, fmt.Errorf("yaml: %v", err)
		}
		list = wrapped.Assets
	}
	for i, a := range list {
		if err := a.Validate(); err != nil {
			return nil, fmt.Errorf("asset %d (%s): %w", i+1, a.Name, err)
		}
	}
	return list, nil
}

// PutAssets stores assets (replacing a discovered record of the same name).
func (s *Store) PutAssets(ctx context.Context, assets []*Asset, actor string) error {
	now := time.Now().UTC()
	names := make([]string, len(assets))
	for i, a := range assets {
		names[i] = a.Kind + ":" + a.Name
	}
	detail, err := json.Marshal(map[string]any{"assets": names})
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		// The import and its audit entry commit together.
		if err := audit.AppendTx(ctx, tx, actor, "asset.put", fmt.Sprintf("%d assets", len(assets)), detail); err != nil {
			return err
		}
		for _, a := range assets {
			var first, last int64
			err := tx.QueryRowContext(ctx, `SELECT first_seen, last_seen FROM assets WHERE kind = ? AND name = ?`, a.Kind, strings.ToLower(a.Name)).Scan(&first, &last)
			if errors.Is(err, sql.ErrNoRows) {
				a.FirstSeen, a.LastSeen = now, now
			} else if err != nil {
				return err
			} else {
				a.FirstSeen, a.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
			}
			a.Discovered = false
			doc, _ := json.Marshal(a)
			if _, err := tx.ExecContext(ctx, `INSERT INTO assets (kind, name, criticality, discovered, first_seen, last_seen, doc)
				VALUES (?,?,?,0,?,?,?) ON CONFLICT (kind, name) DO UPDATE SET criticality = excluded.criticality,
				discovered = 0, doc = excluded.doc`, a.Kind, strings.ToLower(a.Name), a.Criticality, ns(a.FirstSeen), ns(a.LastSeen), string(doc)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Assets lists assets; discovered ones too when all is true.
func (s *Store) Assets(ctx context.Context, all bool) ([]*Asset, error) {
	q := `SELECT doc, discovered, first_seen, last_seen FROM assets`
	if !all {
		q += ` WHERE discovered = 0`
	}
	rows, err := s.db.R.QueryContext(ctx, q+` ORDER BY kind, name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Asset
	for rows.Next() {
		var doc string
		var disc bool
		var first, last int64
		if err := rows.Scan(&doc, &disc, &first, &last); err != nil {
			return nil, err
		}
		var a Asset
		if err := json.Unmarshal([]byte(doc), &a); err != nil {
			return nil, err
		}
		a.Discovered, a.FirstSeen, a.LastSeen = disc, time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out = append(out, &a)
	}
	return out, rows.Err()
}

// AgentHost records that a host agent runs on a host: the host becomes an
// asset (discovered, if nobody declared it) carrying the agent's id and
// addresses; declared criticality, owner and tags are kept.
func (s *Service) AgentHost(ctx context.Context, hostname, agentID string, addresses []string) error {
	now := time.Now().UTC()
	name := strings.ToLower(hostname)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var doc string
		var discovered int
		a := &Asset{Kind: "host", Name: name, Discovered: true, FirstSeen: now}
		err := tx.QueryRowContext(ctx, `SELECT doc, discovered FROM assets WHERE kind = 'host' AND name = ?`, name).Scan(&doc, &discovered)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal([]byte(doc), a); err != nil {
				return err
			}
			a.Discovered = discovered == 1
		}
		a.Agent, a.Addresses, a.LastSeen = agentID, addresses, now
		b, _ := json.Marshal(a)
		d := 0
		if a.Discovered {
			d = 1
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO assets (kind, name, criticality, discovered, first_seen, last_seen, doc)
			VALUES ('host',?,?,?,?,?,?) ON CONFLICT (kind, name) DO UPDATE SET last_seen = excluded.last_seen, doc = excluded.doc`,
			name, a.Criticality, d, ns(a.FirstSeen), ns(now), string(b))
		return err
	})
	if err != nil {
		return err
	}
	all, err := s.store.Assets(ctx, true)
	if err != nil {
		return err
	}
	s.inv.Replace(all)
	return nil
}
