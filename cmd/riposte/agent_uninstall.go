package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/agent"
)

func agentUninstallCmd() *cobra.Command {
	var cfgPath, data, table string
	var purge bool
	u := &cobra.Command{
		Use:   "uninstall",
		Short: "On the host, as root, with the agent stopped: delete the agent's nftables tables and its state",
		Long: `Delete what the agent put on this host: its nftables tables (the
decisions it enforces and, if the host is isolated, the isolation) and its
state (identity, held decisions, host operations' folders). Stop the agent
first (systemctl stop riposte-agent); a running agent would put its tables
back. Files it quarantined, configuration backups and saved accounts or
services are what undoes its host actions: while any is left, uninstall
refuses unless --purge. Revoke the agent on the server afterwards
(riposte agent revoke ID).`,
		Example: `  sudo systemctl stop riposte-agent
  sudo riposte agent uninstall --config /etc/riposte/agent.yaml
  riposte agent revoke 01JAGENT...   # on the server`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg := agentFile{Config: agent.Config{Data: "/var/lib/riposte-agent"}}
			if cfgPath != "" {
				b, err := os.ReadFile(cfgPath)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				if err := yaml.UnmarshalWithOptions(b, &cfg, yaml.Strict()); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("%s: %v", cfgPath, err)}
				}
			}
			if c.Flags().Changed("data") || cfg.Data == "" {
				cfg.Data = data
			}
			if c.Flags().Changed("table") || cfg.Table == "" {
				cfg.Table = table
			}
			res, err := agent.Uninstall(cfg.Config, purge)
			var held *agent.UndoMaterialError
			if errors.As(err, &held) {
				return negative("%v", err)
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			w := c.OutOrStdout()
			fmt.Fprintf(w, "deleted nftables tables %s\n", strings.Join(res.Tables, ", "))
			for _, d := range res.Removed {
				fmt.Fprintf(w, "removed %s\n", d)
			}
			if res.AgentID != "" {
				fmt.Fprintf(w, "on the server, revoke its credential: riposte agent revoke %s\n", safe(res.AgentID))
			}
			return nil
		},
	}
	f := u.Flags()
	f.StringVar(&cfgPath, "config", "", "the agent's YAML configuration (data, table, host_ops.data_dir)")
	f.StringVar(&data, "data", "/var/lib/riposte-agent", "the agent's data directory")
	f.StringVar(&table, "table", "riposte", "the agent's nftables table")
	f.BoolVar(&purge, "purge", false, "also delete quarantined files, configuration backups and saved accounts and services (their actions can no longer be undone)")
	return u
}
