package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestFrom(t *testing.T) {
	cases := []struct {
		name           string
		bi             *debug.BuildInfo
		ok             bool
		override       string
		version, rev   string
		timeWant, goV  string
		stringContains string
	}{
		{"no build info", nil, false, "", "(devel)", "unknown", "", "", "(revision unknown"},
		{"clean clone", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261126100000-0123456789ab"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-11-26T10:00:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			true, "", "v0.0.0-20261126100000-0123456789ab", "0123456789abcdef", "2026-11-26T10:00:00Z", "go1.26.8", "revision 0123456789abcdef, 2026-11-26T10:00:00Z, go1.26.8"},
		{"local changes", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261126100000-0123456789ab+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}},
			true, "", "v0.0.0-20261126100000-0123456789ab+dirty", "0123456789abcdef-dirty", "", "go1.26.8", "-dirty"},
		{"release override", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			true, "v1.2.3", "v1.2.3", "unknown", "", "go1.26.8", "riposte v1.2.3 "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			Override = c.override
			defer func() { Override = "" }()
			in := from(c.bi, c.ok)
			if in.Version != c.version || in.Revision != c.rev || in.Time != c.timeWant {
				t.Fatalf("got %+v; want version %q revision %q time %q", in, c.version, c.rev, c.timeWant)
			}
			if c.goV != "" && in.GoVersion != c.goV {
				t.Errorf("go version %q, want %q", in.GoVersion, c.goV)
			}
			if in.GoVersion == "" {
				t.Error("no go version")
			}
			if s := in.String(); !strings.Contains(s, c.stringContains) {
				t.Errorf("String() = %q, want it to contain %q", s, c.stringContains)
			}
		})
	}
}

func TestCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Info{Version: "v1.2.3", Revision: "abc", GoVersion: "go1.26.8"}.Collector())
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "riposte_build_info" || len(mfs[0].Metric) != 1 {
		t.Fatalf("gathered %v, %v; want one riposte_build_info series", mfs, err)
	}
	m := mfs[0].Metric[0]
	labels := map[string]string{}
	for _, l := range m.Label {
		labels[l.GetName()] = l.GetValue()
	}
	want := map[string]string{"version": "v1.2.3", "revision": "abc", "goversion": "go1.26.8"}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, labels[k], v)
		}
	}
	if m.Gauge.GetValue() != 1 {
		t.Errorf("value %v, want 1", m.Gauge.GetValue())
	}
}
