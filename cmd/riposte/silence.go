package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/alarm"
)

func silenceCmd() *cobra.Command {
	c := &cobra.Command{Use: "silence", Short: "Hold matching alerts for a time, with a reason (they are stored and counted, in no incident)"}
	var server, token, output, reason, dur, until, starts string
	var matches []string
	var all bool
	with := func(cmd *cobra.Command) *cobra.Command {
		serverFlags(cmd, &server, &token)
		return cmd
	}
	add := with(&cobra.Command{
		Use:   "add --match FIELD=VALUE... --duration D --reason R",
		Short: "Start a silence: alerts matching every --match are held until it ends",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if strings.TrimSpace(reason) == "" {
				return &exitError{code: 2, err: fmt.Errorf("--reason is required: it is kept with the silence and in the audit log")}
			}
			sil := alarm.Silence{Reason: reason}
			for _, m := range matches {
				mt, err := parseMatcher(m)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				sil.Matchers = append(sil.Matchers, mt)
			}
			if len(sil.Matchers) == 0 {
				return &exitError{code: 2, err: fmt.Errorf("--match FIELD=VALUE is required (fields: rule_id, rule_title, level, kind, tag, host, user, ip, hash, domain)")}
			}
			now := time.Now().UTC()
			sil.StartsAt = now
			if starts != "" {
				t, err := time.Parse(time.RFC3339, starts)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--starts %q: want an RFC 3339 time like 2026-11-26T10:00:00Z", starts)}
				}
				sil.StartsAt = t
			}
			switch {
			case until != "" && dur != "":
				return &exitError{code: 2, err: fmt.Errorf("--until and --duration: give one")}
			case until != "":
				t, err := time.Parse(time.RFC3339, until)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--until %q: want an RFC 3339 time like 2026-11-26T18:00:00Z", until)}
				}
				sil.EndsAt = t
			default:
				d, err := parseSpan(dur)
				if err != nil || d <= 0 {
					return &exitError{code: 2, err: fmt.Errorf("--duration %q: want a positive duration such as 2h or 7d", dur)}
				}
				sil.EndsAt = sil.StartsAt.Add(d)
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var out alarm.Silence
			if err := cl.call("POST", "/api/v1/silences", sil, &out); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), out)
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: holding %s from %s until %s\n", safe(out.ID), matchersText(out.Matchers), stamp(out.StartsAt), stamp(out.EndsAt))
			return nil
		},
	})
	add.Flags().StringArrayVar(&matches, "match", nil, "FIELD=VALUE, FIELD!=VALUE, FIELD=~REGEX or FIELD!~REGEX (repeatable; all must match)")
	add.Flags().StringVar(&dur, "duration", "2h", "how long (2h, 30m, 7d)")
	add.Flags().StringVar(&until, "until", "", "end at this RFC 3339 time instead of after --duration")
	add.Flags().StringVar(&starts, "starts", "", "start at this RFC 3339 time (default now)")
	add.Flags().StringVar(&reason, "reason", "", "why (required; kept with the silence and in the audit log)")
	outputFlag(add, &output)

	list := with(&cobra.Command{
		Use:   "list",
		Short: "Active and future silences, with how many alerts each held (--all: ended ones too)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			path := "/api/v1/silences"
			if all {
				path += "?all=1"
			}
			return printList(c, server, token, output, path, "silences", "ID\tSTARTS\tENDS\tHELD\tAUTHOR\tMATCHERS\tREASON",
				func(s alarm.Silence) []any {
					return []any{s.ID, stamp(s.StartsAt), stamp(s.EndsAt), s.Held, s.Author, matchersText(s.Matchers), s.Reason}
				})
		},
	})
	list.Flags().BoolVar(&all, "all", false, "include silences that ended")
	outputFlag(list, &output)

	expire := with(&cobra.Command{
		Use:   "expire ID",
		Short: "End a silence now: matching alerts reach incidents again",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			if err := cl.call("DELETE", "/api/v1/silences/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), "expired", safe(args[0]))
			return nil
		},
	})
	c.AddCommand(add, list, expire)
	return c
}

// parseMatcher reads FIELD=VALUE, FIELD!=VALUE, FIELD=~RE or FIELD!~RE.
// The field and the regular expression are checked by the server, which
// names what is wrong.
func parseMatcher(s string) (*alarm.Matcher, error) {
	i := strings.IndexAny(s, "=!")
	if i <= 0 {
		return nil, fmt.Errorf("--match %q: want FIELD=VALUE, FIELD!=VALUE, FIELD=~REGEX or FIELD!~REGEX", s)
	}
	field, rest := s[:i], s[i:]
	for _, op := range []string{"=~", "!~", "!=", "="} {
		if strings.HasPrefix(rest, op) {
			return &alarm.Matcher{Field: strings.TrimSpace(field), Op: op, Value: rest[len(op):]}, nil
		}
	}
	return nil, fmt.Errorf("--match %q: %q is not an operator (=, !=, =~, !~)", s, rest[:1])
}

func matchersText(ms []*alarm.Matcher) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		parts = append(parts, m.Field+m.Op+m.Value)
	}
	return strings.Join(parts, " ")
}

// parseSpan is time.ParseDuration plus days ("7d", "1d12h").
func parseSpan(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil && fmt.Sprint(n) == d {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	if days, rest, ok := strings.Cut(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days {
			r, err := time.ParseDuration(rest)
			if err != nil {
				return 0, err
			}
			return time.Duration(n)*24*time.Hour + r, nil
		}
	}
	return time.ParseDuration(s)
}
