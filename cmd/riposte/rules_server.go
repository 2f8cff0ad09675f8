package main

import (
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/rulestore"
)

type ruleDetail struct {
	Rule    rulestore.Rule    `json:"rule"`
	Version rulestore.Version `json:"version"`
}

func rulesServerCmds() []*cobra.Command {
	var server, token, output, reason string
	withServer := func(c *cobra.Command) *cobra.Command {
		serverFlags(c, &server, &token)
		return c
	}
	list := withServer(&cobra.Command{
		Use:   "list",
		Short: "List the rules in the server's store",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return printList(c, server, token, output, "/api/v1/rules", "rules", "ID\tVERSION\tENABLED\tKIND\tTITLE",
				func(r rulestore.Rule) []any { return []any{r.ID, r.Current, r.Enabled, r.Kind, r.Title} })
		},
	})
	outputFlag(list, &output)

	show := withServer(&cobra.Command{
		Use:   "show ID",
		Short: "Show a rule's current version",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var d ruleDetail
			if err := cl.call("GET", "/api/v1/rules/"+url.PathEscape(args[0]), nil, &d); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), d)
			}
			// The body keeps its lines; the terminal escaper (main) takes
			// what else it holds.
			fmt.Fprintf(c.OutOrStdout(), "# %s version %d (enabled: %v) by %s at %s: %s\n%s", safe(d.Rule.ID), d.Version.Version,
				d.Rule.Enabled, safe(d.Version.Author), stamp(d.Version.CreatedAt), safe(d.Version.Reason), d.Version.Body)
			return nil
		},
	})
	outputFlag(show, &output)

	history := withServer(&cobra.Command{
		Use:   "history ID",
		Short: "List every version of a rule with author, time and reason",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return printList(c, server, token, output, "/api/v1/rules/"+url.PathEscape(args[0])+"/versions", "versions", "VERSION\tAUTHOR\tTIME\tREASON",
				func(v rulestore.Version) []any {
					return []any{v.Version, v.Author, stamp(v.CreatedAt), v.Reason}
				})
		},
	})
	outputFlag(history, &output)

	put := withServer(&cobra.Command{
		Use:     "add FILE",
		Aliases: []string{"update"},
		Short:   "Add a rule, or store a new version of it (validated, then hot-loaded)",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			body, err := os.ReadFile(args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var v rulestore.Version
			if err := cl.call("POST", "/api/v1/rules", map[string]string{"body": string(body), "reason": reason}, &v); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s version %d stored and loaded\n", safe(v.RuleID), v.Version)
			return nil
		},
	})
	put.Flags().StringVar(&reason, "reason", "", "why the rule changes (kept in its history)")

	toggle := func(use, short, verb string) *cobra.Command {
		cmd := withServer(&cobra.Command{
			Use:   use + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				cl, err := newClient(server, token)
				if err != nil {
					return err
				}
				if err := cl.call("POST", "/api/v1/rules/"+url.PathEscape(args[0])+"/"+verb, map[string]string{"reason": reason}, nil); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%s %sd\n", args[0], verb)
				return nil
			},
		})
		cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log)")
		return cmd
	}
	rollback := rollbackCmd("rules", "Make an earlier version current again (as a new version)",
		"", "why (kept in the rule's history)")
	return []*cobra.Command{list, show, history, put,
		toggle("disable", "Stop a rule from matching (kept, with its history)", "disable"),
		toggle("enable", "Let a disabled rule match again", "enable"), rollback}
}
