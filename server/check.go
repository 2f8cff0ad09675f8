package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/agent"
	"github.com/riposte-soar/riposte/connector/all"
	"github.com/riposte-soar/riposte/slackapprove"
)

// Check makes the checks that serve makes before it opens anything, on
// the sections their own packages read (connectors, notify): config
// validation cannot see into them. `riposte config check` runs it too, so
// a file that check accepts is one that serve starts with.
func Check(cfg config.Config) []error {
	var errs []error
	deps, err := connectorDeps(cfg, nil)
	if err != nil {
		errs = append(errs, err)
	} else {
		if err := all.Register(connector.NewRegistry(), deps); err != nil {
			errs = append(errs, err)
		}
		// Serve builds the agent connector with the fleet; its settings
		// are checked the same way without one.
		if _, err := agent.New(nil, nil, deps.Agent); err != nil {
			errs = append(errs, fmt.Errorf("connector agent: %w", err))
		}
	}
	if _, err := slackapprove.ParseConfig(cfg.Slack.YAML, cfg.Slack.Line); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkSecretsOnDisk(cfg)...)
	n, err := newNotifier(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		errs = append(errs, err)
	} else {
		n.Close(context.Background())
	}
	return errs
}
