package syslog

import (
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testNow is the receive time the table tests run at; 3164 years come from it.
var testNow = time.Date(2024, 10, 5, 12, 0, 0, 0, time.UTC)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func sameMessage(t *testing.T, got, want Message) {
	t.Helper()
	if !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("Timestamp = %v, want %v", got.Timestamp, want.Timestamp)
	} else if !want.Timestamp.IsZero() {
		_, go1 := got.Timestamp.Zone()
		_, wo := want.Timestamp.Zone()
		if go1 != wo {
			t.Errorf("Timestamp offset = %d, want %d", go1, wo)
		}
	}
	got.Timestamp, want.Timestamp = time.Time{}, time.Time{}
	if !maps.EqualFunc(got.StructuredData, want.StructuredData, maps.Equal) ||
		(got.StructuredData == nil) != (want.StructuredData == nil) {
		t.Errorf("StructuredData = %#v, want %#v", got.StructuredData, want.StructuredData)
	}
	got.StructuredData, want.StructuredData = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

var parseTests = []struct {
	name string
	in   string
	want Message
}{
	// RFC 5424 section 6.5 examples.
	{
		name: "5424 example 1 BOM",
		in:   "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
		want: Message{Format: "rfc5424", Facility: 4, Severity: 2, Timestamp: ts("2003-10-11T22:14:15.003Z"),
			Hostname: "mymachine.example.com", AppName: "su", MsgID: "ID47",
			Message: "'su root' failed for lonvick on /dev/pts/8"},
	},
	{
		name: "5424 example 2 offset and microseconds",
		in:   "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
		want: Message{Format: "rfc5424", Facility: 20, Severity: 5, Timestamp: ts("2003-08-24T05:14:15.000003-07:00"),
			Hostname: "192.0.2.1", AppName: "myproc", ProcID: "8710",
			Message: "%% It's time to make the do-nuts."},
	},
	{
		name: "5424 example 3 structured data and BOM",
		in:   `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ` + "\xEF\xBB\xBF" + `An application event log entry...`,
		want: Message{Format: "rfc5424", Facility: 20, Severity: 5, Timestamp: ts("2003-10-11T22:14:15.003Z"),
			Hostname: "mymachine.example.com", AppName: "evntslog", MsgID: "ID47",
			StructuredData: map[string]map[string]string{
				"exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"}},
			Message: "An application event log entry..."},
	},
	{
		name: "5424 example 4 two SD elements no MSG",
		in:   `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
		want: Message{Format: "rfc5424", Facility: 20, Severity: 5, Timestamp: ts("2003-10-11T22:14:15.003Z"),
			Hostname: "mymachine.example.com", AppName: "evntslog", MsgID: "ID47",
			StructuredData: map[string]map[string]string{
				"exampleSDID@32473":     {"iut": "3", "eventSource": "Application", "eventID": "1011"},
				"examplePriority@32473": {"class": "high"}},
		},
	},
	{
		name: "5424 SD escapes",
		in:   `<13>1 - host app - - [ex@1 q="say \"hi\"" b="C:\\temp" r="a\]b" o="keep\n" u="x]y"][meta] msg`,
		want: Message{Format: "rfc5424", Facility: 1, Severity: 5, Hostname: "host", AppName: "app",
			StructuredData: map[string]map[string]string{
				"ex@1": {"q": `say "hi"`, "b": `C:\temp`, "r": "a]b", "o": `keep\n`, "u": "x]y"},
				"meta": {}},
			Message: "msg"},
	},
	{
		name: "5424 all nil trailing newline",
		in:   "<0>1 - - - - - -\n",
		want: Message{Format: "rfc5424", Facility: 0, Severity: 0},
	},
	{
		name: "5424 sshd via rsyslog with pid and nanoseconds",
		in:   "<38>1 2024-10-03T09:15:02.123456789+02:00 bastion sshd 51234 - - Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2",
		want: Message{Format: "rfc5424", Facility: 4, Severity: 6, Timestamp: ts("2024-10-03T09:15:02.123456789+02:00"),
			Hostname: "bastion", AppName: "sshd", ProcID: "51234",
			Message: "Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2"},
	},
	{
		name: "5424 lenient missing SD",
		in:   "<14>1 2024-10-03T09:15:02Z web01 nginx 77 - upstream timed out",
		want: Message{Format: "rfc5424", Facility: 1, Severity: 6, Timestamp: ts("2024-10-03T09:15:02Z"),
			Hostname: "web01", AppName: "nginx", ProcID: "77", Message: "upstream timed out"},
	},
	{
		name: "5424 lenient header ends after MSGID",
		in:   "<14>1 2024-10-03T09:15:02+05:30 h a p m",
		want: Message{Format: "rfc5424", Facility: 1, Severity: 6, Timestamp: ts("2024-10-03T09:15:02+05:30"),
			Hostname: "h", AppName: "a", ProcID: "p", MsgID: "m"},
	},

	// RFC 3164 section 5.4 examples and real senders.
	{
		name: "3164 example su",
		in:   "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
		want: Message{Format: "rfc3164", Facility: 4, Severity: 2, Timestamp: ts("2023-10-11T22:14:15Z"), // Oct 11 is after testNow: last year
			Hostname: "mymachine", AppName: "su", Message: "'su root' failed for lonvick on /dev/pts/8"},
	},
	{
		name: "3164 example no tag",
		in:   "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
		want: Message{Format: "rfc3164", Facility: 1, Severity: 5, Timestamp: ts("2024-02-05T17:32:18Z"),
			Hostname: "10.0.0.99", Message: "Use the BFG!"},
	},
	{
		name: "3164 example no timestamp is all MSG",
		in:   "<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!",
		want: Message{Format: "rfc3164", Facility: 0, Severity: 0,
			Message: "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!"},
	},
	{
		name: "sshd failed password",
		in:   "<38>Oct  3 09:15:02 bastion sshd[51234]: Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2",
		want: Message{Format: "rfc3164", Facility: 4, Severity: 6, Timestamp: ts("2024-10-03T09:15:02Z"),
			Hostname: "bastion", AppName: "sshd", ProcID: "51234",
			Message: "Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2"},
	},
	{
		name: "sshd from auth.log without PRI",
		in:   "Oct  3 09:15:02 bastion sshd[51234]: Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2\n",
		want: Message{Format: "rfc3164", Facility: -1, Severity: -1, Timestamp: ts("2024-10-03T09:15:02Z"),
			Hostname: "bastion", AppName: "sshd", ProcID: "51234",
			Message: "Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2"},
	},
	{
		name: "sshd via /dev/log without hostname",
		in:   "<38>Oct  3 09:15:02 sshd[51234]: Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2",
		want: Message{Format: "rfc3164", Facility: 4, Severity: 6, Timestamp: ts("2024-10-03T09:15:02Z"),
			AppName: "sshd", ProcID: "51234",
			Message: "Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2"},
	},
	{
		name: "sshd no hostname message with colon word",
		in:   "<35>Oct 03 09:15:02 sshd[9]: error: maximum authentication attempts exceeded for root from 203.0.113.7 port 4242 ssh2 [preauth]",
		want: Message{Format: "rfc3164", Facility: 4, Severity: 3, Timestamp: ts("2024-10-03T09:15:02Z"),
			AppName: "sshd", ProcID: "9",
			Message: "error: maximum authentication attempts exceeded for root from 203.0.113.7 port 4242 ssh2 [preauth]"},
	},
	{
		name: "sudo",
		in:   "<85>Oct  3 09:16:40 web01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
		want: Message{Format: "rfc3164", Facility: 10, Severity: 5, Timestamp: ts("2024-10-03T09:16:40Z"),
			Hostname: "web01", AppName: "sudo",
			Message: "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"},
	},
	{
		name: "auditd via audisp-syslog",
		in:   `<29>Oct  3 09:15:03 db01 audispd: node=db01 type=USER_LOGIN msg=audit(1696324503.123:4567): pid=2345 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct="admin" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.7 terminal=ssh res=failed'`,
		want: Message{Format: "rfc3164", Facility: 3, Severity: 5, Timestamp: ts("2024-10-03T09:15:03Z"),
			Hostname: "db01", AppName: "audispd",
			Message: `node=db01 type=USER_LOGIN msg=audit(1696324503.123:4567): pid=2345 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct="admin" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.7 terminal=ssh res=failed'`},
	},
	{
		name: "kernel audit apparmor",
		in:   `<4>Oct  3 09:15:04 db01 kernel: [12345.678901] audit: type=1400 audit(1696324504.001:88): apparmor="DENIED" operation="open" profile="/usr/sbin/mysqld" name="/etc/shadow" pid=812 comm="mysqld"`,
		want: Message{Format: "rfc3164", Facility: 0, Severity: 4, Timestamp: ts("2024-10-03T09:15:04Z"),
			Hostname: "db01", AppName: "kernel",
			Message: `[12345.678901] audit: type=1400 audit(1696324504.001:88): apparmor="DENIED" operation="open" profile="/usr/sbin/mysqld" name="/etc/shadow" pid=812 comm="mysqld"`},
	},
	{
		name: "cron tag without colon",
		in:   "<78>Oct  3 09:17:01 web01 CRON[4242] (root) CMD (cd / && run-parts --report /etc/cron.hourly)",
		want: Message{Format: "rfc3164", Facility: 9, Severity: 6, Timestamp: ts("2024-10-03T09:17:01Z"),
			Hostname: "web01", AppName: "CRON", ProcID: "4242",
			Message: "(root) CMD (cd / && run-parts --report /etc/cron.hourly)"},
	},
	{
		name: "postfix tag with slash",
		in:   "<22>Oct  3 09:18:00 mx1 postfix/smtpd[1188]: NOQUEUE: reject: RCPT from unknown[198.51.100.9]: 554 5.7.1 Relay access denied",
		want: Message{Format: "rfc3164", Facility: 2, Severity: 6, Timestamp: ts("2024-10-03T09:18:00Z"),
			Hostname: "mx1", AppName: "postfix/smtpd", ProcID: "1188",
			Message: "NOQUEUE: reject: RCPT from unknown[198.51.100.9]: 554 5.7.1 Relay access denied"},
	},
	{
		name: "rsyslog ISO timestamp",
		in:   "<38>2024-10-03T09:15:02.123456+02:00 bastion sshd[51234]: Accepted publickey for deploy from 198.51.100.4 port 40022 ssh2: ED25519 SHA256:abc",
		want: Message{Format: "rfc3164", Facility: 4, Severity: 6, Timestamp: ts("2024-10-03T09:15:02.123456+02:00"),
			Hostname: "bastion", AppName: "sshd", ProcID: "51234",
			Message: "Accepted publickey for deploy from 198.51.100.4 port 40022 ssh2: ED25519 SHA256:abc"},
	},
	{
		name: "ISO timestamp without zone takes now's zone",
		in:   "2024-10-03T09:15:02 bastion systemd-logind[700]: New session 42 of user deploy.",
		want: Message{Format: "rfc3164", Facility: -1, Severity: -1, Timestamp: ts("2024-10-03T09:15:02Z"),
			Hostname: "bastion", AppName: "systemd-logind", ProcID: "700", Message: "New session 42 of user deploy."},
	},
	{
		name: "unpadded day, fraction and IPv6 host",
		in:   "<190>Oct 3 09:15:02.250 2001:db8::7 firewall: DROP IN=eth0 SRC=203.0.113.7",
		want: Message{Format: "rfc3164", Facility: 23, Severity: 6, Timestamp: ts("2024-10-03T09:15:02.25Z"),
			Hostname: "2001:db8::7", AppName: "firewall", Message: "DROP IN=eth0 SRC=203.0.113.7"},
	},
	{
		name: "year in timestamp",
		in:   "<189>Dec 31 2023 23:59:59 core-sw1 %SYS-5-CONFIG_I: Configured from console",
		want: Message{Format: "rfc3164", Facility: 23, Severity: 5, Timestamp: ts("2023-12-31T23:59:59Z"),
			Hostname: "core-sw1", Message: "%SYS-5-CONFIG_I: Configured from console"},
	},
	{
		name: "impossible date keeps structure",
		in:   "<13>Feb 30 10:00:00 host app: text",
		want: Message{Format: "rfc3164", Facility: 1, Severity: 5, Hostname: "host", AppName: "app", Message: "text"},
	},
	{
		name: "PRI only",
		in:   "<13>",
		want: Message{Format: "rfc3164", Facility: 1, Severity: 5},
	},
	{
		name: "plain text without header",
		in:   "hello world",
		want: Message{Format: "rfc3164", Facility: -1, Severity: -1, Message: "hello world"},
	},
	{
		name: "no timestamp but host and tag",
		in:   "<13>gw01 dhcpd[3]: DHCPACK on 10.0.0.5",
		want: Message{Format: "rfc3164", Facility: 1, Severity: 5, Hostname: "gw01", AppName: "dhcpd", ProcID: "3", Message: "DHCPACK on 10.0.0.5"},
	},
	{
		name: "number after PRI is not a version",
		in:   "<13>42 apples",
		want: Message{Format: "rfc3164", Facility: 1, Severity: 5, Message: "42 apples"},
	},
	{
		name: "3164 BOM stripped",
		in:   "<13>Oct  3 09:15:02 host app: \xEF\xBB\xBFtext",
		want: Message{Format: "rfc3164", Facility: 1, Severity: 5, Timestamp: ts("2024-10-03T09:15:02Z"),
			Hostname: "host", AppName: "app", Message: "text"},
	},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in), testNow)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			sameMessage(t, got, tt.want)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "syslog: empty message"},
		{"\r\n\x00", "syslog: empty message"},
		{"<999>1 - - - - - -", "syslog: PRI value 999 out of range (0-191)"},
		{"<192>Oct  3 09:15:02 host app: x", "syslog: PRI value 192 out of range (0-191)"},
		{"<1234567>x", `syslog: PRI value 12345... out of range (0-191)`},
		{"<13", `syslog: unterminated PRI "<13": missing '>'`},
		{"<>x", `syslog: empty PRI "<>"`},
		{"<x>", `syslog: invalid PRI: expected a number after '<', found 'x'`},
		{"<13x", `syslog: invalid PRI: expected '>' after "<13", found 'x'`},
		{"<13>2 2024-10-03T09:15:02Z h a p m - x", "syslog: unsupported version 2 (only 1 is defined)"},
		{"<13>1 2024-13-03T09:15:02Z h a p m - x", `syslog: rfc5424: invalid timestamp "2024-13-03T09:15:02Z"`},
		{"<13>1 2024-10-03T09:15:02 h a p m - x", `syslog: rfc5424: invalid timestamp "2024-10-03T09:15:02"`},
		{"<13>1 Oct 3 h a p m - x", `syslog: rfc5424: invalid timestamp "Oct"`},
		{"<13>1 2024-02-30T09:15:02Z h a p m - x", `syslog: rfc5424: invalid timestamp "2024-02-30T09:15:02Z"`},
		{"<13>1 - h", "syslog: rfc5424: missing APP-NAME"},
		{"<13>1 -  a p m", "syslog: rfc5424: missing HOSTNAME"},
		{"<13>1 - h a p m [id", `syslog: rfc5424: unterminated SD-ELEMENT "id"`},
		{"<13>1 - h a p m []", "syslog: rfc5424: empty SD-ID"},
		{`<13>1 - h a p m [id k=v]`, `syslog: rfc5424: value of SD-PARAM "k" in "id" is not quoted`},
		{`<13>1 - h a p m [id k="v]`, `syslog: rfc5424: unterminated value of SD-PARAM "k" in "id"`},
		{`<13>1 - h a p m [id k]`, `syslog: rfc5424: expected '=' after SD-PARAM "k" in "id", found ']'`},
		{`<13>1 - h a p m [id k="v"x]`, `syslog: rfc5424: unexpected 'x' in SD-ELEMENT "id"`},
		{`<13>1 - h a p m [id k="v"]x`, `syslog: rfc5424: expected a space after STRUCTURED-DATA, found 'x'`},
	}
	for _, tt := range tests {
		m, err := Parse([]byte(tt.in), testNow)
		if err == nil {
			t.Errorf("Parse(%q) = %+v, want error %q", tt.in, m, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q) error = %q, want %q", tt.in, err, tt.want)
		}
	}
}

func TestParseErrorIsBounded(t *testing.T) {
	in := "<13>1 " + strings.Repeat("9", 1<<16) + " h a p m - x"
	_, err := Parse([]byte(in), testNow)
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("error for a huge bad timestamp should be short, got %d bytes", len(err.Error()))
	}
}

func TestParse3164Year(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	tests := []struct {
		name string
		now  time.Time
		in   string
		want time.Time
	}{
		{"December line read in January is last year",
			time.Date(2025, 1, 1, 0, 30, 0, 0, time.UTC), "Dec 31 23:59:59 h app: x",
			time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"clock skew within a day stays this year",
			time.Date(2024, 10, 3, 12, 0, 0, 0, time.UTC), "Oct  4 11:00:00 h app: x",
			time.Date(2024, 10, 4, 11, 0, 0, 0, time.UTC)},
		{"zone comes from now",
			time.Date(2024, 10, 3, 12, 0, 0, 0, est), "Oct  3 09:00:00 h app: x",
			time.Date(2024, 10, 3, 9, 0, 0, 0, est)},
		{"Feb 29 read in January of the following year",
			time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC), "Feb 29 12:00:00 h app: x",
			time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)},
		{"Feb 29 in a non-leap year is unparseable",
			time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), "Feb 29 12:00:00 h app: x",
			time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.in), tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Timestamp.Equal(tt.want) || m.Timestamp.Location() != tt.want.Location() && !tt.want.IsZero() {
				t.Errorf("Timestamp = %v, want %v", m.Timestamp, tt.want)
			}
			if m.Hostname != "h" || m.AppName != "app" || m.Message != "x" {
				t.Errorf("got %+v", m)
			}
		})
	}
}

func TestParseDoesNotRetainInput(t *testing.T) {
	b := []byte("<13>Oct  3 09:15:02 host app[1]: text")
	m, err := Parse(b, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X' // the Reader reuses its buffer; fields must not alias it
	}
	if m.Hostname != "host" || m.AppName != "app" || m.ProcID != "1" || m.Message != "text" {
		t.Fatalf("fields changed with the input buffer: %+v", m)
	}
}

func BenchmarkParse5424(b *testing.B) {
	in := []byte(`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ` + "\xEF\xBB\xBF" + `An application event log entry...`)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse5424NoSD(b *testing.B) {
	in := []byte("<38>1 2024-10-03T09:15:02.123456+02:00 bastion sshd 51234 - - Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse3164(b *testing.B) {
	in := []byte("<38>Oct  3 09:15:02 bastion sshd[51234]: Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
