package normalize

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/parse/syslog"
)

// checkEvent asserts what holds for any input: no empty field name, only the
// value types Event allows, and an event that still marshals.
func checkEvent(t *testing.T, ev *event.Event) {
	t.Helper()
	for k, v := range ev.Fields {
		if k == "" {
			t.Fatalf("empty field name (value %#v)", v)
		}
		if !allowedValue(v, true) {
			t.Fatalf("field %q has type %T", k, v)
		}
	}
	if _, err := json.Marshal(ev); err != nil {
		t.Fatalf("marshal: %v", err)
	}
}

func allowedValue(v any, top bool) bool {
	switch x := v.(type) {
	case nil, string, int64, float64, bool:
		return true
	case []any:
		if !top {
			return false
		}
		for _, e := range x {
			if !allowedValue(e, false) {
				return false
			}
		}
		return true
	}
	return false
}

func FuzzFromJSON(f *testing.F) {
	for _, name := range []string{"winlogbeat_sysmon1.json", "winlogbeat_4624.json", "otrf_4688.json",
		"otrf_sysmon3.json", "otrf_sysmon12.json", "evtx_wmi_userdata.json", "evtx_sysmon7.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Event":{"System":{"EventID":{"#text":[1,{"a":2}]},"Channel":[]},"EventData":{"Data":[{"@Name":"x","#text":"y"},3]}}}`))
	f.Add([]byte(`{"Event":{"System":{"Provider":{"#attributes":"x"}},"UserData":{"r":{"#attributes":1,"N":{"#text":{"k":1}}}}}}`))
	f.Add([]byte(`{"winlog":{"event_data":{"":1},"event_id":"x"},"@timestamp":99999999999999999999}`))
	f.Add([]byte(`{"Channel":null,"EventID":1e300,"Hashes":"MD5=,=,SHA1","IpAddress":"[::1]","SourcePort":"99999"}`))
	f.Add([]byte(`{"a":[[1,[2]],{"b":[{"c":null}]}],"ts":"1e9","time":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return
		}
		var ev event.Event
		switch layout := FromJSON(obj, &ev); layout {
		case LayoutEvtx, LayoutWinlogbeat, LayoutWindowsFlat:
			if ev.LogSource.Product != "windows" {
				t.Fatalf("%s without product windows: %+v", layout, ev.LogSource)
			}
		case LayoutJSON:
		default:
			t.Fatalf("layout %q", layout)
		}
		checkEvent(t, &ev)
	})
}

func FuzzFromSyslogMessage(f *testing.F) {
	for _, name := range []string{"sshd.log", "sudo.log", "auditd.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if _, msg, ok := strings.Cut(line, "]: "); ok {
				line = msg
			} else if _, msg, ok := strings.Cut(line, "sudo: "); ok {
				line = msg
			}
			f.Add(line)
		}
	}
	f.Add("Connection closed by invalid user  port 1 [preauth]")
	f.Add("type=EXECVE msg=audit(:): a9999999999[0]=00 a1[=1 msg='x")
	f.Add("node= type=")
	f.Add(" : COMMAND=")
	f.Fuzz(func(t *testing.T, text string) {
		for _, app := range []string{"sshd", "sudo", "auditd", ""} {
			m := syslog.Message{Format: "rfc3164", Facility: 4, Severity: 6, Hostname: "h", AppName: app, Message: text}
			var ev event.Event
			parser := FromSyslog(m, &ev)
			switch parser {
			case ParserSSHD, ParserSudo, ParserAuditd, ParserSyslog:
			default:
				t.Fatalf("parser %q", parser)
			}
			if ev.Fields["message"] != text {
				t.Fatalf("message not kept")
			}
			if ev.LogSource.Product != "linux" {
				t.Fatalf("logsource %+v", ev.LogSource)
			}
			checkEvent(t, &ev)
		}
		var ev event.Event
		FromLine([]byte(text), nil, &ev)
		checkEvent(t, &ev)
	})
}

// FuzzFromLine feeds arbitrary text lines (file tails): access logs, syslog
// without PRI, audit records and garbage must all become an event without a
// panic, and the line is always kept in the message field.
func FuzzFromLine(f *testing.F) {
	for _, s := range []string{
		`203.0.113.9 - - [10/Oct/2026:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "x"`,
		`Nov 26 10:00:00 web-1 sshd[77]: Failed password for root from 192.0.2.4 port 22 ssh2`,
		`type=EXECVE msg=audit(1.0:1): argc=1 a0="id"`,
		`{"a":{"b":1}}`, `1.2.3.4 - - [`, `a - b [x] "`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var ev event.Event
		p := FromLine(line, nil, &ev)
		if p != LayoutJSON && p != LayoutEvtx && p != LayoutWinlogbeat && p != LayoutWindowsFlat && ev.Fields["message"] == nil {
			t.Fatalf("parser %s dropped the message", p)
		}
	})
}
