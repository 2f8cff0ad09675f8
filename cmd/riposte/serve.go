package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only when RIPOSTE_PPROF names an address
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/server"
)

// loadConfig layers defaults, the file, RIPOSTE_* variables and the flags
// that were set, then validates the result.
func loadConfig(c *cobra.Command, path string) (config.Config, error) {
	if path == "" {
		path = os.Getenv("RIPOSTE_CONFIG")
	}
	cfg, lines, err := config.LoadFile(path)
	if err != nil {
		return cfg, &exitError{code: 2, err: fmt.Errorf("config %s:\n%v", path, err)}
	}
	if err := cfg.Env(os.Getenv); err != nil {
		return cfg, &exitError{code: 2, err: err}
	}
	flags := c.Flags()
	for name, dst := range map[string]*string{"data": &cfg.Data, "http": &cfg.HTTP.Listen, "syslog": &cfg.Ingest.Syslog.Listen,
		"nats": &cfg.NATS.URL, "nats-listen": &cfg.NATS.Listen, "log-level": &cfg.Log.Level, "db": &cfg.Database.URL} {
		if f := flags.Lookup(name); f != nil && f.Changed {
			*dst = f.Value.String()
		}
	}
	if ps := cfg.Validate(lines); len(ps) > 0 {
		return cfg, &exitError{code: 2, err: fmt.Errorf("invalid configuration:\n%v", ps)}
	}
	return cfg, nil
}

func newLogger(cfg config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func serveCmd() *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run Riposte: ingest, storage, bus and API in one process",
		Long: `Run a Riposte node with everything embedded: SQLite stores and a NATS JetStream
server under the data directory. The first start creates an admin token and says
where to read it. SIGTERM or SIGINT stops it after in-flight work is stored.

Settings come from defaults, then --config FILE, then RIPOSTE_* variables, then flags.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig(c, cfgPath)
			if err != nil {
				return err
			}
			if addr := os.Getenv("RIPOSTE_PPROF"); addr != "" {
				// Profiling stays off unless asked for: it exposes internals.
				go func() { _ = http.ListenAndServe(addr, nil) }()
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return server.Run(ctx, cfg, newLogger(cfg), version)
		},
	}
	f := c.Flags()
	f.StringVar(&cfgPath, "config", "", "YAML configuration file (or RIPOSTE_CONFIG)")
	f.String("data", "./riposte-data", "data directory (RIPOSTE_DATA)")
	f.String("http", "127.0.0.1:8080", "API listen address (RIPOSTE_HTTP)")
	f.String("syslog", "127.0.0.1:5514", "syslog UDP and TCP listen address, empty to disable (RIPOSTE_SYSLOG)")
	f.String("nats", "", "external NATS JetStream URL; empty runs NATS embedded (RIPOSTE_NATS_URL)")
	f.String("nats-listen", "127.0.0.1:4223", "embedded NATS listen address (RIPOSTE_NATS_LISTEN)")
	f.String("log-level", "info", "debug, info, warn or error (RIPOSTE_LOG_LEVEL)")
	f.String("db", "", "PostgreSQL URL (postgres://…) for all databases; empty keeps SQLite files in the data directory (RIPOSTE_DB_URL)")
	return c
}

func configCmd() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Work with configuration files"}
	c.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file; every problem is named with its line",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, lines, err := config.LoadFile(args[0])
			var ps config.Problems
			if err != nil {
				var ok bool
				if ps, ok = err.(config.Problems); !ok {
					return &exitError{code: 2, err: err}
				}
			}
			// Check the meaning of what did read, so one run names every
			// problem; skip keys already reported as unreadable.
			bad := map[string]bool{}
			for _, p := range ps {
				bad[p.Path] = true
			}
			for _, p := range cfg.Validate(lines) {
				if !bad[p.Path] {
					ps = append(ps, p)
				}
			}
			// What serve checks before it starts (connector and notify
			// settings, read by their own packages) is checked here too.
			if !bad["connectors"] && !bad["notify"] {
				for _, err := range server.Check(cfg) {
					ps = append(ps, config.Problem{Path: "serve", Msg: err.Error()})
				}
			}
			if len(ps) > 0 {
				sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
				for _, p := range ps {
					fmt.Fprintf(c.ErrOrStderr(), "%s:%s\n", args[0], trimLine(p))
				}
				return negative("%s: %d problem(s)", args[0], len(ps))
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: valid\n", args[0])
			return nil
		},
	})
	return c
}

// trimLine formats a problem as "LINE: path: message" after the file name,
// the form editors and CI annotate.
func trimLine(p config.Problem) string {
	if p.Line > 0 {
		return fmt.Sprintf("%d: %s: %s", p.Line, p.Path, p.Msg)
	}
	return fmt.Sprintf(" %s: %s", p.Path, p.Msg)
}
