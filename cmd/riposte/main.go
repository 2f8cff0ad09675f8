// Command riposte is the whole of Riposte in one binary: the server
// (serve), and the commands people and scripts use against a data directory
// or a running server. Exit codes: 0 success, 1 a negative answer (invalid,
// not found, broken), 2 a usage or I/O error; the reason goes to stderr.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/internal/buildinfo"
	"github.com/riposte-soar/riposte/internal/termsafe"
)

// version is the module version the go tool stamped (see buildinfo),
// reported by the server and the agent.
var version = buildinfo.Get().Version

// exitError carries an exit code with the message for stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// negative is an answer of "no" (exit 1), as opposed to a failure (exit 2).
func negative(format string, a ...any) error {
	return &exitError{code: 1, err: fmt.Errorf(format, a...)}
}

func main() {
	root := newRoot()
	// Everything a command prints for people passes the terminal escaper:
	// values come from events, tokens and rules we do not trust, and a
	// command that forgets termsafe.Field still cannot drive the terminal.
	// JSON output bypasses it (see writeJSON).
	stdout, stderr := termsafe.NewWriter(os.Stdout), termsafe.NewWriter(os.Stderr)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	stdout.Flush()
	if err != nil {
		fmt.Fprintln(stderr, "riposte:", err)
		stderr.Flush()
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(2)
	}
}

// newRoot builds the whole command tree.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "riposte",
		Short:         "Riposte: security orchestration, automation and response in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Get().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: 2, err: fmt.Errorf("%v (see %s --help)", err, c.CommandPath())}
	})
	root.AddCommand(serveCmd(), configCmd(), tokenCmd(), userCmd(), secretCmd(), bouncerCmd(), feedCmd(), auditCmd(), rulesCmd(), incidentCmd(), alertCmd(), silenceCmd(), assetCmd(),
		eventsCmd(), metricsCmd(), playbookCmd(), runCmd(), approvalCmd(), decisionCmd(), openc2Cmd(), agentCmd(), evidenceCmd(), benchCmd(), clusterCmd(), versionCmd())
	root.AddCommand(natsCmd())
	strictParents(root)
	addExamples(root)
	return root
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the module version, VCS revision and Go version of this binary",
		Args:  cobra.NoArgs,
		Run:   func(c *cobra.Command, _ []string) { fmt.Fprintln(c.OutOrStdout(), buildinfo.Get()) },
	}
}
