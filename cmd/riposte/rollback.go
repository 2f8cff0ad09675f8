package main

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/rulestore"
)

// rollbackCmd makes an earlier version of a stored rule or playbook current
// again: both are versioned by the rule store and rolled back the same way,
// under /api/v1/<collection>/ID/rollback.
func rollbackCmd(collection, short, toHelp, reasonHelp string) *cobra.Command {
	var server, token, reason string
	var to int
	cmd := &cobra.Command{
		Use:   "rollback ID --to VERSION",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if to < 1 {
				return &exitError{code: 2, err: fmt.Errorf("--to VERSION is required%s", toHelp)}
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var v rulestore.Version
			if err := cl.call("POST", "/api/v1/"+collection+"/"+url.PathEscape(args[0])+"/rollback",
				map[string]any{"version": to, "reason": reason}, &v); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s version %d restores version %d\n", safe(v.RuleID), v.Version, to)
			return nil
		},
	}
	serverFlags(cmd, &server, &token)
	cmd.Flags().IntVar(&to, "to", 0, "version to restore")
	cmd.Flags().StringVar(&reason, "reason", "", reasonHelp)
	return cmd
}
