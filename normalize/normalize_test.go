package normalize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/parse/syslog"
)

func decodeFile(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	obj, ok := decodeObject(bytes.TrimSpace(b))
	if !ok {
		t.Fatalf("%s: not one JSON object", name)
	}
	return obj
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// checkFields compares the wanted fields; a nil want value means "absent".
func checkFields(t *testing.T, got map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if w == nil {
			if ok {
				t.Errorf("field %q = %#v, want absent", k, g)
			}
			continue
		}
		if !ok {
			t.Errorf("field %q missing, want %#v", k, w)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("field %q = %#v (%T), want %#v (%T)", k, g, g, w, w)
		}
	}
	for k := range got {
		if k == "" || strings.HasSuffix(k, ".") || strings.HasPrefix(k, ".") {
			t.Errorf("bad field name %q", k)
		}
	}
}

func TestFromJSONFiles(t *testing.T) {
	tests := []struct {
		file   string
		layout string
		host   string
		time   string
		ls     event.LogSource
		want   map[string]any
	}{
		{
			file: "winlogbeat_sysmon1.json", layout: LayoutWinlogbeat, host: "WS01.corp.example",
			time: "2024-03-05T10:15:30.123Z",
			ls:   event.LogSource{Product: "windows", Service: "sysmon", Category: "process_creation"},
			want: map[string]any{
				"EventID": int64(1), "Channel": "Microsoft-Windows-Sysmon/Operational",
				"Computer": "WS01.corp.example", "Provider_Name": "Microsoft-Windows-Sysmon",
				"EventRecordID": int64(48213), "Execution_ProcessID": int64(2840), "Security_UserID": "S-1-5-18",
				"Image": `C:\Windows\System32\cmd.exe`, "CommandLine": "cmd.exe /c whoami /all",
				"Logon Type": "2", "LogonType": "2",
				"host.name": "ws01.corp.example", // winlogbeat's own ECS value is kept
				"user.name": "alice", "user.domain": "CORP",
				"process.executable":        `C:\Windows\System32\cmd.exe`,
				"process.command_line":      "cmd.exe /c whoami /all",
				"process.parent.executable": `C:\Windows\explorer.exe`,
				"file.hash.md5":             "0123456789abcdef0123456789abcdef",
				"file.hash.sha256":          "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
				"file.hash.sha1":            nil,
				"winlog.api":                "wineventlog",
				"event.code":                "1",
				"winlog.event_data.Image":   nil,
			},
		},
		{
			file: "winlogbeat_4624.json", layout: LayoutWinlogbeat, host: "DC01.corp.example",
			time: "2024-03-05T11:00:00Z",
			ls:   event.LogSource{Product: "windows", Service: "security"},
			want: map[string]any{
				"EventID": int64(4624), "user.name": "bob", "user.domain": "CORP",
				"source.ip": "10.1.2.3", "source.port": int64(51234), "host.name": "DC01.corp.example",
			},
		},
		{
			file: "otrf_4688.json", layout: LayoutWindowsFlat, host: "WS02.example.local",
			time: "2021-07-01T08:30:00.5Z",
			ls:   event.LogSource{Product: "windows", Service: "security", Category: "process_creation"},
			want: map[string]any{
				"EventID": int64(4688), "Computer": "WS02.example.local", "Hostname": "WS02.example.local",
				"Provider_Name": "Microsoft-Windows-Security-Auditing", "EventRecordID": int64(1234),
				"Image":       `C:\Windows\System32\net.exe`,
				"ParentImage": `C:\Windows\System32\cmd.exe`,
				"user.name":   "carol", "user.domain": "EXAMPLE",
				"process.executable":        `C:\Windows\System32\net.exe`,
				"process.parent.executable": `C:\Windows\System32\cmd.exe`,
				"process.command_line":      `net group "domain admins" /domain`,
				"host.name":                 "WS02.example.local",
				"host":                      "collector.example.net",
				"tags":                      []any{"example"},
				"Keywords":                  int64(-9214364837600034816),
			},
		},
		{
			file: "otrf_sysmon3.json", layout: LayoutWindowsFlat, host: "WS03.example.local",
			time: "2021-07-01T09:00:00Z",
			ls:   event.LogSource{Product: "windows", Service: "sysmon", Category: "network_connection"},
			want: map[string]any{
				"source.ip": "192.0.2.10", "source.port": int64(49700),
				"destination.ip": "198.51.100.7", "destination.port": int64(443),
				"user.name": "dave", "user.domain": "EXAMPLE", "Security_UserID": "S-1-5-18",
			},
		},
		{
			file: "otrf_sysmon12.json", layout: LayoutWindowsFlat, host: "WS03.example.local",
			time: "2021-07-01T05:01:02Z",
			ls:   event.LogSource{Product: "windows", Service: "sysmon", Category: "registry_add"},
			want: map[string]any{"TargetObject": `HKLM\SOFTWARE\Example`},
		},
		{
			file: "evtx_wmi_userdata.json", layout: LayoutEvtx, host: "srv01.example",
			time: "2024-01-02T03:04:05.678901Z",
			ls:   event.LogSource{Product: "windows", Service: "wmi"},
			want: map[string]any{
				"EventID": int64(5861), "EventID_Qualifiers": int64(16384),
				"Provider_Name": "Microsoft-Windows-WMI-Activity", "Provider_Guid": "1418EF04-B0B4-4623-BF7E-D74AB47BBDAA",
				"Execution_ProcessID": int64(1200), "Execution_ThreadID": int64(3400),
				"Security_UserID": "S-1-5-18", "TimeCreated_SystemTime": "2024-01-02T03:04:05.678901Z",
				"Channel": "Microsoft-Windows-WMI-Activity/Operational", "Computer": "srv01.example",
				"Version": int64(0), "EventRecordID": int64(77),
				"CONSUMER": `CommandLineEventConsumer="evil"`, "Namespace": "//./root/subscription",
				"Correlation": nil, "xmlns": nil, "Operation_ESStoConsumerBinding_xmlns": nil,
				"host.name": "srv01.example",
			},
		},
		{
			file: "evtx_sysmon7.json", layout: LayoutEvtx, host: "lab-ws",
			time: "2024-02-01T12:00:00.123456Z",
			ls:   event.LogSource{Product: "windows", Service: "sysmon", Category: "image_load"},
			want: map[string]any{
				"EventID": int64(7), "ProcessId": int64(4242), "ImageLoaded": `C:\Users\Public\x.dll`,
				"file.hash.sha1": strings.Repeat("a", 40), "file.pe.imphash": strings.Repeat("d", 32),
				"user.name": "eve", "user.domain": "LAB-WS",
				"process.executable": `C:\Windows\System32\rundll32.exe`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var ev event.Event
			if got := FromJSON(decodeFile(t, tt.file), &ev); got != tt.layout {
				t.Fatalf("layout %q, want %q", got, tt.layout)
			}
			if ev.Host != tt.host {
				t.Errorf("host %q, want %q", ev.Host, tt.host)
			}
			if !ev.Time.Equal(mustTime(tt.time)) {
				t.Errorf("time %v, want %v", ev.Time, tt.time)
			}
			if ev.LogSource != tt.ls {
				t.Errorf("logsource %+v, want %+v", ev.LogSource, tt.ls)
			}
			checkFields(t, ev.Fields, tt.want)
		})
	}
}

func TestFromJSONGeneric(t *testing.T) {
	tests := []struct {
		name string
		in   string
		host string
		time time.Time
		ls   event.LogSource
		want map[string]any
	}{
		{
			name: "nested and arrays",
			in:   `{"source":{"ip":"1.2.3.4","port":443},"tags":["a",1,2.5,true,null],"dns":{"answers":[{"ip":"9.9.9.9"},{"ip":"8.8.8.8","ttl":60}]},"empty":[],"":"x","a":{"":1}}`,
			want: map[string]any{
				"source.ip": "1.2.3.4", "source.port": int64(443),
				"tags":            []any{"a", int64(1), 2.5, true, nil},
				"dns.answers.ip":  []any{"9.9.9.9", "8.8.8.8"},
				"dns.answers.ttl": []any{int64(60)},
				"empty":           []any{},
				"_":               "x", "a._": int64(1),
			},
		},
		{
			name: "rfc3339 and host",
			in:   `{"@timestamp":"2024-05-06T07:08:09.5+02:00","host":{"name":"h1"},"user":"root","src_ip":"::ffff:192.0.2.1","dst_port":"22"}`,
			host: "h1", time: time.Date(2024, 5, 6, 5, 8, 9, 5e8, time.UTC),
			want: map[string]any{"host.name": "h1", "user.name": "root", "source.ip": "192.0.2.1", "destination.port": int64(22)},
		},
		{
			name: "unix seconds", in: `{"ts":1700000000.25,"hostname":"h2"}`,
			host: "h2", time: time.Unix(1700000000, 25e7).UTC(),
			want: map[string]any{"ts": 1700000000.25},
		},
		{
			name: "unix millis", in: `{"time":1700000000123,"computer":"c3"}`,
			host: "c3", time: time.UnixMilli(1700000000123).UTC(),
		},
		{
			name: "bad time left zero", in: `{"time":"yesterday","timestamp":-5}`,
		},
		{
			name: "big numbers", in: `{"n":12345678901234567890,"f":1e400,"i":-9223372036854775808}`,
			want: map[string]any{"n": 12345678901234567890.0, "f": "1e400", "i": int64(-9223372036854775808)},
		},
		{
			name: "cloudtrail", in: `{"eventSource":"s3.amazonaws.com","awsRegion":"us-east-1","eventName":"GetObject","sourceIPAddress":"192.0.2.5","userIdentity":{"userName":"pedro"}}`,
			ls:   event.LogSource{Product: "aws", Service: "cloudtrail"},
			want: map[string]any{"source.ip": "192.0.2.5", "user.name": "pedro"},
		},
		{
			name: "Event without System is generic", in: `{"Event":{"x":1}}`,
			want: map[string]any{"Event.x": int64(1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, ok := decodeObject([]byte(tt.in))
			if !ok {
				t.Fatal("bad test JSON")
			}
			var ev event.Event
			if got := FromJSON(obj, &ev); got != LayoutJSON {
				t.Fatalf("layout %q", got)
			}
			if ev.Host != tt.host || !ev.Time.Equal(tt.time) || ev.LogSource != tt.ls {
				t.Errorf("host %q time %v ls %+v; want %q %v %+v", ev.Host, ev.Time, ev.LogSource, tt.host, tt.time, tt.ls)
			}
			checkFields(t, ev.Fields, tt.want)
		})
	}
}

func TestFromJSONDeepNesting(t *testing.T) {
	in := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	obj, ok := decodeObject([]byte(in))
	if !ok {
		t.Fatal("bad JSON")
	}
	var ev event.Event
	FromJSON(obj, &ev)
	if len(ev.Fields) != 1 {
		t.Fatalf("fields %v", ev.Fields)
	}
	for k, v := range ev.Fields {
		if strings.Count(k, ".") != maxDepth-1 {
			t.Errorf("key depth %d", strings.Count(k, "."))
		}
		if s, ok := v.(string); !ok || !strings.HasSuffix(s, "1"+strings.Repeat("}", 200-maxDepth)) {
			t.Errorf("deep remainder %v", v)
		}
	}
}

// readLines returns the non-empty lines of a testdata file.
func readLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if sc.Text() != "" {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

func TestFromSyslogFiles(t *testing.T) {
	now := time.Date(2024, 3, 6, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		file   string
		line   int // 1-based
		parser string
		ls     event.LogSource
		host   string
		time   time.Time
		want   map[string]any
	}{
		{"sshd.log", 1, ParserSSHD, event.LogSource{Product: "linux", Service: "sshd"}, "bastion", time.Date(2024, 3, 5, 10, 0, 1, 0, time.UTC), map[string]any{
			"event.action": "ssh_login", "event.outcome": "failure", "user.name": "root", "source.ip": "203.0.113.5",
			"source.port": int64(52144), "ssh.method": "password", "user.invalid": nil,
			"syslog.appname": "sshd", "syslog.procid": "1201", "syslog.facility": int64(4), "syslog.severity": int64(6),
			"host.name": "bastion", "message": "Failed password for root from 203.0.113.5 port 52144 ssh2",
		}},
		{"sshd.log", 2, ParserSSHD, event.LogSource{Product: "linux", Service: "sshd"}, "", time.Time{}, map[string]any{
			"event.outcome": "failure", "user.name": "admin", "user.invalid": true, "source.port": int64(52150),
		}},
		{"sshd.log", 3, ParserSSHD, event.LogSource{Product: "linux", Service: "sshd"}, "", time.Time{}, map[string]any{
			"event.action": "ssh_login", "event.outcome": "success", "user.name": "alice", "ssh.method": "password",
			"source.ip": "198.51.100.20",
		}},
		{"sshd.log", 4, ParserSSHD, event.LogSource{}, "", time.Time{}, map[string]any{
			"event.outcome": "success", "user.name": "deploy", "ssh.method": "publickey", "source.ip": "2001:db8::7",
			"source.port": int64(40000), "ssh.key": "ED25519 SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
		}},
		{"sshd.log", 5, ParserSSHD, event.LogSource{}, "", time.Time{}, map[string]any{
			"event.action": "ssh_login", "event.outcome": "failure", "user.name": "oracle", "user.invalid": true,
			"source.ip": "203.0.113.9", "source.port": int64(41000),
		}},
		{"sshd.log", 6, ParserSSHD, event.LogSource{}, "", time.Time{}, map[string]any{
			"event.action": "ssh_disconnect", "event.outcome": "failure", "user.name": "root", "user.invalid": nil,
			"source.ip": "203.0.113.9", "source.port": int64(41002),
		}},
		{"sshd.log", 7, ParserSSHD, event.LogSource{}, "", time.Time{}, map[string]any{
			"event.action": "ssh_disconnect", "user.name": "test", "user.invalid": true, "source.port": int64(41003),
		}},
		{"sshd.log", 8, ParserSSHD, event.LogSource{}, "", time.Time{}, map[string]any{
			"event.action": "ssh_login", "event.outcome": "failure", "user.name": "pi", "user.invalid": true,
			"source.ip": "203.0.113.11", "source.port": int64(5555),
			"event.reason": "maximum authentication attempts exceeded",
		}},
		{"sshd.log", 9, ParserSSHD, event.LogSource{}, "", time.Time{}, map[string]any{ // forged "from" in the user name
			"user.name": "x from 6.6.6.6 port 1 ssh2", "source.ip": "203.0.113.12", "source.port": int64(2222),
		}},
		{"sshd.log", 10, ParserSSHD, event.LogSource{}, "", time.Time{}, map[string]any{
			"user.name": "", "user.invalid": true, "source.ip": "203.0.113.13",
		}},
		{"sshd.log", 11, ParserSSHD, event.LogSource{}, "", time.Time{}, map[string]any{
			"ssh.method": "keyboard-interactive", "user.name": "erin", "event.outcome": "success",
		}},
		{"sshd.log", 12, ParserSSHD, event.LogSource{Product: "linux", Service: "sshd"}, "", time.Time{}, map[string]any{
			"event.action": nil, "user.name": nil, "message": "Server listening on 0.0.0.0 port 22.",
		}},
		{"sudo.log", 1, ParserSudo, event.LogSource{Product: "linux", Service: "sudo"}, "web1", time.Time{}, map[string]any{
			"user.name": "alice", "sudo.target_user": "root", "sudo.tty": "pts/0", "sudo.pwd": "/home/alice",
			"process.command_line": "/bin/bash", "event.outcome": "success",
		}},
		{"sudo.log", 2, ParserSudo, event.LogSource{}, "", time.Time{}, map[string]any{
			"user.name": "bob", "event.outcome": "failure", "event.reason": "3 incorrect password attempts",
			"process.command_line": "/usr/bin/id", "sudo.pwd": "/tmp",
		}},
		{"sudo.log", 3, ParserSudo, event.LogSource{}, "", time.Time{}, map[string]any{
			"user.name": "mallory", "event.outcome": "failure", "event.reason": "user NOT in sudoers",
			"process.command_line": `/bin/sh -c "id ; cat /etc/shadow"`, "sudo.target_user": "root",
		}},
		{"sudo.log", 4, ParserSudo, event.LogSource{}, "", time.Time{}, map[string]any{
			"user.name": "alice", "sudo.target_user": "root", "event.outcome": nil,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file+":"+string(rune('0'+tt.line/10))+string(rune('0'+tt.line%10)), func(t *testing.T) {
			lines := readLines(t, tt.file)
			line := []byte(lines[tt.line-1])
			msg, err := syslog.Parse(line, now)
			if err != nil {
				t.Fatal(err)
			}
			var ev event.Event
			if got := FromLine(line, &msg, &ev); got != tt.parser {
				t.Fatalf("parser %q, want %q", got, tt.parser)
			}
			if tt.ls != (event.LogSource{}) && ev.LogSource != tt.ls {
				t.Errorf("logsource %+v, want %+v", ev.LogSource, tt.ls)
			}
			if tt.host != "" && ev.Host != tt.host {
				t.Errorf("host %q, want %q", ev.Host, tt.host)
			}
			if !tt.time.IsZero() && !ev.Time.Equal(tt.time) {
				t.Errorf("time %v, want %v", ev.Time, tt.time)
			}
			checkFields(t, ev.Fields, tt.want)
		})
	}
}

func TestAuditdLines(t *testing.T) {
	lines := readLines(t, "auditd.log")
	tests := []struct {
		line int
		host string
		time time.Time
		want map[string]any
	}{
		{1, "", time.Unix(1364481363, 243e6).UTC(), map[string]any{
			"type": "EXECVE", "argc": "3", "a0": "ls", "a1": "-la", "a2": "/root",
			"audit.serial": int64(24287), "process.command_line": "ls -la /root", "msg": nil,
		}},
		{2, "", time.Unix(1700000000, 5e8).UTC(), map[string]any{
			"a2": "echo \"a b\"\n", "process.command_line": "sh -c echo \"a b\"\n",
		}},
		{3, "", time.Time{}, map[string]any{"type": "PROCTITLE", "proctitle": "arp -a", "process.command_line": "arp -a"}},
		{4, "", time.Time{}, map[string]any{
			"type": "SYSCALL", "a0": "558e251634a0", "a3": "8", "syscall": "59", "SYSCALL": "execve",
			"comm": "arp", "exe": "/usr/sbin/arp", "key": "recon", "uid": "0", "AUID": "alice",
			"process.executable": "/usr/sbin/arp", "user.name": "alice", "user.id": "0", "event.outcome": "success",
		}},
		{5, "", time.Time{}, map[string]any{
			"type": "USER_LOGIN", "acct": "bob", "exe": "/usr/sbin/sshd", "res": "failed", "op": "login",
			"user.name": "bob", "source.ip": "203.0.113.5", "event.outcome": "failure", "hostname": "?",
		}},
		{6, "web2", time.Unix(1700000002, 25e7).UTC(), map[string]any{
			"type": "PATH", "name": "/tmp/a b.sh", "node": "web2", "file.path": "/tmp/a b.sh", "mode": "0100755",
		}},
		{7, "", time.Time{}, map[string]any{
			"a0": "python3", "a1": "abcdefgh", "a1_len": "8", "a1[0]": nil, "process.command_line": "python3 abcdefgh",
		}},
		{8, "", time.Time{}, map[string]any{
			"key": []any{"key1", "rek2"}, "ARCH": "x86_64", "user.name": "carol", "event.outcome": "failure",
		}},
	}
	for _, tt := range tests {
		t.Run(lines[tt.line-1][:20], func(t *testing.T) {
			line := []byte(lines[tt.line-1])
			var ev event.Event
			if got := FromLine(line, nil, &ev); got != ParserAuditd {
				t.Fatalf("parser %q", got)
			}
			if ev.LogSource != (event.LogSource{Product: "linux", Service: "auditd"}) {
				t.Errorf("logsource %+v", ev.LogSource)
			}
			if ev.Host != tt.host {
				t.Errorf("host %q, want %q", ev.Host, tt.host)
			}
			if !tt.time.IsZero() && !ev.Time.Equal(tt.time) {
				t.Errorf("time %v, want %v", ev.Time, tt.time)
			}
			checkFields(t, ev.Fields, tt.want)

			// The same record through syslog with no app name, and with app auditd.
			for _, app := range []string{"", "auditd"} {
				m := syslog.Message{Facility: -1, Severity: -1, AppName: app, Message: string(line)}
				var ev2 event.Event
				if got := FromSyslog(m, &ev2); got != ParserAuditd {
					t.Errorf("FromSyslog app %q: parser %q", app, got)
				}
				checkFields(t, ev2.Fields, tt.want)
			}
		})
	}
}

func TestFromSyslogStructuredData(t *testing.T) {
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	m := syslog.Message{Format: "rfc5424", Facility: 1, Severity: 5, Timestamp: ts, Hostname: "app1",
		AppName: "myapp", ProcID: "-", MsgID: "ID47",
		StructuredData: map[string]map[string]string{"exampleSDID@32473": {"iut": "3", "": "e"}},
		Message:        "hello"}
	var ev event.Event
	if got := FromSyslog(m, &ev); got != ParserSyslog {
		t.Fatalf("parser %q", got)
	}
	if !ev.Time.Equal(ts) || ev.Host != "app1" || ev.LogSource != (event.LogSource{Product: "linux", Service: "syslog"}) {
		t.Errorf("time %v host %q ls %+v", ev.Time, ev.Host, ev.LogSource)
	}
	checkFields(t, ev.Fields, map[string]any{
		"syslog.facility": int64(1), "syslog.severity": int64(5), "syslog.appname": "myapp",
		"syslog.procid": nil, "syslog.msgid": "ID47", "message": "hello",
		"sd.exampleSDID@32473.iut": "3", "sd.exampleSDID@32473._": "e",
	})
}

func TestFromLine(t *testing.T) {
	tests := []struct {
		line, kind string
		want       map[string]any
	}{
		{`  {"a":{"b":1}}  `, LayoutJSON, map[string]any{"a.b": int64(1)}},
		{`{"a":1} {"b":2}`, ParserText, map[string]any{"message": `{"a":1} {"b":2}`}},
		{`{"a":`, ParserText, map[string]any{"message": `{"a":`}},
		{"plain text\r\n", ParserText, map[string]any{"message": "plain text"}},
		{"type=EXECVE msg=audit(1.0:1): argc=1 a0=\"id\"", ParserAuditd, map[string]any{"a0": "id"}},
	}
	for _, tt := range tests {
		var ev event.Event
		if got := FromLine([]byte(tt.line), nil, &ev); got != tt.kind {
			t.Errorf("%q: kind %q, want %q", tt.line, got, tt.kind)
			continue
		}
		checkFields(t, ev.Fields, tt.want)
	}
}

func TestCategoryMatches(t *testing.T) {
	for _, c := range []struct {
		ev, rule string
		want     bool
	}{
		{"registry_set", "registry_event", true},
		{"registry_add", "registry_event", true},
		{"registry_event", "registry_event", true},
		{"registry_set", "registry_add", false},
		{"process_creation", "registry_event", false},
	} {
		if got := CategoryMatches(c.ev, c.rule); got != c.want {
			t.Errorf("CategoryMatches(%q, %q) = %v", c.ev, c.rule, got)
		}
	}
}

// The decoded object must survive a round trip through Event's JSON form,
// which is how events travel on the stream.
func TestEventMarshals(t *testing.T) {
	for _, f := range []string{"winlogbeat_sysmon1.json", "otrf_4688.json", "evtx_wmi_userdata.json"} {
		var ev event.Event
		FromJSON(decodeFile(t, f), &ev)
		if _, err := json.Marshal(ev); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestFromLineAccessLogAndSyslogFile(t *testing.T) {
	cases := []struct {
		line   string
		parser string
		want   map[string]any
		ls     event.LogSource
	}{
		{`203.0.113.9 - frank [10/Oct/2026:13:55:36 -0700] "GET /index.php?id=1%27%20OR%201=1 HTTP/1.1" 200 2326 "http://ref/" "sqlmap/1.7"`,
			ParserAccessLog, map[string]any{"c-ip": "203.0.113.9", "source.ip": "203.0.113.9", "cs-method": "GET", "cs-uri-stem": "/index.php",
				"cs-uri-query": "id=1%27%20OR%201=1", "url.decoded": "/index.php?id=1' OR 1=1", "sc-status": int64(200),
				"cs-user-agent": "sqlmap/1.7", "cs-username": "frank", "cs-referer": "http://ref/"}, event.LogSource{Category: "webserver"}},
		{`::1 - - [26/Nov/2026:10:00:00 +0000] "POST /login HTTP/2.0" 401 0 "-" "-"`,
			ParserAccessLog, map[string]any{"source.ip": "::1", "sc-status": int64(401), "http.request.method": "POST"}, event.LogSource{Category: "webserver"}},
		{`Nov 26 10:00:00 web-1 sshd[77]: Failed password for root from 192.0.2.4 port 22 ssh2`,
			ParserSSHD, map[string]any{"user.name": "root", "source.ip": "192.0.2.4", "event.outcome": "failure"}, event.LogSource{Product: "linux", Service: "sshd"}},
		{`just words [not a log] "x" 200`, ParserText, map[string]any{"message": `just words [not a log] "x" 200`}, event.LogSource{}},
	}
	for _, c := range cases {
		var ev event.Event
		if got := FromLine([]byte(c.line), nil, &ev); got != c.parser {
			t.Errorf("%q: parser %q, want %q", c.line, got, c.parser)
			continue
		}
		for k, v := range c.want {
			if ev.Fields[k] != v {
				t.Errorf("%q: %s = %#v, want %#v", c.line, k, ev.Fields[k], v)
			}
		}
		if ev.LogSource != c.ls {
			t.Errorf("%q: logsource %+v, want %+v", c.line, ev.LogSource, c.ls)
		}
	}
}
