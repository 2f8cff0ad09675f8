package incidentops

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/store"
)

// newService opens a temporary store and an alarm service with one
// incident made from one alert, and returns the service and the incident ID.
func newService(t *testing.T) (*alarm.Service, string) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "r.db"), "normal", store.Control)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	s, err := alarm.NewService(ctx, alarm.DefaultConfig(), db, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	a := alert.Alert{ID: event.NewID(at), Kind: alert.KindSigma, Rule: alert.Rule{ID: "brute", Title: "brute force", Level: "high"},
		Time: at, Detected: at, FirstEventTime: at, EventIDs: []string{event.NewID(at)}}
	a.Entities.Hosts = []string{"web-1"}
	if err := s.ApplyBatch(ctx, []alert.Alert{a}, at); err != nil {
		t.Fatal(err)
	}
	incs, err := s.Store().List(ctx, alarm.Filter{})
	if err != nil || len(incs) != 1 {
		t.Fatalf("%v %d incidents", err, len(incs))
	}
	return s, incs[0].ID
}

func op(name, incident string, args map[string]any) connector.Call {
	return connector.Call{Operation: name, Args: args, Incident: incident, RunID: "run-1", StepID: "s1", IdempotencyKey: "run-1/s1/" + name}
}

func withKey(c connector.Call, key string) connector.Call { c.IdempotencyKey = key; return c }

func TestOperationsAgainstTheAlarmService(t *testing.T) {
	s, id := newService(t)
	c := New(s, Config{})
	ctx := context.Background()
	for _, call := range []connector.Call{
		op("status", id, map[string]any{"status": "contained"}),
		op("status", id, map[string]any{"status": "contained"}), // twice: no second change
		op("assign", id, map[string]any{"assignee": "alice"}),
		op("tag", id, map[string]any{"add": []any{"ransomware", "web"}}),
		op("tag", id, map[string]any{"remove": []string{"web"}}),
		op("verdict", id, map[string]any{"verdict": "true_positive"}),
		op("comment", id, map[string]any{"text": "blocked 203.0.113.7"}),
		op("comment", id, map[string]any{"text": "blocked 203.0.113.7"}), // same key: dropped
		withKey(op("comment", "", map[string]any{"text": "explicit incident", "incident": id}), "run-1/s2/0"),
	} {
		if _, err := c.Execute(ctx, call); err != nil {
			t.Fatalf("%s: %v", call.Operation, err)
		}
	}
	inc, err := s.Store().Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Status != alarm.StatusContained || inc.Assignee != "alice" || inc.Verdict != alarm.VerdictTruePositive ||
		strings.Join(inc.Tags, ",") != "ransomware" || inc.ContainedAt == nil {
		t.Fatalf("incident %+v", inc)
	}
	tl, err := s.Store().Timeline(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range tl {
		if e.Actor == "playbook:run-1" {
			kinds = append(kinds, e.Kind)
		}
	}
	if got := strings.Join(kinds, ","); got != "status,assign,tag,tag,tag,verdict,comment,comment" {
		t.Fatalf("timeline by the playbook: %s", got)
	}
}

func TestErrors(t *testing.T) {
	s, id := newService(t)
	c := New(s, Config{})
	ctx := context.Background()
	for name, call := range map[string]connector.Call{
		"no incident":   op("status", "", map[string]any{"status": "closed"}),
		"bad status":    op("status", id, map[string]any{"status": "done"}),
		"bad verdict":   op("verdict", id, map[string]any{"verdict": "maybe"}),
		"missing arg":   op("assign", id, map[string]any{}),
		"unknown arg":   op("status", id, map[string]any{"status": "closed", "force": true}),
		"empty tag op":  op("tag", id, map[string]any{}),
		"bad tag":       op("tag", id, map[string]any{"add": []any{"a\nb"}}),
		"wrong type":    op("tag", id, map[string]any{"add": "x"}),
		"unknown op":    op("delete", id, map[string]any{}),
		"empty comment": op("comment", id, map[string]any{"text": "  "}),
	} {
		for _, run := range []func(context.Context, connector.Call) (connector.Result, error){c.Simulate, c.Execute} {
			if _, err := run(ctx, call); err == nil || connector.ClassOf(err) != connector.Permanent {
				t.Errorf("%s: err %v, want permanent", name, err)
			}
		}
	}
	_, err := c.Execute(ctx, op("status", "01NOSUCHINCIDENT", map[string]any{"status": "closed"}))
	if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown incident: %v", err)
	}
}

func TestSimulateChangesNothing(t *testing.T) {
	s, id := newService(t)
	c := New(s, Config{})
	ctx := context.Background()
	before, _ := s.Store().Timeline(ctx, id)
	res, err := c.Simulate(ctx, op("status", id, map[string]any{"status": "closed"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "incident.update " + id + " status=closed actor=playbook:run-1"; len(res.Commands) != 1 || res.Commands[0] != want {
		t.Fatalf("commands %q, want %q", res.Commands, want)
	}
	after, _ := s.Store().Timeline(ctx, id)
	inc, _ := s.Store().Get(ctx, id)
	if len(after) != len(before) || inc.Status != alarm.StatusNew {
		t.Fatal("Simulate changed the incident")
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Connectors struct {
			Incident Config `yaml:"incident"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &doc, yaml.Strict()); err != nil || doc.Connectors.Incident.RememberKeys != 4096 {
		t.Fatalf("%v %+v", err, doc)
	}
}
