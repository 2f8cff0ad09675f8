package normalize

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/parse/syslog"
)

// Parser names FromSyslog returns (FromLine also returns "text").
const (
	ParserSSHD   = "sshd"
	ParserSudo   = "sudo"
	ParserAuditd = "auditd"
	ParserSyslog = "syslog"
	ParserText   = "text"
)

// appService maps other syslog app names to the Sigma linux service whose
// rules read them.
var appService = map[string]string{
	"cron": "cron", "crond": "cron", "anacron": "cron",
	"vsftpd": "vsftpd",
	"clamd":  "clamav", "freshclam": "clamav", "clamav": "clamav",
	"guacd": "guacamole",
}

// FromSyslog fills ev from a parsed syslog message: syslog.facility,
// syslog.severity, syslog.appname, syslog.procid, syslog.msgid, message and
// structured data as sd.<id>.<param>; the host from Hostname and the time
// from Timestamp. Messages of sshd, sudo and auditd (and audit records that
// arrive with no app name but start with "type=") are parsed further; it
// returns the parser used: "sshd", "sudo", "auditd" or "syslog".
//
// The logsource is product linux with the service of the parser (another
// service for the few app names Sigma has rules for, syslog otherwise).
func FromSyslog(m syslog.Message, ev *event.Event) string {
	f := ensureFields(ev, 12+sdCount(m.StructuredData))
	if m.Facility >= 0 {
		f["syslog.facility"] = int64(m.Facility)
	}
	if m.Severity >= 0 {
		f["syslog.severity"] = int64(m.Severity)
	}
	for _, kv := range [...]struct{ k, v string }{
		{"syslog.appname", m.AppName}, {"syslog.procid", m.ProcID}, {"syslog.msgid", m.MsgID},
	} {
		if kv.v != "" && kv.v != "-" {
			f[kv.k] = kv.v
		}
	}
	f["message"] = m.Message
	for id, params := range m.StructuredData {
		for p, v := range params {
			f["sd."+joinKey(joinKey("", id), p)] = v
		}
	}
	if !m.Timestamp.IsZero() {
		ev.Time = m.Timestamp
	}
	if h := m.Hostname; h != "" && h != "-" {
		ev.Host = h
		f["host.name"] = h
	}

	app := strings.ToLower(m.AppName)
	parser, service := ParserSyslog, "syslog"
	switch {
	case app == "sshd" || strings.HasPrefix(app, "sshd-"): // sshd-session (OpenSSH 9.8+)
		sshFields(f, m.Message)
		parser, service = ParserSSHD, "sshd"
	case app == "sudo":
		sudoFields(f, m.Message)
		parser, service = ParserSudo, "sudo"
	case app == "auditd" || app == "audispd" || app == "audit" || app == "" || app == "kernel":
		if isAuditLine(m.Message) && auditFields(f, m.Message, ev) {
			return ParserAuditd
		}
		if app == "auditd" || app == "audispd" || app == "audit" {
			parser, service = ParserAuditd, "auditd"
		}
	default:
		if s, ok := appService[app]; ok {
			service = s
		}
	}
	ev.LogSource = event.LogSource{Product: "linux", Service: service}
	return parser
}

func sdCount(sd map[string]map[string]string) int {
	n := 0
	for _, p := range sd {
		n += len(p)
	}
	return n
}

// FromLine normalizes one line of text (a file tail, a line-framed stream):
// a JSON object goes to FromJSON; otherwise, when the caller could parse the
// line as syslog, msg goes to FromSyslog; otherwise a bare audit record
// ("type=... msg=audit(...)") is parsed as auditd; anything else becomes a
// "message" field. It returns the layout or parser used (FromJSON's and
// FromSyslog's names, or "text"). The caller sets ev.Raw.
func FromLine(line []byte, msg *syslog.Message, ev *event.Event) string {
	t := bytes.TrimSpace(line)
	if len(t) > 0 && t[0] == '{' {
		if obj, ok := decodeObject(t); ok {
			return FromJSON(obj, ev)
		}
	}
	if msg != nil {
		return FromSyslog(*msg, ev)
	}
	s := string(bytes.TrimRight(line, "\r\n"))
	if accessLog(s, ev) {
		ev.Fields["message"] = s
		return ParserAccessLog
	}
	// Log files such as /var/log/auth.log hold syslog lines without PRI;
	// take them as syslog only when a timestamp and a program name parse,
	// so that free text is not mistaken for a message from some host.
	if m, err := syslog.Parse(t, time.Now()); err == nil && !m.Timestamp.IsZero() && m.AppName != "" {
		return FromSyslog(m, ev)
	}
	f := ensureFields(ev, 32)
	if isAuditLine(s) && auditFields(f, s, ev) {
		f["message"] = s
		return ParserAuditd
	}
	f["message"] = s
	return ParserText
}

// decodeObject decodes b when it is exactly one JSON object.
func decodeObject(b []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return obj, true
}
