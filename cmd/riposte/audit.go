package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/audit"
)

func auditCmd() *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "Inspect the audit log"}
	var data, output string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit hash chain; exit 1 and name the first broken entry if any row was altered, removed or reordered",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			db, err := openData(data)
			if err != nil {
				return err
			}
			defer db.Close()
			n, brk, err := audit.New(db).Verify(context.Background())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if output == "json" {
				if err := writeJSON(c.OutOrStdout(), map[string]any{"entries": n, "intact": brk == nil, "break": brk}); err != nil {
					return err
				}
			} else if brk == nil {
				fmt.Fprintf(c.OutOrStdout(), "audit log intact: %d entries\n", n)
			}
			if brk != nil {
				return negative("%v", brk)
			}
			return nil
		},
	}
	dataFlag(verify, &data)
	outputFlag(verify, &output)
	var server, token string
	var after int64
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "Audit log entries from a running server, oldest first (admin token)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			path := fmt.Sprintf("/api/v1/audit?after=%d&limit=%d", after, limit)
			return printList(c, server, token, output, path, "entries", "SEQ\tAT\tACTOR\tACTION\tTARGET\tDETAIL",
				func(e audit.Entry) []any {
					d := string(e.Detail)
					if d == "" || d == "null" || d == "{}" {
						d = "-"
					}
					return []any{e.Seq, stamp(e.At), e.Actor, e.Action, dash(e.Target), d}
				})
		},
	}
	serverFlags(list, &server, &token)
	outputFlag(list, &output)
	list.Flags().Int64Var(&after, "after", 0, "start after this sequence number (the last SEQ of the previous page)")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many (1-1000)")
	c.AddCommand(verify, list)
	return c
}
