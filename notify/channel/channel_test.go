package channel

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestErrorClasses(t *testing.T) {
	base := errors.New("x")
	if IsPermanent(base) || IsPermanent(Transient(base, time.Second)) || !IsPermanent(Permanent(base)) {
		t.Error("classes")
	}
	if ra, ok := RetryAfter(Transient(base, time.Second)); !ok || ra != time.Second {
		t.Error("retry after")
	}
	if !errors.Is(Permanent(base), base) || Permanent(nil) != nil || Transient(nil, 0) != nil {
		t.Error("wrapping")
	}
}

func TestRedactAndResolve(t *testing.T) {
	if got := RedactURL("https://user:pw@hooks.example:8443/services/T/B/SECRET?x=SECRET"); got != "https://hooks.example:8443" {
		t.Errorf("redact: %s", got)
	}
	t.Setenv("HOOK", "not a url SECRET")
	_, err := HookConfig{URLEnv: "HOOK"}.Resolve()
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "url_env") {
		t.Errorf("resolve: %v", err)
	}
}

func TestSanitize(t *testing.T) {
	if got := Sanitize("a\r\nb\x1b[31mc\u202ed\te\u2028f", true); got != "a b[31mcd\te f" {
		t.Errorf("%q", got)
	}
	if got := Sanitize("a\r\nb\rc", false); got != "a\nb\nc" {
		t.Errorf("%q", got)
	}
}

func TestTemplates(t *testing.T) {
	id := Escaper{Text: strings.ToUpper}
	r, err := Compile("t", `{{.Count}}|{{.Breakdown}}|{{range .Messages}}{{event .Event}}:{{.Incident.Title}};{{end}}`, id)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Render("c", Samples()[2])
	if err != nil {
		t.Fatal(err)
	}
	if out != "2|1×P2, 50 more collapsed|Summary:40 MORE INCIDENTS;New incident:SAMPLE INCIDENT;" {
		t.Errorf("%q", out)
	}
	// Data reaches the template escaped and is never parsed as a template.
	out, _ = r.Render("c", []Message{{Event: "odd{{.}}", Incident: Incident{Title: "{{.Count}}"}}})
	if out != "1|1×unprioritized|ODD{{.}}:{{.COUNT}};" {
		t.Errorf("%q", out)
	}
	if _, err := Compile("t", `{{range .Messages}}{{.Nope}}{{end}}`, id); err == nil {
		t.Error("bad field accepted")
	}
	big, err := Compile("t", `{{range .Messages}}{{.Incident.Title}}{{end}}`, Escaper{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := big.Render("c", []Message{{Incident: Incident{Title: strings.Repeat("x", MaxOutput+1)}}}); !IsPermanent(err) {
		t.Errorf("oversized output: %v", err)
	}
}
