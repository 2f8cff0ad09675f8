package detect

import (
	"slices"
	"strings"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/event"
)

// entityFields lists, per entity kind, the fields that carry it: ECS names
// first (what normalize writes for every layout), then the original
// Windows/Sysmon and auditd names for events that only have those.
var entityFields = struct {
	hosts, users, src, dst, procs, hashes, domains []string
}{
	hosts:   []string{"host.name", "Computer", "hostname"},
	users:   []string{"user.name", "TargetUserName", "SubjectUserName", "User"},
	src:     []string{"source.ip", "SourceIp", "IpAddress", "c-ip", "src_ip"},
	dst:     []string{"destination.ip", "DestinationIp", "dst_ip"},
	procs:   []string{"process.executable", "Image", "NewProcessName", "exe", "process.command_line"},
	hashes:  []string{"file.hash.sha256", "file.hash.sha1", "file.hash.md5", "process.hash.sha256", "hash.sha256"},
	domains: []string{"dns.question.name", "QueryName", "url.domain", "destination.domain", "DestinationHostname"},
}

// Entities extracts what an event is about, so the alarm stage can group
// alerts that share a host, user, address, process, hash or domain.
func Entities(ev *event.Event) alert.Entities {
	var e alert.Entities
	e.Hosts = collect(ev, entityFields.hosts, ev.Host)
	e.Users = collect(ev, entityFields.users, "")
	e.SourceIPs = addresses(collect(ev, entityFields.src, ""))
	e.DestIPs = addresses(collect(ev, entityFields.dst, ""))
	e.Processes = collect(ev, entityFields.procs[:4], "")
	if len(e.Processes) == 0 {
		e.Processes = collect(ev, entityFields.procs[4:], "")
	}
	e.Hashes = collect(ev, entityFields.hashes, "")
	e.Domains = collect(ev, entityFields.domains, "")
	return e
}

// Merge adds b's entities to a, without duplicates.
func Merge(a *alert.Entities, b alert.Entities) {
	a.Hosts = union(a.Hosts, b.Hosts)
	a.Users = union(a.Users, b.Users)
	a.SourceIPs = union(a.SourceIPs, b.SourceIPs)
	a.DestIPs = union(a.DestIPs, b.DestIPs)
	a.Processes = union(a.Processes, b.Processes)
	a.Hashes = union(a.Hashes, b.Hashes)
	a.Domains = union(a.Domains, b.Domains)
}

func collect(ev *event.Event, fields []string, first string) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s == "" || s == "-" {
			return
		}
		// Windows writes DOMAIN\user; the user is what people search for.
		for _, have := range out {
			if strings.EqualFold(have, s) {
				return
			}
		}
		out = append(out, s)
	}
	add(first)
	for _, f := range fields {
		switch v := ev.Fields[f].(type) {
		case string:
			add(v)
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					add(s)
				}
			}
		}
	}
	return out
}

// addresses keeps the single IP addresses of vals, canonical and once
// each: the sender writes these fields, and a playbook that blocks an
// alert's source must not be handed "0.0.0.0/0".
func addresses(vals []string) []string {
	var out []string
	for _, v := range vals {
		if a, ok := alert.Address(v); ok && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func union(a, b []string) []string {
outer:
	for _, s := range b {
		for _, have := range a {
			if have == s {
				continue outer
			}
		}
		a = append(a, s)
	}
	return a
}
