package jsonfast

import (
	"bytes"
	"encoding/json"
	"testing"
)

// winlogbeatEvent is a Sysmon process-creation event as winlogbeat ships
// it: nested objects, an escaped Windows path, numbers.
var winlogbeatEvent = []byte(`{"@timestamp":"2025-11-27T07:40:10.165Z","event":{"code":"1","provider":"Microsoft-Windows-Sysmon"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"record_id":571146,"computer_name":"WS-0142.corp.example","event_data":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c whoami /all","ParentImage":"C:\\Windows\\explorer.exe","ProcessId":"3544","User":"CORP\\alice","IntegrityLevel":"Medium"}}}`)

// ecsEvent is a flat ECS event: dotted keys, one level, mostly strings.
var ecsEvent = []byte(`{"@timestamp":"2025-11-27T07:40:10.165Z","event.kind":"event","event.category":"network","event.action":"connection_attempted","source.ip":"10.1.2.3","source.port":52114,"destination.ip":"203.0.113.7","destination.port":443,"network.transport":"tcp","host.name":"web-01","user.name":"svc_web","process.pid":4312}`)

var benchEvents = []struct {
	name string
	data []byte
}{
	{"winlogbeat", winlogbeatEvent},
	{"ecs", ecsEvent},
}

var sink any

func BenchmarkDecode(b *testing.B) {
	for _, e := range benchEvents {
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(e.data)))
			for b.Loop() {
				v, err := DecodeObject(e.data)
				if err != nil {
					b.Fatal(err)
				}
				sink = v
			}
		})
	}
}

// BenchmarkStdlib is the code jsonfast replaces on the ingest path.
func BenchmarkStdlib(b *testing.B) {
	for _, e := range benchEvents {
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(e.data)))
			for b.Loop() {
				dec := json.NewDecoder(bytes.NewReader(e.data))
				dec.UseNumber()
				var v any
				if err := dec.Decode(&v); err != nil {
					b.Fatal(err)
				}
				if _, ok := v.(map[string]any); !ok {
					b.Fatal("not an object")
				}
				sink = v
			}
		})
	}
}

func TestBenchEvents(t *testing.T) {
	for _, e := range benchEvents {
		checkSame(t, e.data)
		if _, err := DecodeObject(e.data); err != nil {
			t.Errorf("%s: %v", e.name, err)
		}
	}
}
