package normalize

import (
	"testing"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/parse/syslog"
)

func benchJSON(b *testing.B, file, layout string) {
	obj := decodeFile(b, file)
	b.ReportAllocs()
	for b.Loop() {
		var ev event.Event
		if FromJSON(obj, &ev) != layout {
			b.Fatal("layout")
		}
	}
}

// BenchmarkFromJSONEvtx normalizes a Sysmon image-load event in evtx_dump
// layout (already decoded: decoding is the caller's cost).
func BenchmarkFromJSONEvtx(b *testing.B) { benchJSON(b, "evtx_sysmon7.json", LayoutEvtx) }

// BenchmarkFromJSONFlat normalizes an OTRF-style Security 4688 event.
func BenchmarkFromJSONFlat(b *testing.B) { benchJSON(b, "otrf_4688.json", LayoutWindowsFlat) }

func BenchmarkFromJSONWinlogbeat(b *testing.B) {
	benchJSON(b, "winlogbeat_sysmon1.json", LayoutWinlogbeat)
}

func BenchmarkFromLineSSHD(b *testing.B) {
	line := []byte("<38>Mar  5 10:00:02 bastion sshd[1201]: Failed password for invalid user admin from 203.0.113.5 port 52150 ssh2")
	msg, err := syslog.Parse(line, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var ev event.Event
		if FromLine(line, &msg, &ev) != ParserSSHD {
			b.Fatal("parser")
		}
	}
}
