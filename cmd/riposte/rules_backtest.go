package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/detect"
	"github.com/riposte-soar/riposte/detect/sigma"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/rulestore"
)

func rulesBacktestCmd() *cobra.Command {
	var server, token, ruleFile, from, to, output string
	c := &cobra.Command{
		Use:   "backtest --rule FILE --from T --to T",
		Short: "Replay stored events through a candidate rule; report the hits it adds and removes against the current version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if ruleFile == "" || from == "" || to == "" {
				return &exitError{code: 2, err: fmt.Errorf("--rule, --from and --to are required")}
			}
			tf, err1 := time.Parse(time.RFC3339, from)
			tt, err2 := time.Parse(time.RFC3339, to)
			if err1 != nil || err2 != nil || !tt.After(tf) {
				return &exitError{code: 2, err: fmt.Errorf("--from and --to must be RFC 3339 times with --to after --from")}
			}
			body, err := os.ReadFile(ruleFile)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var active struct {
				Rules []rulestore.Version `json:"versions"`
			}
			if err := cl.call("GET", "/api/v1/rules/active", nil, &active); err != nil {
				return err
			}
			// The replay itself is detect's, shared with the console.
			page := func(_ context.Context, from, to time.Time, cursor string) ([]event.Event, string, error) {
				q := url.Values{"from": {from.Format(time.RFC3339Nano)}, "to": {to.Format(time.RFC3339Nano)}, "limit": {"5000"}}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				var page struct {
					Events []struct {
						ID        string          `json:"id"`
						Time      time.Time       `json:"time"`
						Received  time.Time       `json:"received"`
						Host      string          `json:"host"`
						Source    string          `json:"source"`
						LogSource event.LogSource `json:"logsource"`
						Fields    json.RawMessage `json:"fields"`
					} `json:"events"`
					Next string `json:"next_cursor"`
				}
				if err := cl.call("GET", "/api/v1/events?"+q.Encode(), nil, &page); err != nil {
					return nil, "", err
				}
				evs := make([]event.Event, 0, len(page.Events))
				for _, pe := range page.Events {
					fields, err := event.DecodeFieldsJSON(pe.Fields)
					if err != nil {
						continue
					}
					evs = append(evs, event.Event{ID: pe.ID, Time: pe.Time, Received: pe.Received, Host: pe.Host, Source: pe.Source,
						LogSource: pe.LogSource, Fields: fields})
				}
				return evs, page.Next, nil
			}
			progress := newProgress(c.ErrOrStderr(), tf, tt)
			rep, err := detect.Backtest{Active: active.Rules, Candidate: body, Name: ruleFile, Mapping: sigma.DefaultMapping(),
				From: tf, To: tt, Events: page, Progress: progress.at}.Run(c.Context())
			var invalid *detect.ValidationError
			if errors.As(err, &invalid) {
				for _, e := range invalid.Errors {
					fmt.Fprintln(c.ErrOrStderr(), e.Error())
				}
				return negative("%s does not load", ruleFile)
			}
			if err != nil {
				return err
			}
			progress.done(rep.Events)
			if output == "json" {
				return writeJSON(c.OutOrStdout(), rep)
			}
			out := c.OutOrStdout()
			state := "current version"
			if rep.IsNew {
				state = "no current version (new rule)"
			}
			fmt.Fprintf(out, "rule %s against %s, %d events from %s to %s\n", safe(rep.RuleID), state, rep.Events,
				stamp(tf), stamp(tt))
			fmt.Fprintf(out, "hits: current %d, candidate %d; added %d, removed %d\n", rep.Current, rep.Candidate, len(rep.Added), len(rep.Removed))
			show := func(label string, l []detect.BacktestHit) {
				for i, h := range l {
					if i == 20 {
						fmt.Fprintf(out, "  ... %d more (use --output json for all)\n", len(l)-20)
						break
					}
					fmt.Fprintf(out, "  %s %s %s %s\n", label, stamp(h.Time), safe(h.EventID), safe(h.Host))
				}
			}
			show("+", rep.Added)
			show("-", rep.Removed)
			return nil
		},
	}
	serverFlags(c, &server, &token)
	outputFlag(c, &output)
	c.Flags().StringVar(&ruleFile, "rule", "", "candidate rule file")
	c.Flags().StringVar(&from, "from", "", "start of the window (RFC 3339)")
	c.Flags().StringVar(&to, "to", "", "end of the window (RFC 3339)")
	return c
}

// progress draws a bar on a terminal and nothing otherwise: scripts read
// the final report, not the ticks.
type progress struct {
	w        io.Writer
	tty      bool
	from, to time.Time
	last     time.Time
}

func newProgress(w io.Writer, from, to time.Time) *progress {
	w = rawOut(w)
	p := &progress{w: w, from: from, to: to}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) at(t time.Time, n int) {
	if !p.tty || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	frac := float64(t.Sub(p.from)) / float64(p.to.Sub(p.from))
	frac = min(max(frac, 0), 1)
	w := 40
	done := int(frac * float64(w))
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %d events", strings.Repeat("=", done), strings.Repeat(" ", w-done), frac*100, n)
}

func (p *progress) done(n int) {
	if p.tty {
		fmt.Fprintf(p.w, "\r[%s] 100%% %d events\n", strings.Repeat("=", 40), n)
	}
}
