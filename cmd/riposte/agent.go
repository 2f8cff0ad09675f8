package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/agent"
	"github.com/riposte-soar/riposte/agent/firewall"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
)

// agentFile is the agent's configuration file.
type agentFile struct {
	agent.Config `yaml:",inline"`
	LogLevel     string `yaml:"log_level"`
}

func agentCmd() *cobra.Command {
	var cfgPath, enrollToken string
	var segments []string
	c := &cobra.Command{
		Use:   "agent",
		Short: "Run the host agent (root, Linux): enforce decisions with nftables and execute signed OpenC2 commands",
		Long: `Run the Riposte host agent on a protected Linux host. The first start enrolls
with a one-time token (riposte agent token create, on the server) and keeps
the identity in the data directory; later starts reuse it. The agent
re-applies the decisions it holds before it connects, so a restart never
leaves the host unprotected.

With --mode gateway (on a Linux router or firewall, ip_forward on) the
agent's blocks also apply to the traffic it routes, protecting every host
behind it, and it quarantines the segments it declares (--segment CIDR,
repeatable) when a contain_segment decision names them.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg := agentFile{Config: agent.Config{Data: "/var/lib/riposte-agent"}, LogLevel: "info"}
			if cfgPath != "" {
				b, err := os.ReadFile(cfgPath)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				if err := yaml.UnmarshalWithOptions(b, &cfg, yaml.Strict()); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("%s: %v", cfgPath, err)}
				}
			}
			fl := c.Flags()
			if fl.Changed("segment") {
				cfg.Segments = segments
			}
			for name, dst := range map[string]*string{"server": &cfg.Server, "data": &cfg.Data, "hostname": &cfg.Hostname, "table": &cfg.Table, "log-level": &cfg.LogLevel, "ca": &cfg.CA, "mode": &cfg.Mode} {
				if f := fl.Lookup(name); f.Changed || *dst == "" {
					*dst = f.Value.String()
				}
			}
			for name, dst := range map[string]*time.Duration{"heartbeat": &cfg.Heartbeat, "reconcile": &cfg.Reconcile} {
				if f := fl.Lookup(name); f.Changed {
					d, _ := time.ParseDuration(f.Value.String())
					*dst = d
				}
			}
			if enrollToken == "" {
				enrollToken = os.Getenv("RIPOSTE_ENROLL_TOKEN")
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--log-level %q: %v", cfg.LogLevel, err)}
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
			cfg.Version = version
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			a, err := agent.Open(ctx, cfg.Config, enrollToken, nil, log)
			if err != nil {
				return err
			}
			defer a.Close()
			return a.Run(ctx)
		},
	}
	f := c.Flags()
	f.StringVar(&cfgPath, "config", "", "agent YAML configuration (server, data, hostname, host operations' allowlists)")
	f.StringVar(&enrollToken, "enroll-token", "", "one-time enrollment token for the first start (or RIPOSTE_ENROLL_TOKEN)")
	f.String("server", "http://127.0.0.1:8080", "the Riposte server's API address")
	f.String("data", "/var/lib/riposte-agent", "identity, held decisions, quarantine")
	f.String("hostname", "", "the host's name in Riposte (default: the kernel's)")
	f.String("table", "riposte", "the nftables table the agent owns")
	f.String("ca", "", "PEM file of the CA that signed the server's HTTPS and bus certificates (default: system roots)")
	f.Duration("heartbeat", 5*time.Second, "inventory and held-decisions report interval")
	f.Duration("reconcile", 2*time.Second, "firewall comparison interval")
	f.String("log-level", "info", "debug, info, warn or error")
	f.String("mode", "host", "host, or gateway (a router: blocks apply to routed traffic, segments can be quarantined)")
	f.StringArrayVar(&segments, "segment", nil, "a network behind the gateway (CIDR; repeatable; mode gateway)")
	c.AddCommand(agentTokenCmd(), agentListCmd(), agentRevokeCmd(), agentBreakGlassCmd(), agentReleaseCmd(), agentUninstallCmd())
	return c
}

func agentTokenCmd() *cobra.Command {
	t := &cobra.Command{Use: "token", Short: "Enrollment tokens for new agents"}
	var server, token, ttl string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a one-time enrollment token (printed once on stdout)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var out struct {
				Token   string    `json:"token"`
				Expires time.Time `json:"expires"`
			}
			if err := cl.call("POST", "/api/v1/agents/tokens", map[string]string{"ttl": ttl}, &out); err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), safe(out.Token))
			fmt.Fprintf(c.ErrOrStderr(), "valid until %s, once\n", stamp(out.Expires))
			return nil
		},
	}
	create.Flags().StringVar(&ttl, "ttl", "24h", "how long the token may be used")
	serverFlags(create, &server, &token)
	t.AddCommand(create)
	return t
}

func agentListCmd() *cobra.Command {
	var server, token, output string
	l := &cobra.Command{
		Use:   "list",
		Short: "Enrolled agents, their addresses and last heartbeat",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return printList(c, server, token, output, "/api/v1/agents", "agents", "ID\tHOSTNAME\tMODE\tADDRESSES\tVERSION\tLAST SEEN\tRULES\tCONTAINED",
				func(a fleet.Agent) []any {
					seen := "never"
					if !a.LastSeen.IsZero() {
						seen = stamp(a.LastSeen)
					}
					if a.Revoked {
						seen = "revoked"
					}
					mode := "host"
					if a.Gateway() {
						mode = "gateway " + strings.Join(a.Segments, ",")
					}
					return []any{a.ID, a.Hostname, safe(mode), strings.Join(a.Addresses, ","), dash(a.Version), seen, len(a.Rules) + len(a.Quarantined), a.Contained != 0}
				})
		},
	}
	outputFlag(l, &output)
	serverFlags(l, &server, &token)
	return l
}

func agentRevokeCmd() *cobra.Command {
	var server, token string
	r := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an agent's credential",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			if err := cl.call("POST", "/api/v1/agents/"+url.PathEscape(args[0])+"/revoke", nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), "revoked", args[0])
			return nil
		},
	}
	serverFlags(r, &server, &token)
	return r
}

func agentBreakGlassCmd() *cobra.Command {
	var server, token, reason, ttl string
	b := &cobra.Command{
		Use:   "breakglass HOST --reason R",
		Short: "Lift a host's isolation when the server cannot reach it: prints a one-time release token for root on the host",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var out struct {
				Token    string              `json:"token"`
				Reverted []decision.Decision `json:"reverted"`
			}
			if err := cl.call("POST", "/api/v1/agents/breakglass", map[string]string{"host": args[0], "reason": reason, "ttl": ttl}, &out); err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), safe(out.Token))
			fmt.Fprintf(c.ErrOrStderr(), "%d isolation decision(s) reverted; on %s, as root: riposte agent release TOKEN (valid %s, once)\n", len(out.Reverted), args[0], ttl)
			return nil
		},
	}
	b.Flags().StringVar(&reason, "reason", "", "why (required; kept in the audit log)")
	b.Flags().StringVar(&ttl, "ttl", "1h", "how long the token may be used (at most 24h)")
	serverFlags(b, &server, &token)
	return b
}

func agentReleaseCmd() *cobra.Command {
	var data, table string
	r := &cobra.Command{
		Use:   "release TOKEN",
		Short: "On the host, as root: lift isolation with a break-glass token (through the running agent, or directly when it is not running)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			env, err := fleet.DecodeToken(args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			rsp, err := agent.SendLocal(data, env)
			if err == nil {
				if rsp.Status != 200 {
					return negative("the agent refused: %d %s", rsp.Status, safe(rsp.StatusText))
				}
				fmt.Fprintln(c.OutOrStdout(), "isolation lifted by the running agent")
				return nil
			}
			if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
				// An agent is there but did not answer: lifting behind its
				// back would be undone by it from memory.
				return &exitError{code: 2, err: fmt.Errorf("the running agent did not answer: %w", err)}
			}
			// No agent running: apply it here, so that the next start
			// does not restore the isolation either.
			cfg := agent.Config{Data: data, Table: table}
			err = agent.ReleaseOffline(context.Background(), cfg, env, func() error {
				fw, err := firewall.Open(table)
				if err != nil {
					return err
				}
				defer fw.Close()
				return fw.Release()
			})
			if err != nil {
				return negative("%v", err)
			}
			fmt.Fprintln(c.OutOrStdout(), "isolation lifted (the agent is not running; it will stay lifted when it starts)")
			return nil
		},
	}
	r.Flags().StringVar(&data, "data", "/var/lib/riposte-agent", "the agent's data directory")
	r.Flags().StringVar(&table, "table", "riposte", "the agent's nftables table")
	return r
}
