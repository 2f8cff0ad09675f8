package main

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/decision"
)

func decisionCmd() *cobra.Command {
	c := &cobra.Command{Use: "decision", Short: "Containment decisions: what is blocked or isolated, why, until when"}
	var server, token, output, kind, target, host, ttl, reason, incident string
	var all, force bool
	list := &cobra.Command{
		Use:   "list",
		Short: "Active decisions (--all for expired and reverted ones too)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			path := "/api/v1/decisions"
			if all {
				path += "?all=1"
			}
			return printList(c, server, token, output, path, "decisions", "ID\tKIND\tTARGET\tHOST\tEXPIRES\tOFFENSE\tENFORCED\tOWNER\tREASON",
				func(d listedDecision) []any {
					exp := "until reverted"
					if !d.Expires.IsZero() {
						exp = stamp(d.Expires)
					}
					if d.RevertedAt != nil {
						exp = "reverted " + stamp(*d.RevertedAt)
					}
					enf := "-"
					if n := len(d.EnforcedBy) + len(d.Missing); n > 0 {
						enf = fmt.Sprintf("%d/%d", len(d.EnforcedBy), n)
					}
					return []any{d.ID, d.Kind, d.Target, dash(d.Host), exp, d.Offense, enf, d.Owner, d.Reason}
				})
		},
	}
	list.Flags().BoolVar(&all, "all", false, "include expired and reverted decisions")
	outputFlag(list, &output)
	add := &cobra.Command{
		Use:   "add --kind deny_ip|contain_host|contain_segment --target T --reason R",
		Short: "Record a containment decision (repeat offenders get longer bans unless --ttl is given)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var d decision.Decision
			if err := cl.call("POST", "/api/v1/decisions", map[string]any{"kind": kind, "target": target, "host": host,
				"ttl": ttl, "reason": reason, "incident": incident, "force": force}, &d); err != nil {
				return err
			}
			exp := "until reverted"
			if !d.Expires.IsZero() {
				exp = "until " + stamp(d.Expires)
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: %s %s %s (offense %d)\n", safe(d.ID), safe(d.Kind), safe(d.Target), exp, d.Offense)
			return nil
		},
	}
	add.Flags().StringVar(&kind, "kind", "deny_ip", "deny_ip, contain_host, or contain_segment (a CIDR or address quarantined at the gateways in front of it)")
	add.Flags().StringVar(&target, "target", "", "address or CIDR (deny_ip, contain_segment), host (contain_host)")
	add.Flags().StringVar(&host, "host", "", "where a deny applies (empty: every host with an agent); for contain_segment, the gateway (empty: every gateway in front of the target)")
	add.Flags().StringVar(&ttl, "ttl", "", "duration, until_reverted, or empty for the repeat-offender schedule")
	add.Flags().StringVar(&reason, "reason", "", "why (required)")
	add.Flags().StringVar(&incident, "incident", "", "the incident it contains (recovery lifts it)")
	add.Flags().BoolVar(&force, "force", false, "admin only: pass the decision limits (a network wider than agents.max_prefix_v4/v6, a protected address); audited")
	revert := &cobra.Command{
		Use:   "revert ID",
		Short: "Lift a decision now",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			if err := cl.call("POST", "/api/v1/decisions/"+url.PathEscape(args[0])+"/revert", map[string]string{"reason": reason}, nil); err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), "reverted", args[0])
			return nil
		},
	}
	revert.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log)")
	for _, cmd := range []*cobra.Command{list, add, revert} {
		serverFlags(cmd, &server, &token)
	}
	c.AddCommand(list, add, revert)
	return c
}

// listedDecision is a decision with the agents enforcing it.
type listedDecision struct {
	decision.Decision
	EnforcedBy []string `json:"enforced_by"`
	Missing    []string `json:"missing_on"`
}
