package sigma

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/event"
)

// fuzzEvents are matched by every rule the fuzzers manage to load.
var fuzzEvents = []*event.Event{
	{Fields: map[string]any{"A": int64(1), "B": "x", "F": "ABC", "G": "abc", "CommandLine": "cmd /c whoami", "EventID": int64(4688)}},
	{Fields: map[string]any{"F": []any{"a", int64(2), nil}, "IP": "10.1.2.3", "T": "2025-01-01T03:15:00Z"}, Raw: []byte("raw evil text")},
	{Fields: map[string]any{"F": nil, "Source Name": "é\u212A", "N": 7.5}},
	{LogSource: event.LogSource{Product: "windows", Service: "sysmon", Category: "process_creation"},
		Fields: map[string]any{"EventID": int64(1), "Image": `C:\Windows\System32\cmd.exe`, "CommandLine": "cmd.exe /c echo SGVsbG8= -enc"}},
}

// checkAgree compiles what loaded and checks that nothing panics and the
// indexed and naive matchers agree on every fuzz event.
func checkAgree(t *testing.T, col Collection) {
	m, _ := Compile(col.Rules, nil)
	for _, ev := range fuzzEvents {
		var a, b []string
		m.Match(ev, func(r *Rule) { a = append(a, r.Title) })
		m.MatchNaive(ev, func(r *Rule) { b = append(b, r.Title) })
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Fatalf("indexed %v, naive %v on %v", a, b, ev.Fields)
		}
	}
}

// FuzzParseRule feeds arbitrary bytes to Parse: it must never panic, and
// whatever loads must evaluate without panicking, the same way in both
// matchers.
func FuzzParseRule(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, fn := range files {
		data, _ := os.ReadFile(fn)
		var cases []tableCase
		if yaml.Unmarshal(data, &cases) == nil {
			for _, c := range cases {
				f.Add([]byte(ruleText(c.Rule)))
			}
		}
	}
	f.Add([]byte("title: t\nlogsource: {}\ndetection:\n  k:\n    - a\n  condition: k\n---\naction: global\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		col, errs := Parse(data, "fuzz.yml")
		for _, e := range errs {
			if e.File != "fuzz.yml" || e.Reason == "" {
				t.Fatalf("bad error %+v", e)
			}
		}
		checkAgree(t, col)
	})
}

// FuzzCondition parses arbitrary condition strings against a fixed
// detection: errors are errors, never panics, and what parses evaluates
// the same in both matchers.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{
		"sel1", "sel1 and not filter_a", "1 of sel*", "all of them", "any of filter_*",
		"(sel1 or sel2) and not (filter_a or _aux)", "not not sel1", "2 of them", "sel1 AND sel2",
		"sel1 | count() > 5", "((((sel1))))", "1 of", "all of _aux", "sel1 or", "kw and sel2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cond string) {
		q, _ := json.Marshal(cond)
		doc := `title: fuzz
logsource: {}
detection:
  sel1: {F: abc}
  sel2: {B|contains: x}
  filter_a: {A: 2}
  _aux: {IP|cidr: 10.0.0.0/8}
  kw: [evil]
  condition: ` + string(q) + "\n"
		col, errs := Parse([]byte(doc), "fuzz.yml")
		if len(errs) > 0 && !strings.Contains(errs[0].Reason, "condition") {
			t.Fatalf("error not about the condition: %v", errs[0])
		}
		checkAgree(t, col)
	})
}

// TestAutomataFindEveryNeedle checks the prefilter automata against a
// brute-force search on random needles and texts (upper case, non-ASCII,
// long texts that take the two-chain path): every needle present in the
// folded text must be reported. Reporting more is allowed.
func TestAutomataFindEveryNeedle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alpha := []string{"a", "b", "c", "A", "B", ":", "\\", "é", "É", "\u212A", "k", " ", "ſ", "s"}
	word := func(n int) string {
		var sb strings.Builder
		for i := 0; i < n; i++ {
			sb.WriteString(alpha[rng.IntN(len(alpha))])
		}
		return sb.String()
	}
	for round := 0; round < 300; round++ {
		nn := 1 + rng.IntN(12)
		seen := map[string]bool{}
		var needles []string
		minLen := 100
		for len(needles) < nn {
			n := fold(word(1 + rng.IntN(10)))
			if round%2 == 0 && len(n) < minSkipLen {
				n += fold(word(minSkipLen))
			}
			if !seen[n] {
				seen[n] = true
				needles = append(needles, n)
				minLen = min(minLen, len(n))
			}
		}
		rules := make([][]int32, len(needles))
		for i := range needles {
			rules[i] = []int32{int32(i)}
		}
		var scanners []textScanner
		scanners = append(scanners, buildAutomaton(needles, rules, 0, 0), buildAutomaton(needles, rules, 0, 6))
		if minLen >= minSkipLen {
			scanners = append(scanners, newSkipScanner(needles, rules, 0))
		}
		for k := 0; k < 20; k++ {
			text := word(rng.IntN(200))
			if rng.IntN(2) == 0 && len(text) > 0 {
				// Plant a needle, in another case.
				n := needles[rng.IntN(len(needles))]
				p := rng.IntN(len(text))
				text = text[:p] + strings.ToUpper(n) + text[p:]
			}
			ft := fold(text)
			for si, s := range scanners {
				sc := &scratch{gen: 1, stamp: make([]uint32, len(needles)), ostamp: make([]uint32, 1000), local: make([]int32, len(needles))}
				for i := range sc.local {
					sc.local[i] = int32(i)
				}
				s.scanText(text, sc)
				for i, n := range needles {
					if strings.Contains(ft, n) && sc.stamp[i] != sc.gen {
						t.Fatalf("scanner %d missed %q in %q (folded %q)", si, n, text, ft)
					}
				}
			}
		}
	}
}

// TestGlobAgainstRegexp compares the pattern matcher with a regular
// expression built from the same Sigma string.
func TestGlobAgainstRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alpha := []string{"a", "b", "é", "*", "?", "-", "/"}
	for round := 0; round < 3000; round++ {
		var s sstr
		var re strings.Builder
		re.WriteString("(?s)^")
		for n := rng.IntN(7); n > 0; n-- {
			switch c := alpha[rng.IntN(len(alpha))]; c {
			case "*":
				s = s.add(atom{k: aStar})
				re.WriteString(".*")
			case "?":
				s = s.add(atom{k: aOne})
				re.WriteString(".")
			case "-":
				s = s.add(atom{k: aDash})
				re.WriteString("[-/–—―]")
			default:
				s = s.add(atom{k: aLit, s: c})
				re.WriteString(regexp.QuoteMeta(c))
			}
		}
		re.WriteString("$")
		p := compilePattern(s, false)
		rx := regexp.MustCompile(re.String())
		for k := 0; k < 30; k++ {
			var text strings.Builder
			for n := rng.IntN(8); n > 0; n-- {
				text.WriteString([]string{"a", "b", "é", "-", "/", "—", "x"}[rng.IntN(7)])
			}
			if got, want := p.match(text.String()), rx.MatchString(text.String()); got != want {
				t.Fatalf("pattern %s on %q: %v, regexp %s says %v", s.String(), text.String(), got, rx, want)
			}
		}
	}
}
