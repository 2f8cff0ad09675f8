// Package buildinfo says which Riposte this is: the module version and the
// VCS revision the go tool stamped into the binary, so that a bug report,
// `riposte version` and /metrics name the exact code that ran.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Info describes the running binary.
type Info struct {
	// Version is the module version ("v1.2.3", or a pseudo-version such as
	// "v0.0.0-20261126100000-0123456789ab+dirty" for a build from a clone);
	// "(devel)" when the go tool stamped none.
	Version string
	// Revision is the VCS commit, with "-dirty" when the tree had local
	// changes; "unknown" when the binary was built without VCS stamping
	// (-buildvcs=false, or outside a repository).
	Revision string
	// Time is the commit time (RFC 3339), "" when unknown.
	Time string
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// Override, when set at link time (-ldflags "-X
// github.com/riposte-soar/riposte/internal/buildinfo.Override=v1.2.3"),
// replaces the version the go tool stamped, for release builds made from
// an archive without VCS metadata.
var Override string

// Get reads the binary's build information.
func Get() Info {
	return from(debug.ReadBuildInfo())
}

func from(bi *debug.BuildInfo, ok bool) Info {
	in := Info{Version: "(devel)", Revision: "unknown", GoVersion: runtime.Version()}
	if ok && bi != nil {
		if bi.Main.Version != "" {
			in.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Revision = s.Value
			case "vcs.time":
				in.Time = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && in.Revision != "unknown" {
			in.Revision += "-dirty"
		}
	}
	if Override != "" {
		in.Version = Override
	}
	return in
}

// String is the one-line form: "riposte v0.0.0-2026…-0123456789ab (revision
// 0123456789ab…, 2026-11-26T10:00:00Z, go1.26.8)".
func (in Info) String() string {
	var b strings.Builder
	b.WriteString("riposte ")
	b.WriteString(in.Version)
	b.WriteString(" (revision ")
	b.WriteString(in.Revision)
	if in.Time != "" {
		b.WriteString(", ")
		b.WriteString(in.Time)
	}
	b.WriteString(", ")
	b.WriteString(in.GoVersion)
	b.WriteString(")")
	return b.String()
}

// Collector exports riposte_build_info{version,revision,goversion} 1, the
// Prometheus convention for joining a node's series to the code it ran.
func (in Info) Collector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "riposte_build_info",
		Help:        "Always 1; the labels name the running binary's module version, VCS revision and Go version.",
		ConstLabels: prometheus.Labels{"version": in.Version, "revision": in.Revision, "goversion": in.GoVersion},
	})
	g.Set(1)
	return g
}
