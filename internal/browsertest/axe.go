package browsertest

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axe-core, vendored from npm by scripts/vendor-web.sh (version in
// console/assets/vendor/VERSIONS). It lives here, not under console/, so
// that only test binaries carry it: the server never serves it.
//
//go:embed axe/axe.min.js
var axeSource string

// Violation is one axe-core rule that the page breaks.
type Violation struct {
	ID      string          `json:"id"`      // the rule, e.g. "image-alt"
	Impact  string          `json:"impact"`  // "minor", "moderate", "serious" or "critical"
	Help    string          `json:"help"`    // what the rule asks for, in a sentence
	HelpURL string          `json:"helpUrl"` // the rule's explanation at Deque
	Nodes   []ViolationNode `json:"nodes"`   // the elements that break it
}

// ViolationNode is one element that breaks a rule.
type ViolationNode struct {
	Target  string `json:"target"`  // CSS selector of the element (frames and shadow roots joined by " >>> ")
	HTML    string `json:"html"`    // the element's opening markup, as axe shows it
	Summary string `json:"summary"` // what to fix on this element
}

// axeRun runs axe on the document and reduces its result to Violation's
// fields. A target is a list of selectors (one per frame or shadow root),
// each a string or, inside a shadow root, a list.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
  nodes: v.nodes.map(n => ({
    target: n.target.map(s => Array.isArray(s) ? s.join(" >>> ") : s).join(" >>> "),
    html: n.html, summary: n.failureSummary || ""
  }))
})))`

// Axe runs axe-core on the tab's current page (loading it into the page
// first) and returns the rules it breaks, in axe's order. Axe sees the page
// as it is now: wait for what the page loads or swaps in before calling it.
func Axe(ctx context.Context) ([]Violation, error) {
	sctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	loaded, err := chromedp.Run(sctx, chromedp.Evaluate[bool](`typeof axe === "object" && typeof axe.run === "function"`))
	if err != nil {
		return nil, fmt.Errorf("axe: %w", err)
	}
	if !loaded {
		if err := chromedp.Do(sctx, chromedp.Evaluate[chromedp.Void](axeSource+"\n;undefined")); err != nil {
			return nil, fmt.Errorf("axe: loading axe-core into the page: %w", err)
		}
	}
	vs, err := chromedp.Run(sctx, chromedp.Evaluate[[]Violation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("axe: running axe-core: %w", err)
	}
	return vs, nil
}

// AssertAxe runs Axe and fails the test if the page breaks a rule of
// serious or critical impact, listing each rule with its elements. page
// names the page in the message ("queue", "incident workbench"). Minor and
// moderate findings are logged, not failed.
func AssertAxe(t testing.TB, ctx context.Context, page string) {
	t.Helper()
	vs, err := Axe(ctx)
	if err != nil {
		t.Fatalf("accessibility check of the %s page: %v", page, err)
	}
	var bad, other []Violation
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, v)
		} else {
			other = append(other, v)
		}
	}
	if len(other) > 0 {
		t.Logf("the %s page has %d minor or moderate accessibility finding(s):\n%s", page, len(other), describe(other))
	}
	if len(bad) > 0 {
		t.Errorf("the %s page breaks %d serious or critical accessibility rule(s) (axe-core):\n%s", page, len(bad), describe(bad))
	}
}

func describe(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "  %s [%s]: %s (%s)\n", v.ID, v.Impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "    at %s: %s\n", n.Target, n.HTML)
		}
	}
	return b.String()
}
