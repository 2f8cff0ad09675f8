package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/respond"
)

func incidentCmd() *cobra.Command {
	c := &cobra.Command{Use: "incident", Short: "Work the incident queue: list, show, assign, status, comment, verdict, priority, merge, split, recover"}
	var server, token, output string
	with := func(cmd *cobra.Command) *cobra.Command {
		serverFlags(cmd, &server, &token)
		return cmd
	}

	var status, priority, assignee string
	var limit int
	list := with(&cobra.Command{
		Use:   "list",
		Short: "The queue: open incidents, priority first, then oldest first",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			q := url.Values{"limit": {fmt.Sprint(limit)}}
			for k, v := range map[string]string{"status": status, "priority": priority, "assignee": assignee} {
				if v != "" {
					q.Set(k, v)
				}
			}
			return printList(c, server, token, output, "/api/v1/incidents?"+q.Encode(), "incidents", "ID\tPRIO\tSTATUS\tAGE\tALERTS\tASSIGNEE\tTITLE",
				func(in alarm.Incident) []any {
					return []any{in.ID, in.Priority, in.Status, age(in.CreatedAt), in.AlertCount, dash(in.Assignee), in.Title}
				})
		},
	})
	outputFlag(list, &output)
	list.Flags().StringVar(&status, "status", "", "comma-separated statuses (default: every open one)")
	list.Flags().StringVar(&priority, "priority", "", "P1..P4")
	list.Flags().StringVar(&assignee, "assignee", "", "only incidents assigned to this person")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many")

	show := with(&cobra.Command{
		Use:   "show ID",
		Short: "An incident with its alerts, timeline and response times",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var res struct {
				Incident  alarm.Incident        `json:"incident"`
				Durations alarm.Durations       `json:"durations"`
				Alerts    []alarm.Alert         `json:"alerts"`
				Timeline  []alarm.TimelineEntry `json:"timeline"`
			}
			if err := cl.call("GET", "/api/v1/incidents/"+url.PathEscape(args[0]), nil, &res); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), res)
			}
			in := res.Incident
			w := c.OutOrStdout()
			fmt.Fprintf(w, "%s  %s  %s  %s\n", safe(in.ID), safe(string(in.Priority)), safe(string(in.Status)), safe(in.Title))
			fmt.Fprintf(w, "severity %d, urgency %d, asset criticality %d; assignee %s; verdict %s; tags %s\n",
				in.Severity, in.Urgency, in.Criticality, safe(dash(in.Assignee)), safe(dash(string(in.Verdict))), dash(joinSafe(in.Tags, ",")))
			var ents []string
			for _, e := range in.Entities {
				ents = append(ents, safe(e.Kind+"="+e.Value))
			}
			fmt.Fprintf(w, "entities: %s\n", strings.Join(ents, " "))
			if in.Follows != "" {
				fmt.Fprintf(w, "follows: %s (a new attacker after that incident was contained)\n", safe(in.Follows))
			}
			if len(in.FollowedBy) > 0 {
				fmt.Fprintf(w, "followed by: %s (new attackers after containment)\n", joinSafe(in.FollowedBy, " "))
			}
			fmt.Fprintf(w, "SLA: acknowledge by %s, contain by %s, resolve by %s; breaches: %s\n",
				stamp(in.AckDue), stamp(in.ContainDue), stamp(in.ResolveDue), dash(joinSafe(in.Breaches, ",")))
			if o := in.Override; o != nil {
				what := []string{}
				if o.Priority != "" {
					what = append(what, "priority "+safe(o.Priority))
				}
				if o.Severity > 0 {
					what = append(what, fmt.Sprintf("severity %d", o.Severity))
				}
				fmt.Fprintf(w, "rated by hand: %s, by %s at %s: %s\n", strings.Join(what, ", "), safe(o.By), stamp(o.At), safe(o.Reason))
			}
			fmt.Fprintf(w, "\nALERTS (%d)\n", len(res.Alerts))
			t := newTable(w, "")
			for _, a := range res.Alerts {
				t.row("", a.ID, a.Level, fmt.Sprintf("x%d", a.Count), stamp(a.LastSeen), a.RuleTitle)
			}
			t.flush()
			fmt.Fprintf(w, "\nTIMELINE\n")
			// A table, not fixed widths: actors are token names of any
			// length and must not push the text out of line.
			tt := newTable(w, "")
			for _, e := range res.Timeline {
				tt.row("", stamp(e.At), e.Actor, e.Kind, e.Text)
			}
			return tt.flush()
		},
	})
	outputFlag(show, &output)

	change := func(use, short, verb string, args cobra.PositionalArgs, body func(args []string) (any, error)) *cobra.Command {
		return with(&cobra.Command{
			Use:   use,
			Short: short,
			Args:  args,
			RunE: func(c *cobra.Command, args []string) error {
				cl, err := newClient(server, token)
				if err != nil {
					return err
				}
				b, err := body(args)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				var in alarm.Incident
				if err := cl.call("POST", "/api/v1/incidents/"+url.PathEscape(args[0])+"/"+verb, b, &in); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%s  %s  %s  %s\n", safe(in.ID), safe(string(in.Priority)), safe(string(in.Status)), safe(in.Title))
				return nil
			},
		})
	}
	var comment, reason string
	assign := change("assign ID PERSON", "Assign an incident (\"\" unassigns)", "assign", cobra.ExactArgs(2),
		func(a []string) (any, error) { return map[string]any{"assignee": a[1]}, nil })
	statusCmd := change("status ID STATUS", "Move an incident: new, triaged, contained, eradicated, recovered, closed", "status", cobra.ExactArgs(2),
		func(a []string) (any, error) { return map[string]any{"status": a[1], "comment": comment}, nil })
	statusCmd.Flags().StringVar(&comment, "comment", "", "why")
	commentCmd := change("comment ID TEXT", "Add a comment to the timeline", "comment", cobra.MinimumNArgs(2),
		func(a []string) (any, error) { return map[string]any{"text": strings.Join(a[1:], " ")}, nil })
	verdict := change("verdict ID true_positive|false_positive|benign", "Record the verdict", "verdict", cobra.ExactArgs(2),
		func(a []string) (any, error) { return map[string]any{"verdict": a[1]}, nil })
	merge := change("merge TARGET SOURCE...", "Merge incidents into TARGET", "merge", cobra.MinimumNArgs(2),
		func(a []string) (any, error) { return map[string]any{"sources": a[1:], "reason": reason}, nil })
	merge.Flags().StringVar(&reason, "reason", "", "why (kept in both timelines)")
	split := change("split ID ALERT...", "Move alerts out of an incident into a new one", "split", cobra.MinimumNArgs(2),
		func(a []string) (any, error) { return map[string]any{"alerts": a[1:], "reason": reason}, nil })
	split.Flags().StringVar(&reason, "reason", "", "why (kept in both timelines)")
	recoverCmd := with(&cobra.Command{
		Use:   "recover ID",
		Short: "Undo, newest first, what playbooks did for an incident (unblock, release, restore, re-enable)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var out struct {
				Steps []struct {
					OK      bool   `json:"ok"`
					Summary string `json:"summary"`
				} `json:"steps"`
				Failed int `json:"failed"`
			}
			if err := cl.call("POST", "/api/v1/incidents/"+url.PathEscape(args[0])+"/recover", nil, &out); err != nil {
				return err
			}
			for _, st := range out.Steps {
				mark := "ok    "
				if !st.OK {
					mark = "FAILED"
				}
				fmt.Fprintf(c.OutOrStdout(), "%s %s\n", mark, safe(st.Summary))
			}
			if len(out.Steps) == 0 {
				fmt.Fprintln(c.OutOrStdout(), "nothing to undo")
			}
			if out.Failed > 0 {
				return negative("%d undo(s) failed and stay pending; run recover again", out.Failed)
			}
			return nil
		},
	})
	var severity int
	var clearRating bool
	priorityCmd := with(&cobra.Command{
		Use:   "priority ID [P1|P2|P3|P4] [--severity 1-4] --reason R",
		Short: "Rate an incident by hand: its priority, severity or both stay yours when new alerts join (--clear hands them back to detection)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			body := map[string]any{"reason": reason}
			if len(args) == 2 {
				body["priority"] = strings.ToUpper(args[1])
			}
			if c.Flags().Changed("severity") {
				body["severity"] = severity
			}
			if clearRating {
				if len(body) > 1 {
					return &exitError{code: 2, err: fmt.Errorf("--clear takes no priority or --severity")}
				}
				body["clear"] = true
			} else if len(body) == 1 {
				return &exitError{code: 2, err: fmt.Errorf("give a priority (P1..P4), --severity N, or --clear")}
			}
			if strings.TrimSpace(reason) == "" {
				return &exitError{code: 2, err: fmt.Errorf("--reason is required: it goes on the timeline and in the audit log")}
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var in alarm.Incident
			if err := cl.call("POST", "/api/v1/incidents/"+url.PathEscape(args[0])+"/priority", body, &in); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s  %s  severity %d  %s  %s\n", safe(in.ID), safe(in.Priority), in.Severity, safe(string(in.Status)), safe(in.Title))
			return nil
		},
	})
	priorityCmd.Flags().IntVar(&severity, "severity", 0, "severity 1 (low) to 4 (critical)")
	priorityCmd.Flags().BoolVar(&clearRating, "clear", false, "hand priority and severity back to detection")
	priorityCmd.Flags().StringVar(&reason, "reason", "", "why (required; on the timeline and in the audit log)")

	undoList := with(&cobra.Command{
		Use:   "undo-list ID",
		Short: "What playbooks did for an incident that recover can undo, oldest first, and what is already undone",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return printList(c, server, token, output, "/api/v1/incidents/"+url.PathEscape(args[0])+"/undo", "undo",
				"ID\tAT\tRUN\tSTEP\tUNDO\tUNDONE\tWHAT",
				func(u respond.UndoEntry) []any {
					undone := "pending"
					if u.DoneAt != nil {
						undone = dash(u.Outcome) + " " + stamp(*u.DoneAt)
					}
					return []any{u.ID, stamp(u.CreatedAt), u.RunID, u.StepID, u.Connector + "." + u.Operation, undone, u.Summary}
				})
		},
	})
	outputFlag(undoList, &output)
	c.AddCommand(list, show, assign, statusCmd, commentCmd, verdict, merge, split, recoverCmd, priorityCmd, undoList)
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func assetCmd() *cobra.Command {
	c := &cobra.Command{Use: "asset", Short: "Manage the asset inventory"}
	var server, token, output string
	var discovered bool
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Add or replace assets from CSV (kind,name,criticality,owner,tags,addresses,agent) or YAML",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			body, err := os.ReadFile(args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			ct := "application/yaml"
			if strings.HasSuffix(strings.ToLower(args[0]), ".csv") {
				ct = "text/csv"
			}
			var res struct {
				Stored int `json:"stored"`
			}
			if err := cl.callRaw("POST", "/api/v1/assets", ct, body, &res); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%d assets stored\n", res.Stored)
			return nil
		},
	}
	serverFlags(imp, &server, &token)
	list := &cobra.Command{
		Use:   "list",
		Short: "List assets",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			path := "/api/v1/assets"
			if discovered {
				path += "?discovered=1"
			}
			return printList(c, server, token, output, path, "assets", "KIND\tNAME\tCRIT\tOWNER\tDISCOVERED\tLAST SEEN",
				func(a alarm.Asset) []any {
					return []any{a.Kind, a.Name, a.Criticality, dash(a.Owner), a.Discovered, stamp(a.LastSeen)}
				})
		},
	}
	serverFlags(list, &server, &token)
	outputFlag(list, &output)
	list.Flags().BoolVar(&discovered, "discovered", false, "include hosts and users seen in alerts but not in the inventory")
	c.AddCommand(imp, list)
	return c
}
