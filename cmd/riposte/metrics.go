package main

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/alarm"
)

func metricsCmd() *cobra.Command {
	c := &cobra.Command{Use: "metrics", Short: "Figures about the response to incidents"}
	var server, token, output, from, to string
	resp := &cobra.Command{
		Use:   "response",
		Short: "Time to detect, acknowledge, contain and resolve, and incident counts by priority, status, verdict and rule",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			q := url.Values{}
			if err := setWindow(q, from, to); err != nil {
				return err
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var m alarm.ResponseMetrics
			if err := cl.call("GET", "/api/v1/metrics/response?"+q.Encode(), nil, &m); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), m)
			}
			w := c.OutOrStdout()
			fmt.Fprintf(w, "incidents created from %s to %s: %d, %d open, %d SLA breaches\n\n", stamp(m.From), stamp(m.To), m.Incidents, m.Open, m.SLABreaches)
			t := newTable(w, "\tINCIDENTS\tMEAN\tP50\tP90\tMAX")
			for _, s := range []struct {
				name string
				st   alarm.Stat
			}{{"time to detect", m.MTTD}, {"time to acknowledge", m.MTTA}, {"time to contain", m.MTTC}, {"time to resolve", m.MTTR}} {
				if s.st.Count == 0 {
					t.row(s.name, 0, "-", "-", "-", "-")
					continue
				}
				t.row(s.name, s.st.Count, secsText(s.st.Mean), secsText(s.st.P50), secsText(s.st.P90), secsText(s.st.Max))
			}
			t.flush()
			fmt.Fprintln(w)
			for _, g := range []struct {
				name string
				m    map[string]int
			}{{"by priority", m.ByPriority}, {"by status", m.ByStatus}, {"by verdict", m.ByVerdict}, {"by rule", m.ByRule}} {
				fmt.Fprintf(w, "%s: %s\n", g.name, countsText(g.m))
			}
			held := map[string]int{}
			for k, v := range m.Held {
				held[k] = int(v)
			}
			fmt.Fprintf(w, "held alerts: %s\n", countsText(held))
			return nil
		},
	}
	serverFlags(resp, &server, &token)
	outputFlag(resp, &output)
	resp.Flags().StringVar(&from, "from", "", "start: RFC 3339 time or how long ago (7d, 24h); default 30 days ago")
	resp.Flags().StringVar(&to, "to", "", "end: RFC 3339 time or how long ago; default now")
	c.AddCommand(resp)
	return c
}

func secsText(s float64) string { return span(time.Duration(s * float64(time.Second))) }

// countsText is "name n, name n" in name order, escaped, or "-".
func countsText(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%s %d", safe(k), m[k])
	}
	return strings.Join(keys, ", ")
}

// setWindow puts --from and --to into q, each given as an RFC 3339 time or
// a span back from now.
func setWindow(q url.Values, from, to string) error {
	now := time.Now().UTC()
	for _, p := range []struct{ flag, val, key string }{{"--from", from, "from"}, {"--to", to, "to"}} {
		if p.val == "" {
			continue
		}
		t, err := timeOrAgo(p.val, now)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("%s %q: %v", p.flag, p.val, err)}
		}
		q.Set(p.key, t.Format(time.RFC3339Nano))
	}
	return nil
}

// timeOrAgo reads an RFC 3339 time, or a span back from now ("7d", "90m").
func timeOrAgo(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := parseSpan(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time like 2026-11-26T10:00:00Z or how long ago, like 24h or 7d")
	}
	return now.Add(-d), nil
}
