package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/event"
)

const ruleID = "0e0e7f1c-5d6a-4a59-8b4c-3f2e58a2f0a1"

// sigmaRule is a rule whose title a hostile author wrote.
func sigmaRule(needle string) string {
	return fmt.Sprintf(`title: <script>alert(1)</script>
id: %s
description: '"><img src=x onerror=alert(1)>'
logsource:
  product: linux
detection:
  sel:
    message|contains: '%s'
  condition: sel
level: medium
tags:
  - attack.t1105
`, ruleID, needle)
}

func TestRuleSaveDisableRollback(t *testing.T) {
	pr := newPBRig(t)
	ctx := context.Background()
	an := pr.as(auth.Analyst)
	viewer := pr.as(auth.Viewer)
	v1 := sigmaRule("wget http")
	// Refused: no CSRF token, a viewer.
	if res := an.postForm("/rules", url.Values{"body": {v1}, "reason": {"new"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("save without CSRF: %s", res.Status)
	}
	if res := viewer.post("/rules", url.Values{"body": {v1}, "reason": {"new"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("save as viewer: %s", res.Status)
	}
	if _, _, err := pr.rules.Get(ctx, ruleID); err == nil {
		t.Fatal("a refused save stored the rule")
	}
	if res := an.post("/rules", url.Values{"body": {v1}, "reason": {"new"}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/rules/"+ruleID {
		t.Fatalf("save: %s to %q", res.Status, res.Header.Get("Location"))
	}
	if res := an.post("/rules", url.Values{"body": {sigmaRule("curl https")}, "reason": {"curl too"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %s", res.Status)
	}
	hist, _ := pr.rules.History(ctx, ruleID)
	if len(hist) != 2 || hist[1].Author != "user:analyst1" || hist[1].Reason != "curl too" {
		t.Fatalf("history %+v", hist)
	}
	// A rule that does not load is refused with its line.
	bad := strings.Replace(v1, "condition: sel", "condition: nosuch", 1)
	if res := an.post("/rules", url.Values{"body": {bad}, "reason": {"x"}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("broken rule: %s", res.Status)
	}
	_, body := viewer.get("/rules/" + ruleID + "?from=1&to=2")
	assertEscaped(t, body)
	contains(t, body, "1 line(s) added, 1 removed", "Versions", "v2")
	if !regexp.MustCompile(`<tr class="d-add">.*added: </span>\+\s*message\|contains: &#39;curl https&#39;`).MatchString(body) {
		t.Error("the diff does not show the new needle added")
	}
	for _, b := range []string{"Disable the rule", "Roll back", "Run the backtest"} {
		if strings.Contains(body, b) {
			t.Errorf("a viewer sees %q", b)
		}
	}

	for name, post := range map[string]func(string, url.Values) *http.Response{"no CSRF": an.postForm, "viewer": viewer.post} {
		for _, path := range []string{"/disable", "/rollback"} {
			if res := post("/rules/"+ruleID+path, url.Values{"version": {"1"}, "reason": {"r"}}); res.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s: %s", name, path, res.Status)
			}
		}
	}
	if h, _, _ := pr.rules.Get(ctx, ruleID); !h.Enabled || h.Current != 2 {
		t.Fatalf("refused requests changed the rule: %+v", h)
	}
	if res := an.post("/rules/"+ruleID+"/disable", url.Values{}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("disable without a reason: %s", res.Status)
	}
	if res := an.post("/rules/"+ruleID+"/disable", url.Values{"reason": {"too noisy"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %s", res.Status)
	}
	if h, _, _ := pr.rules.Get(ctx, ruleID); h.Enabled {
		t.Fatal("still enabled")
	}
	if res := an.post("/rules/"+ruleID+"/enable", url.Values{"reason": {"tuned"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %s", res.Status)
	}
	if res := an.post("/rules/"+ruleID+"/rollback", url.Values{"version": {"1"}, "reason": {"curl was noise"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("rollback: %s", res.Status)
	}
	hist, _ = pr.rules.History(ctx, ruleID)
	if h, _, _ := pr.rules.Get(ctx, ruleID); !h.Enabled || h.Current != 3 || hist[2].Body != v1 || hist[2].Reason != "curl was noise" {
		t.Fatalf("after enable and rollback: %+v, %+v", h, hist[2])
	}
}

func TestRulesListHitsAndFalsePositives(t *testing.T) {
	pr := newPBRig(t)
	if _, err := pr.rules.Put(context.Background(), []byte(sigmaRule("wget http")), "test", "fixture"); err != nil {
		t.Fatal(err)
	}
	a := pr.raise(ruleID, "medium", "web-11", "198.51.100.1", t0)
	pr.raise(ruleID, "medium", "web-12", "198.51.100.2", t0.Add(time.Minute))
	c := pr.raise(ruleID, "medium", "web-13", "198.51.100.3", t0.Add(2*time.Minute))
	for id, v := range map[string]alarm.Verdict{a: alarm.VerdictFalsePositive, c: alarm.VerdictTruePositive} {
		if _, err := pr.alarm.Update(context.Background(), id, alarm.Change{Verdict: &v}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	res, body := pr.as(auth.Viewer).get("/rules")
	if res.StatusCode != 200 {
		t.Fatalf("rules: %s", res.Status)
	}
	assertEscapedTitle(t, body)
	row := regexp.MustCompile(`(?s)<tr data-rule="` + ruleID + `">.*?</tr>`).FindString(body)
	if row == "" {
		t.Fatal("no row for the rule")
	}
	contains(t, row, "level-medium", "attack.t1105", "<td>3</td>", `<span class="fp-rate">50%</span>`, "(1 of 2 judged)")
	_, body = pr.as(auth.Viewer).get("/rules?level=high")
	if strings.Contains(body, ruleID) {
		t.Error("the level filter keeps a medium rule")
	}
	_, body = pr.as(auth.Viewer).get("/rules/" + ruleID)
	contains(t, body, "3 alerts", `<span class="fp-rate">50%</span>`, "1 of 2 judged alerts")
}

// assertEscapedTitle: a list shows titles, not descriptions.
func assertEscapedTitle(t *testing.T, body string) {
	t.Helper()
	if strings.Contains(body, hostileScript) || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the rule's title is not shown as text")
	}
}

func TestRuleBacktestFromThePage(t *testing.T) {
	pr := newPBRig(t)
	ctx := context.Background()
	if _, err := pr.rules.Put(ctx, []byte(sigmaRule("wget http")), "test", "fixture"); err != nil {
		t.Fatal(err)
	}
	msg := event.NewMessage(0)
	var ids []string
	for i, line := range []string{"user ran curl http://a.example/x", "user ran curl https://b.example/y", "user ran wget http://c.example/z"} {
		ts := t0.Add(time.Duration(i) * time.Second)
		e := event.Event{ID: event.NewID(ts), Time: ts, Received: ts, Host: "web-20", Source: "syslog",
			LogSource: event.LogSource{Product: "linux"}, Fields: map[string]any{"message": line}, Raw: []byte(line)}
		ids = append(ids, e.ID)
		msg = event.AppendWire(msg, &e)
	}
	ws, err := event.DecodeMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.events.Insert(ctx, ws); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"body": {sigmaRule("curl https")}, "from": {t0.Add(-time.Hour).Format(formTime)}, "to": {t0.Add(time.Hour).Format(formTime)}}
	an := pr.as(auth.Analyst)
	res, body := an.htmx("/rules/backtest", form)
	if res.StatusCode != 200 {
		t.Fatalf("backtest: %s", res.Status)
	}
	contains(t, body, "3 events", "current <strong>1</strong>, edited <strong>1</strong>", "1 added", "1 removed")
	added := regexp.MustCompile(`<tr class="d-add"><td>added</td>.*?<code>([^<]+)</code>`).FindStringSubmatch(body)
	removed := regexp.MustCompile(`<tr class="d-del"><td>removed</td>.*?<code>([^<]+)</code>`).FindStringSubmatch(body)
	if added == nil || removed == nil || added[1] != ids[1] || removed[1] != ids[2] {
		t.Errorf("added %v, removed %v; want the https curl (%s) added and the wget (%s) removed", added, removed, ids[1], ids[2])
	}
	if h, _, _ := pr.rules.Get(ctx, ruleID); h.Current != 1 {
		t.Error("a backtest stored the rule")
	}
	// An analyst's tool, behind the CSRF token.
	if res, _ := pr.as(auth.Viewer).htmx("/rules/backtest", form); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer backtest: %s", res.Status)
	}
	if res := an.postForm("/rules/backtest", form); res.StatusCode != http.StatusForbidden {
		t.Errorf("backtest without CSRF: %s", res.Status)
	}
	// A bad window and a broken rule are said plainly.
	bad := url.Values{"body": form["body"], "from": {"yesterday"}, "to": form["to"]}
	_, body = an.htmx("/rules/backtest", bad)
	contains(t, body, "Give the window as two times")
	broken := url.Values{"body": {strings.Replace(sigmaRule("x"), "condition: sel", "condition: nosuch", 1)}, "from": form["from"], "to": form["to"]}
	_, body = an.htmx("/rules/backtest", broken)
	contains(t, body, "The edited rule does not load")
}

func TestRuleLintAtLines(t *testing.T) {
	pr := newPBRig(t)
	bad := strings.Replace(sigmaRule("x"), "condition: sel", "condition: sel and", 1)
	res, body := pr.as(auth.Viewer).htmx("/rules/lint", url.Values{"body": {bad}})
	if res.StatusCode != 200 {
		t.Fatalf("lint: %s", res.Status)
	}
	if !strings.Contains(body, `class="lint-error"`) {
		t.Fatalf("no finding for a broken condition:\n%s", body)
	}
	_, body = pr.as(auth.Viewer).htmx("/rules/lint", url.Values{"body": {sigmaRule("x")}})
	contains(t, body, "No problems found.")
}
