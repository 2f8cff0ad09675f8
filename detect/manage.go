package detect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/riposte-soar/riposte/detect/correlate"
	"github.com/riposte-soar/riposte/detect/sigma"
	"github.com/riposte-soar/riposte/rulestore"
)

// Manager keeps the rule store and the running engine in step: every change
// is validated against the whole ruleset first, stored as a new version,
// and then hot-loaded without pausing ingest or losing correlation state.
type Manager struct {
	Store   *rulestore.Store
	Engine  *Engine
	Mapping *sigma.Mapping
	Log     *slog.Logger
	// Changed, when set, is called after a change made through this
	// manager is stored and loaded: in a cluster it tells the other nodes
	// to reload, since they share the store but not the compiled rules.
	Changed func()

	mu       sync.Mutex // serializes changes and reloads
	lastErrs []LoadError
}

// RuleInfo is what a stored document declares about itself.
type RuleInfo struct {
	ID, Title, Kind string
	// Level and Tags are the rule's declared level and tags (ATT&CK and
	// others), for lists.
	Level string
	Tags  []string
}

// Inspect parses one document body and says which rule it is. A body holds
// one detection rule or one correlation (with, optionally, the rules it
// uses, as SigmaHQ's correlation files do); its first rule names it.
func Inspect(body []byte, name string) (RuleInfo, []LoadError) {
	col, lerrs := sigma.Parse(body, name)
	var errs []LoadError
	for _, e := range lerrs {
		errs = append(errs, LoadError{Source: e.File, Line: e.Line, Reason: e.Reason})
	}
	if len(errs) > 0 {
		return RuleInfo{}, errs
	}
	switch {
	case len(col.Correlations) > 0:
		c, err := correlate.Parse(col.Correlations[0].Doc, name, col.Correlations[0].Line)
		if err != nil {
			return RuleInfo{}, []LoadError{{Reason: err.Error()}}
		}
		if c.ID == "" {
			return RuleInfo{}, []LoadError{{Source: name, Line: col.Correlations[0].Line, Reason: "a stored correlation needs an id"}}
		}
		return RuleInfo{ID: c.ID, Title: c.Title, Kind: "correlation", Level: c.Level, Tags: c.Tags}, nil
	case len(col.Rules) > 0:
		r := col.Rules[0]
		return RuleInfo{ID: r.ID, Title: r.Title, Kind: "sigma", Level: r.Level, Tags: r.Tags}, nil
	}
	return RuleInfo{}, []LoadError{{Source: name, Reason: "no rule in the document"}}
}

// ValidationError lists why a change was refused.
type ValidationError struct{ Errors []LoadError }

func (v *ValidationError) Error() string {
	s := make([]string, len(v.Errors))
	for i, e := range v.Errors {
		s[i] = e.Error()
	}
	return "rule refused: " + strings.Join(s, "; ")
}

func sources(vs []rulestore.Version) []Source {
	out := make([]Source, len(vs))
	for i, v := range vs {
		out[i] = Source{RuleID: v.RuleID, Version: v.Version, Name: "rule:" + v.RuleID, Body: []byte(v.Body)}
	}
	return out
}

// Put validates body against the active ruleset, stores it as the next
// version of its rule, and reloads.
func (m *Manager) Put(ctx context.Context, body []byte, author, reason string) (rulestore.Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info, err := m.check(ctx, body)
	if err != nil {
		return rulestore.Version{}, err
	}
	v, err := m.Store.Put(ctx, info.ID, info.Title, info.Kind, string(body), author, reason)
	if err != nil {
		return v, err
	}
	return v, m.reloadChanged(ctx)
}

// Check says what Put would refuse in body, without storing it: an
// editor shows the problems at their lines as a person types.
func (m *Manager) Check(ctx context.Context, body []byte) []LoadError {
	_, err := m.check(ctx, body)
	var v *ValidationError
	if errors.As(err, &v) {
		return v.Errors
	}
	if err != nil {
		return []LoadError{{Reason: err.Error()}}
	}
	return nil
}

func (m *Manager) check(ctx context.Context, body []byte) (RuleInfo, error) {
	info, errs := Inspect(body, "candidate")
	if len(errs) > 0 {
		return info, &ValidationError{Errors: errs}
	}
	active, err := m.Store.Active(ctx)
	if err != nil {
		return info, err
	}
	srcs := []Source{{RuleID: info.ID, Name: "candidate", Body: body}}
	for _, s := range sources(active) {
		if s.RuleID != info.ID {
			srcs = append(srcs, s)
		}
	}
	if _, errs := Build(srcs, m.Mapping); len(errs) > 0 {
		var mine []LoadError
		for _, e := range errs {
			if e.Source == "candidate" || strings.HasPrefix(e.Reason, "candidate") || strings.Contains(e.Reason, info.ID) {
				mine = append(mine, e)
			}
		}
		if len(mine) > 0 {
			return info, &ValidationError{Errors: mine}
		}
	}
	return info, nil
}

// SetEnabled enables or disables a rule and reloads.
func (m *Manager) SetEnabled(ctx context.Context, id string, on bool, author, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.Store.SetEnabled(ctx, id, on, author, reason); err != nil {
		return err
	}
	return m.reloadChanged(ctx)
}

// Rollback restores an earlier version and reloads.
func (m *Manager) Rollback(ctx context.Context, id string, to int, author, reason string) (rulestore.Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.Store.Rollback(ctx, id, to, author, reason)
	if err != nil {
		return v, err
	}
	return v, m.reloadChanged(ctx)
}

// Reload compiles the active rules and swaps them in.
func (m *Manager) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reload(ctx)
}

func (m *Manager) reload(ctx context.Context) error {
	active, err := m.Store.Active(ctx)
	if err != nil {
		return err
	}
	rs, errs := Build(sources(active), m.Mapping)
	m.lastErrs = errs
	for _, e := range errs {
		m.Log.Warn("rule not loaded", "err", e.Error())
	}
	m.Engine.Swap(rs)
	m.Log.Info("rules loaded", "rules", len(rs.Rules), "correlations", len(rs.Correlations), "errors", len(errs))
	return nil
}

// reloadChanged reloads after a change and announces it.
func (m *Manager) reloadChanged(ctx context.Context) error {
	if err := m.reload(ctx); err != nil {
		return err
	}
	if m.Changed != nil {
		m.Changed()
	}
	return nil
}

// LoadErrors returns the problems of the last reload.
func (m *Manager) LoadErrors() []LoadError {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]LoadError(nil), m.lastErrs...)
}

// Import stores every rule file under root in fsys whose rule is not yet in
// the store, or whose body changed when update is true. It is how the
// default rules and configured rule folders enter the versioned store.
func (m *Manager) Import(ctx context.Context, fsys fs.FS, root, author string, update bool) (added, updated int, errs []LoadError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var files []string
	_ = fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, LoadError{Source: p, Reason: err.Error()})
			return nil
		}
		if !d.IsDir() && (path.Ext(p) == ".yml" || path.Ext(p) == ".yaml") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	for _, f := range files {
		body, err := fs.ReadFile(fsys, f)
		if err != nil {
			errs = append(errs, LoadError{Source: f, Reason: err.Error()})
			continue
		}
		info, ierrs := Inspect(body, f)
		if len(ierrs) > 0 {
			errs = append(errs, ierrs...)
			continue
		}
		_, cur, err := m.Store.Get(ctx, info.ID)
		exists := err == nil
		if err != nil && !errors.Is(err, rulestore.ErrNotFound) {
			errs = append(errs, LoadError{Source: f, Reason: err.Error()})
			continue
		}
		if exists && (!update || cur.Body == string(body)) {
			continue
		}
		reason := "imported from " + f
		if _, err := m.Store.Put(ctx, info.ID, info.Title, info.Kind, string(body), author, reason); err != nil {
			errs = append(errs, LoadError{Source: f, Reason: fmt.Sprintf("store: %v", err)})
			continue
		}
		if exists {
			updated++
		} else {
			added++
		}
	}
	return added, updated, errs
}

// List, Get, History and Active read the store; they are here so the API
// needs one rule service.
func (m *Manager) List(ctx context.Context) ([]rulestore.Rule, error) { return m.Store.List(ctx) }

// Get returns a rule and its current version.
func (m *Manager) Get(ctx context.Context, id string) (rulestore.Rule, rulestore.Version, error) {
	return m.Store.Get(ctx, id)
}

// History returns every version of a rule.
func (m *Manager) History(ctx context.Context, id string) ([]rulestore.Version, error) {
	return m.Store.History(ctx, id)
}

// Active returns the current version of every enabled rule.
func (m *Manager) Active(ctx context.Context) ([]rulestore.Version, error) {
	return m.Store.Active(ctx)
}

// ValidationErrors lets the API tell a refusal on the rule's merits (422)
// from a failure of the server.
func (v *ValidationError) ValidationErrors() []string {
	s := make([]string, len(v.Errors))
	for i, e := range v.Errors {
		s[i] = e.Error()
	}
	return s
}
