package openc2

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/internal/corpus"
)

func TestCommandErrors(t *testing.T) {
	cases := []struct {
		name, in, want string // want "" = valid
	}{
		{"deny ipv4", `{"action":"deny","target":{"ipv4_net":"203.0.113.7/32"},"args":{"response_requested":"complete","duration":3600000,"slpf":{"direction":"both","drop_process":"none","insert_rule":70011}}}`, ""},
		{"bad cidr", `{"action":"deny","target":{"ipv4_net":"10.0.0.300/24"}}`, `openc2: target.ipv4_net: "10.0.0.300/24" is not an IPv4 CIDR`},
		{"v6 in v4", `{"action":"deny","target":{"ipv4_net":"::1"}}`, `is not an IPv4 CIDR`},
		{"zone", `{"action":"deny","target":{"ipv6_net":"fe80::1%eth0"}}`, `is not an IPv6 CIDR`},
		{"prefix leading zero", `{"action":"deny","target":{"ipv4_net":"10.0.0.0/08"}}`, `is not an IPv4 CIDR`},
		{"slpf deny file", `{"action":"deny","target":{"file":{"name":"x"}},"actuator":{"slpf":{}}}`, `openc2: action "deny" is not valid with target "file" in profile slpf`},
		{"er contain device", `{"action":"contain","target":{"device":{"hostname":"ws-042"}},"args":{"er":{"device_containment":"network_isolation","permitted_addresses":{"ipv4_net":["192.0.2.10/32"]}}}}`, ""},
		{"er misspelling accepted", `{"action":"contain","target":{"device":{"hostname":"ws-042"}},"args":{"er":{"device_contaionment":"network_isolation"}}}`, ""},
		{"er permitted bad", `{"action":"contain","target":{"device":{"hostname":"ws-042"}},"args":{"er":{"device_containment":"network_isolation","permitted_addresses":{"ipv4_net":["192.0.2.10/33"]}}}}`, `args.er.permitted_addresses.ipv4_net[0]: "192.0.2.10/33" is not an IPv4 CIDR`},
		{"er permitted w/o isolation", `{"action":"contain","target":{"device":{"hostname":"ws-042"}},"args":{"er":{"device_containment":"disable_nic","permitted_addresses":{"ipv4_net":["192.0.2.10"]}}}}`, `requires device_containment "network_isolation"`},
		{"er account", `{"action":"set","target":{"er:account":{"uid":"1001"}},"args":{"er":{"account_status":"disabled"}}}`, ""},
		{"er account on stop", `{"action":"stop","target":{"er:account":{"uid":"1001"}}}`, `action "stop" is not valid with target "er:account" in profile er`},
		{"er service unknown field", `{"action":"stop","target":{"er:service":{"nom":"x"}}}`, `target.er:service.nom: unknown property`},
		{"stop process", `{"action":"stop","target":{"process":{"pid":4242,"executable":{"hashes":{"sha256":"5c2d6daaf85a710605678f8e7ef0b725b33303f3234197b9dc4b46196734a4f0"}}}},"actuator":{"er":{"hostname":"ws-042"}}}`, ""},
		{"pid negative", `{"action":"stop","target":{"process":{"pid":-1}}}`, `target.process.pid: -1 is out of range`},
		{"hash length", `{"action":"deny","target":{"file":{"hashes":{"md5":"abc"}}}}`, `target.file.hashes.md5: "abc" is not a md5 hash`},
		{"uppercase hash", `{"action":"deny","target":{"file":{"hashes":{"md5":"0313FD399B143FC40CD52A1679018305"}}}}`, ""},
		{"file unknown", `{"action":"deny","target":{"file":{"size":3}}}`, `target.file.size: unknown property`},
		{"conn", `{"action":"deny","target":{"ipv6_connection":{"src_addr":"2001:db8::/32","dst_port":443,"protocol":"tcp"}},"actuator":{"slpf":{"hostname":"fw1"}}}`, ""},
		{"conn port", `{"action":"deny","target":{"ipv4_connection":{"dst_port":70000}}}`, `target.ipv4_connection.dst_port: 70000 is out of range`},
		{"conn proto", `{"action":"deny","target":{"ipv4_connection":{"protocol":"gre"}}}`, `target.ipv4_connection.protocol: "gre" is not one of`},
		{"conn icmp port", `{"action":"deny","target":{"ipv4_connection":{"protocol":"icmp","dst_port":1}}}`, `ports are not valid with protocol icmp`},
		{"conn empty", `{"action":"deny","target":{"ipv4_connection":{}}}`, `must have at least one property`},
		{"domain", `{"action":"deny","target":{"domain_name":"evil.example.com"}}`, ""},
		{"domain bad", `{"action":"deny","target":{"domain_name":"evil..example"}}`, `target.domain_name: "evil..example" is not a valid hostname`},
		{"email", `{"action":"deny","target":{"email_addr":"a@b.example"}}`, ""},
		{"device empty", `{"action":"contain","target":{"device":{}}}`, `target.device: must have at least one property`},
		{"mac", `{"action":"deny","target":{"mac_addr":"8c:85:90:72:31"}}`, `is not a MAC address`},
		{"three times", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"},"args":{"start_time":1,"stop_time":2,"duration":1}}`, `at most two of start_time, stop_time and duration`},
		{"start after stop", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"},"args":{"start_time":5,"stop_time":2}}`, `start_time 5 is after stop_time 2`},
		{"rr value", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"},"args":{"response_requested":"maybe"}}`, `args.response_requested: "maybe" is not one of none, ack, status, complete`},
		{"drop_process on allow", `{"action":"allow","target":{"ipv4_net":"1.2.3.4"},"args":{"slpf":{"drop_process":"none"}}}`, `args.slpf.drop_process: argument not valid with action "allow" in profile slpf`},
		{"direction value", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"},"args":{"slpf":{"direction":"up"}}}`, `args.slpf.direction: "up" is not one of both, ingress, egress`},
		{"persistent type", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"},"args":{"slpf":{"persistent":"yes"}}}`, `args.slpf.persistent: must be a boolean`},
		{"insert_rule needs complete", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"},"args":{"response_requested":"ack","slpf":{"insert_rule":5}}}`, `args.slpf.insert_rule: requires response_requested "complete"`},
		{"slpf unknown arg", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"},"args":{"slpf":{"log":true}}}`, `args.slpf.log: unknown property`},
		{"slpf stop_time on delete", `{"action":"delete","target":{"slpf:rule_number":3},"args":{"stop_time":5}}`, `args.stop_time: argument not valid with action "delete" in profile slpf`},
		{"mixed profiles", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"},"args":{"er":{"periodic_scan":"enabled"}},"actuator":{"slpf":{}}}`, `mixes profiles`},
		{"query features args", `{"action":"query","target":{"features":[]},"args":{"duration":5}}`, `args.duration: query features accepts only response_requested`},
		{"query features rr", `{"action":"query","target":{"features":[]},"args":{"response_requested":"complete"}}`, ""},
		{"command_id long", `{"action":"cancel","target":{"command":"x"},"command_id":"0123456789012345678901234567890123456"}`, `command_id: "0123456789012345678901234567890123456" must be at most 36`},
		{"duplicate key", `{"action":"deny","action":"allow","target":{"ipv4_net":"1.2.3.4"}}`, `openc2: action: duplicate key`},
		{"trailing", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"}} {}`, `trailing data`},
		{"unknown nsid", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"},"args":{"acme":{}}}`, `unknown namespace "acme"`},
		{"unsupported profile", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"},"actuator":{"sfpf":{}}}`, `profile "sfpf" is not supported`},
		{"ext bad caps", `{"action":"query","target":{"features":[]},"args":{"x-0123456789_ABCDEFG_abcdefg___":{}}}`, `must match x-`},
		{"ext long", `{"action":"start","target":{"x-the_judicial_power_of_the_united_states:c":{}}}`, `must match x-`},
		{"ls2 profile+comment", `{"action":"deny","target":{"ipv4_net":"1.2.3.4"},"profile":"slpf","args":{"comment":"hi"}}`, ""},
		{"artifact", `{"action":"detonate","target":{"artifact":{"mime_type":"application/pdf","payload":{"bin":"aGVsbG8"}}}}`, ""},
		{"artifact two payloads", `{"action":"detonate","target":{"artifact":{"payload":{"bin":"aGVsbG8","url":"https://x.example/"}}}}`, `exactly one of bin, url`},
	}
	for _, c := range cases {
		err := ValidateCommand([]byte(c.in))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", c.name, err)
		case c.want != "" && err == nil:
			t.Errorf("%s: accepted, want error containing %q", c.name, c.want)
		case c.want != "" && !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: error %q, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestResponseErrors(t *testing.T) {
	cases := []struct {
		c        Component
		in, want string
	}{
		{ComponentRiposte, `{"status":200,"results":{"slpf":{"rule_number":70011}}}`, ""},
		{ComponentRiposte, `{"status":501,"status_text":"Rule number currently in use","results":{"x-riposte":{"rule_number":70011,"request_id":"r","fingerprint":"f"}}}`, ""},
		{ComponentRiposte, `{"status":102}`, ""},
		{ComponentRiposte, `{"status":200.5}`, `status: 200.5 is not an integer`},
		{ComponentRiposte, `{"status":201}`, `status: 201 is not a supported status code`},
		{ComponentRiposte, `{"status":200,"results":{"rate_limit":-1}}`, `results.rate_limit: must be a non-negative number`},
		{ComponentRiposte, `{"status":200,"results":{"slpf":{"rule":1}}}`, `results.slpf.rule: unknown property`},
		{ComponentRiposte, `{"status":200,"results":{"pairs":{"contain":["device"],"delete":["slpf:rule_number"]}}}`, ""},
		{ComponentRiposte, `{"status":200,"results":{"pairs":{"deny":["file"],"bogus":["file"]}}}`, `results.pairs.bogus: unknown action "bogus"`},
		{ComponentSLPF11, `{"status":200,"results":{"pairs":{"delete":["slpf:rule_number"]}}}`, `SLPF 1.1 writes profile targets nsid/name`},
		{ComponentSLPF, `{"status":200,"results":{"pairs":{"delete":["slpf/rule_number"]}}}`, `written nsid:name`},
	}
	for i, c := range cases {
		err := ValidateResponseFor(c.c, []byte(c.in))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("#%d: unexpected error %v", i, err)
		case c.want != "" && err == nil:
			t.Errorf("#%d: accepted, want error containing %q", i, c.want)
		case c.want != "" && !strings.Contains(err.Error(), c.want):
			t.Errorf("#%d: error %q, want it to contain %q", i, err, c.want)
		}
	}
}

// TestRoundTrip decodes, encodes and decodes again every good corpus vector.
func TestRoundTrip(t *testing.T) {
	corpusRoot := corpus.Dir(t, "openc2")
	n := 0
	filepath.WalkDir(corpusRoot, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(corpusRoot, p)
		dir := strings.ToLower(filepath.Dir(rel))
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") ||
			!(strings.HasSuffix(dir, "/good") || strings.Contains(dir, "/good-")) {
			return err
		}
		comp, _ := componentFor(rel)
		data, _ := os.ReadFile(p)
		var v1 any
		var enc func(any) ([]byte, error) = json.Marshal
		if strings.Contains(dir, "response") {
			r, err := DecodeResponse(comp, data)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				return nil
			}
			v1 = r
		} else {
			c, err := DecodeCommand(comp, data)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				return nil
			}
			v1 = c
		}
		b1, err := enc(v1)
		if err != nil {
			t.Errorf("%s: encode: %v", rel, err)
			return nil
		}
		var b2 []byte
		if strings.Contains(dir, "response") {
			r, err := DecodeResponse(comp, b1)
			if err != nil {
				t.Errorf("%s: re-decode: %v\n%s", rel, err, b1)
				return nil
			}
			b2, _ = enc(r)
		} else {
			c, err := DecodeCommand(comp, b1)
			if err != nil {
				t.Errorf("%s: re-decode: %v\n%s", rel, err, b1)
				return nil
			}
			b2, _ = enc(c)
		}
		if string(b1) != string(b2) {
			t.Errorf("%s: round trip differs:\n%s\n%s", rel, b1, b2)
		}
		n++
		return nil
	})
	t.Logf("round-tripped %d good vectors", n)
}

func FuzzValidateCommand(f *testing.F) {
	for _, s := range []string{
		`{"action":"deny","target":{"ipv4_net":"203.0.113.7/32"},"args":{"response_requested":"complete","duration":3600000,"slpf":{"direction":"both","drop_process":"none","insert_rule":70011}}}`,
		`{"action":"contain","target":{"device":{"hostname":"ws-042"}},"args":{"er":{"device_containment":"network_isolation","permitted_addresses":{"ipv4_net":["192.0.2.10/32"]}}}}`,
		`{"action":"stop","target":{"process":{"pid":1,"parent":{"pid":2,"executable":{"path":"/bin/sh"}}}}}`,
		`{"status":200.0,"results":{"pairs":{"deny":["slpf/rule_number"]}}}`,
		`[[[[[[[[[[[[]]]]]]]]]]]]`, `{"action":1e400}`, `"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []Component{ComponentRiposte, ComponentLanguage, ComponentSLPF, ComponentSLPF11, ComponentER} {
			if ValidateCommandFor(c, data) == nil {
				if _, err := DecodeCommand(c, data); err != nil {
					t.Fatalf("valid command does not decode: %v", err)
				}
			}
			if ValidateResponseFor(c, data) == nil {
				if _, err := DecodeResponse(c, data); err != nil {
					t.Fatalf("valid response does not decode: %v", err)
				}
			}
		}
	})
}
