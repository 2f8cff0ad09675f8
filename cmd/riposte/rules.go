package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/detect"
	"github.com/riposte-soar/riposte/detect/correlate"
	"github.com/riposte-soar/riposte/detect/intel"
	"github.com/riposte-soar/riposte/detect/sigma"
	"github.com/riposte-soar/riposte/event"
)

func rulesCmd() *cobra.Command {
	c := &cobra.Command{Use: "rules", Short: "Test, lint, benchmark and manage detection rules"}
	c.AddCommand(rulesTestCmd(), rulesLintCmd(), rulesBenchCmd(), rulesBacktestCmd())
	c.AddCommand(rulesServerCmds()...)
	return c
}

// ruleSources reads rule files and folders given on the command line.
func ruleSources(paths []string) ([]detect.Source, error) {
	var out []detect.Source
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			out = append(out, detect.Source{Name: p, Body: b})
			continue
		}
		err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || (filepath.Ext(f) != ".yml" && filepath.Ext(f) != ".yaml") {
				return nil
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			out = append(out, detect.Source{Name: f, Body: b})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func rulesTestCmd() *cobra.Command {
	var rulePaths []string
	var eventsFile string
	var showErrors bool
	c := &cobra.Command{
		Use:   "test --rules PATH... --events FILE",
		Short: "Evaluate rules against a file of events; one JSON line per hit",
		Long: `Evaluates rules (files or folders) against a file of events (NDJSON, concatenated
JSON objects as evtx_dump writes them, or a zip of such files) and prints one line per
hit: {"rule_id": "...", "title": "...", "event": <0-based index in the file>}.
Correlations are evaluated too, on event time. Exit 0 when the run worked, whatever
the hits; 2 when the input cannot be read.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if len(rulePaths) == 0 || eventsFile == "" {
				return &exitError{code: 2, err: fmt.Errorf("--rules and --events are required")}
			}
			srcs, err := ruleSources(rulePaths)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			rs, errs := detect.Build(srcs, sigma.DefaultMapping())
			if showErrors || len(rs.Rules) == 0 {
				for _, e := range errs {
					fmt.Fprintln(c.ErrOrStderr(), "rule not loaded:", e.Error())
				}
			} else if len(errs) > 0 {
				fmt.Fprintf(c.ErrOrStderr(), "%d rule(s) did not load (see riposte rules lint)\n", len(errs))
			}
			raws, err := detect.ReadEvents(eventsFile)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			eng := detect.NewEngine(rs, intel.NewIndex(intel.Config{}), correlate.Options{})
			w := bufio.NewWriter(c.OutOrStdout())
			defer w.Flush()
			enc := json.NewEncoder(w)
			var last time.Time
			for i, raw := range raws {
				var ev event.Event
				if err := detect.Normalize(raw, &ev); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("%s: event %d: %v", eventsFile, i, err)}
				}
				ev.ID = fmt.Sprint(i)
				now := ev.Time
				if now.IsZero() {
					now = ev.Received
				}
				last = now
				eng.Process(&ev, now, func(a alert.Alert) {
					enc.Encode(map[string]any{"rule_id": a.Rule.ID, "title": a.Rule.Title, "event": i})
				})
			}
			// Close the windows still open at the end of the file.
			eng.Tick(last.Add(365*24*time.Hour), func(a alert.Alert) {
				idx := len(raws) - 1
				if len(a.EventIDs) > 0 {
					fmt.Sscan(a.EventIDs[len(a.EventIDs)-1], &idx)
				}
				enc.Encode(map[string]any{"rule_id": a.Rule.ID, "title": a.Rule.Title, "event": idx})
			})
			return nil
		},
	}
	c.Flags().StringSliceVar(&rulePaths, "rules", nil, "rule files or folders (repeatable)")
	c.Flags().StringVar(&eventsFile, "events", "", "events file")
	c.Flags().BoolVar(&showErrors, "show-errors", false, "print every rule that did not load")
	return c
}

func rulesLintCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "lint PATH...",
		Short: "Report rules that do not load, with file, line and reason",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			srcs, err := ruleSources(args)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			rs, errs := detect.Build(srcs, sigma.DefaultMapping())
			sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
			if output == "json" {
				writeJSON(c.OutOrStdout(), map[string]any{"rules": len(rs.Rules), "correlations": len(rs.Correlations), "errors": errs})
			} else {
				for _, e := range errs {
					fmt.Fprintln(c.OutOrStdout(), e.Error())
				}
				fmt.Fprintf(c.ErrOrStderr(), "%d rules and %d correlations loaded, %d problem(s)\n", len(rs.Rules), len(rs.Correlations), len(errs))
			}
			if len(errs) > 0 {
				return negative("%d rule problem(s)", len(errs))
			}
			return nil
		},
	}
	outputFlag(c, &output)
	return c
}

func rulesBenchCmd() *cobra.Command {
	var rulePaths, eventFiles []string
	var rounds int
	var profile string
	c := &cobra.Command{
		Use:   "bench --rules PATH... --events FILE...",
		Short: "Events per second on one core (decode plus match), against a naive reference evaluation",
		Long: `Loads the rules, reads the events into memory, then measures on one core:
riposte: JSON decode, normalization and the indexed matcher, per event;
reference: the same decode and normalization, then every rule checked against every
event with no index or prefilter. Prints both rates and their ratio, and the number of
hits of each (they must agree).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if len(rulePaths) == 0 || len(eventFiles) == 0 {
				return &exitError{code: 2, err: fmt.Errorf("--rules and --events are required")}
			}
			runtime.GOMAXPROCS(1)
			if profile != "" {
				f, err := os.Create(profile)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				defer f.Close()
				pprof.StartCPUProfile(f)
				defer pprof.StopCPUProfile()
			}
			srcs, err := ruleSources(rulePaths)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			t0 := time.Now()
			rs, errs := detect.Build(srcs, sigma.DefaultMapping())
			load := time.Since(t0)
			srcs = nil
			debug.FreeOSMemory()
			rulesRSS := rssMB()
			var raws [][]byte
			for _, f := range eventFiles {
				r, err := detect.ReadEvents(f)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				raws = append(raws, r...)
			}
			if len(raws) == 0 {
				return &exitError{code: 2, err: fmt.Errorf("no events in %s", strings.Join(eventFiles, ", "))}
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			out := c.OutOrStdout()
			fmt.Fprintf(out, "rules: %d loaded (%d did not) in %v; RSS with the rules compiled: %d MB\n",
				len(rs.Rules), len(errs), load.Round(time.Millisecond), rulesRSS)
			var bytes int
			for _, r := range raws {
				bytes += len(r)
			}
			fmt.Fprintf(out, "events: %d, %d bytes on average; heap with rules and events: %d MB\n", len(raws), bytes/len(raws), ms.HeapAlloc>>20)
			measure := func(match func(*event.Event, func(*sigma.Rule))) (float64, int) {
				hits := 0
				var ev event.Event
				start := time.Now()
				for r := 0; r < rounds; r++ {
					for _, raw := range raws {
						if err := detect.Normalize(raw, &ev); err != nil {
							continue
						}
						match(&ev, func(*sigma.Rule) { hits++ })
					}
				}
				return float64(rounds*len(raws)) / time.Since(start).Seconds(), hits / rounds
			}
			fast, fastHits := measure(rs.Matcher.Match)
			ref, refHits := measure(rs.Matcher.MatchNaive)
			fmt.Fprintf(out, "riposte (indexed):   %10.0f events/s on one core, %d hits\n", fast, fastHits)
			fmt.Fprintf(out, "reference (naive):   %10.0f events/s on one core, %d hits\n", ref, refHits)
			fmt.Fprintf(out, "ratio: %.1fx\n", fast/ref)
			if fastHits != refHits {
				return negative("the indexed and reference matchers disagree: %d vs %d hits", fastHits, refHits)
			}
			return nil
		},
	}
	c.Flags().StringSliceVar(&rulePaths, "rules", nil, "rule files or folders (repeatable)")
	c.Flags().StringSliceVar(&eventFiles, "events", nil, "event files: NDJSON, concatenated JSON, or zip (repeatable)")
	c.Flags().IntVar(&rounds, "rounds", 1, "passes over the events")
	c.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile to this file")
	return c
}

// rssMB reads the process's resident set from /proc (0 where there is none).
func rssMB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmRSS:"), "kB")), &kb)
			return kb / 1024
		}
	}
	return 0
}
