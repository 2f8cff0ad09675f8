package normalize

import (
	"github.com/riposte-soar/riposte/event"
)

// Layout names FromJSON returns.
const (
	LayoutEvtx        = "evtx"
	LayoutWinlogbeat  = "winlogbeat"
	LayoutWindowsFlat = "windows-flat"
	LayoutJSON        = "json"
)

// FromJSON fills ev.Fields, ev.Time (when the event carries a time; it is
// left alone otherwise), ev.Host and ev.LogSource from one decoded JSON
// object. Decode with json.Decoder.UseNumber() so that integers stay exact:
// they become int64, other numbers float64.
//
// It recognizes the layout and returns its name:
//   - "evtx": evtx_dump output, {"Event": {"System": ..., "EventData" or "UserData": ...}};
//   - "winlogbeat": a "winlog" object with event_data, event_id, channel, ...;
//   - "windows-flat": Channel and EventID at the top level (nxlog, OTRF);
//   - "json": anything else, nested objects flattened to dotted keys.
//
// Fields already in ev.Fields are kept unless the event has the same name.
func FromJSON(obj map[string]any, ev *event.Event) string {
	if evt, ok := obj["Event"].(map[string]any); ok {
		if sys, ok := evt["System"].(map[string]any); ok {
			fromEvtx(evt, sys, ev)
			return LayoutEvtx
		}
	}
	if wl, ok := obj["winlog"].(map[string]any); ok {
		fromWinlogbeat(obj, wl, ev)
		return LayoutWinlogbeat
	}
	if _, ok := obj["Channel"]; ok {
		if _, ok := obj["EventID"]; ok {
			fromFlat(obj, ev)
			return LayoutWindowsFlat
		}
	}
	fromGeneric(obj, ev)
	return LayoutJSON
}

// genericTimeKeys and genericHostKeys are looked up, in order, in the
// flattened fields of a generic JSON event.
var (
	genericTimeKeys = []string{"@timestamp", "timestamp", "time", "ts"}
	genericHostKeys = []string{"host.name", "hostname", "host", "Hostname", "computer", "Computer", "host.hostname"}
)

// genericAliases derive ECS entity keys from names common in JSON logs
// that do not use ECS.
var genericAliases = []struct {
	ecs   string
	names []string
}{
	{"source.ip", []string{"src_ip", "srcip", "source_ip", "client_ip", "clientip", "remote_addr", "sourceIPAddress", "id.orig_h"}},
	{"destination.ip", []string{"dst_ip", "dstip", "dest_ip", "destination_ip", "id.resp_h"}},
	{"source.port", []string{"src_port", "srcport", "source_port", "client_port", "id.orig_p"}},
	{"destination.port", []string{"dst_port", "dstport", "dest_port", "destination_port", "id.resp_p"}},
	{"user.name", []string{"user", "username", "user_name", "userName", "userIdentity.userName"}},
}

// fromGeneric flattens any JSON object.
func fromGeneric(obj map[string]any, ev *event.Event) {
	f := ensureFields(ev, 2*len(obj)+8)
	for k, v := range obj {
		flattenValue(f, joinKey("", k), v, 1, false)
	}
	for _, k := range genericTimeKeys {
		if t, ok := parseTime(f[k]); ok {
			ev.Time = t
			break
		}
	}
	for _, k := range genericHostKeys {
		if s, ok := f[k].(string); ok && s != "" {
			ev.Host = s
			setIfAbsent(f, "host.name", s)
			break
		}
	}
	for _, a := range genericAliases {
		if _, ok := f[a.ecs]; ok {
			continue
		}
		s := firstString(f, a.names...)
		if s == "" {
			continue
		}
		switch a.ecs {
		case "source.ip":
			setIP(f, "source", s)
		case "destination.ip":
			setIP(f, "destination", s)
		case "source.port", "destination.port":
			setPort(f, a.ecs, s)
		default:
			setUser(f, s, "")
		}
	}
	// AWS CloudTrail, which Sigma rules address as aws/cloudtrail.
	if _, ok := f["eventSource"].(string); ok {
		if _, ok := f["awsRegion"].(string); ok {
			ev.LogSource = event.LogSource{Product: "aws", Service: "cloudtrail"}
		}
	}
}
