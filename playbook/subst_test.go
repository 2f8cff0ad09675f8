package playbook

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/internal/corpus"
	"github.com/riposte-soar/riposte/internal/testenv"
)

func TestFindRefsLongestMatch(t *testing.T) {
	declared := map[string]bool{"__x__": true, "__y__x__": true}
	refs, undeclared := FindRefs("a __y__x__:value b __x__:value c __z__:value", declared)
	if len(refs) != 2 || refs[0].Name != "__y__x__" || refs[1].Name != "__x__" {
		t.Fatalf("refs = %+v", refs)
	}
	if len(undeclared) != 1 || undeclared[0].Name != "__z__" {
		t.Fatalf("undeclared = %+v", undeclared)
	}
	// Only __x__ declared: the tail of __y__x__:value is __x__, and the text
	// before it is literal.
	refs, undeclared = FindRefs("__y__x__:value", map[string]bool{"__x__": true})
	if len(refs) != 1 || refs[0].Name != "__x__" || refs[0].Start != 3 || len(undeclared) != 0 {
		t.Fatalf("refs = %+v, undeclared = %+v", refs, undeclared)
	}
}

func TestSubstitute(t *testing.T) {
	scope := Scope{"__host__": "ws-042", "__n__": int64(3), "__d__": map[string]any{"a": "b"}}
	got, err := Substitute("host=__host__:value n=__n__:value d=__d__:value", scope, Raw)
	if err != nil || got != `host=ws-042 n=3 d={"a":"b"}` {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := Substitute("x=__nope__:value", scope, Raw); err == nil || !strings.Contains(err.Error(), "undefined variable __nope__") {
		t.Fatalf("undefined variable not refused: %v", err)
	}
	if _, err := Substitute("x=__unset__:value", Scope{"__unset__": nil}, Raw); err == nil {
		t.Fatal("unset variable substituted")
	}
	b64 := base64.StdEncoding.EncodeToString([]byte("ping __host__:value"))
	out, err := SubstituteB64(b64, scope, ShellQuote)
	dec, _ := base64.StdEncoding.DecodeString(out)
	if err != nil || string(dec) != "ping 'ws-042'" {
		t.Fatalf("%q %v", dec, err)
	}
}

func TestSubstituteArgsKeepsData(t *testing.T) {
	evil := "1.2.3.4; rm -rf / #"
	scope := Scope{"__ip__": evil, "__hosts__": []any{"a", "b"}, "__n__": int64(5)}
	args := map[string]any{
		"ip":    "__ip__:value",
		"hosts": "__hosts__:value",
		"n":     "__n__:value",
		"note":  "blocked __ip__:value",
		"deep":  map[string]any{"list": []any{"__ip__:value"}},
	}
	got, err := SubstituteArgs(args, scope)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"ip":    evil,
		"hosts": []any{"a", "b"},
		"n":     int64(5),
		"note":  "blocked " + evil,
		"deep":  map[string]any{"list": []any{evil}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	argv, err := SubstituteArgv([]string{"iptables", "-s", "__ip__:value", "-j", "DROP"}, scope)
	if err != nil || len(argv) != 5 || argv[2] != evil {
		t.Fatalf("argv %q %v", argv, err)
	}
}

// SOARCA's invalid_email_playbook carries a contact e-mail with a backtick
// command. Substituted into a shell command it stays one inert word.
func TestShellQuotingIsInert(t *testing.T) {
	value := "banana@business.com;`shh hack`$(touch pwned)'\"\n"
	if dir := corpusDirOrEmpty(); dir != "" {
		data, err := os.ReadFile(filepath.Join(dir, "soarca", "test", "playbooks", "invalid_email_playbook.json"))
		if err == nil {
			p, _ := ParseCACAO(data, Lenient(nil))
			a := p.Agents["individual--6b23a237-ade8-4d00-9aa1-75999732d557"]
			if a == nil || !strings.Contains(string(a.Contact), "shh hack") {
				t.Fatalf("contact not read: %+v", a)
			}
		}
	}
	cmd, err := Substitute("printf '%s' __email__:value", Scope{"__email__": value}, ShellQuote)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Command(t, "sh", "dash or another POSIX shell")
	dir := t.TempDir()
	c := exec.Command("sh", "-c", cmd)
	c.Dir = dir
	out, err := c.Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != value {
		t.Fatalf("shell saw %q, want %q", out, value)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("the value was executed")
	}
	if got := PowerShellQuote("a'b"); got != "'a''b'" {
		t.Fatalf("PowerShellQuote = %q", got)
	}
	if got := JSONStringEscape("a\"b\n"); got != `a\"b\n` {
		t.Fatalf("JSONStringEscape = %q", got)
	}
}

// corpusDirOrEmpty is the CACAO corpus, or "" where it is absent: extra
// fuzz seeds, which the fuzz test runs without.
func corpusDirOrEmpty() string { return corpus.Optional("cacao") }

func TestValidateValue(t *testing.T) {
	good := map[string]any{"ipv4-addr": "10.0.0.1", "ipv6-addr": "::1", "md5-hash": strings.Repeat("a", 32), "sha256-hash": strings.Repeat("B", 64), "integer": "42", "bool": "true", "uuid": "6f1c2a3b-1d2e-4f5a-8b6c-7d8e9f0a1b2c", "dictionary": `{"a":1}`, "mac-addr": "00:11:22:33:44:55", "uri": "https://x.example"}
	for typ, v := range good {
		if err := ValidateValue(typ, v); err != nil {
			t.Errorf("%s %v: %v", typ, v, err)
		}
	}
	bad := map[string]any{"ipv4-addr": "::1", "ipv6-addr": "10.0.0.1", "md5-hash": "xyz", "sha256-hash": "ab", "integer": "4.2", "bool": "yes", "uuid": "nope", "dictionary": "[1]", "mac-addr": "zz", "uri": "no scheme"}
	for typ, v := range bad {
		if err := ValidateValue(typ, v); err == nil {
			t.Errorf("%s %v accepted", typ, v)
		}
	}
}
