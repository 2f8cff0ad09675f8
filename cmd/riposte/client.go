package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// serverFlags adds --server and --token, defaulting to RIPOSTE_SERVER and
// RIPOSTE_TOKEN, for commands that talk to a running server.
func serverFlags(c *cobra.Command, server, token *string) {
	def := os.Getenv("RIPOSTE_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	c.Flags().StringVar(server, "server", def, "Riposte server URL (RIPOSTE_SERVER)")
	secretFlag(c, token, "token", "RIPOSTE_TOKEN", "API token")
}

// secretFlag adds a string flag whose default comes from the variable env
// without showing it: --help prints "(from ENV)" instead of the secret,
// which would otherwise land in terminals, screenshots and bug reports.
func secretFlag(c *cobra.Command, dst *string, name, env, usage string) {
	val := os.Getenv(env)
	c.Flags().StringVar(dst, name, val, usage+" (or "+env+")")
	if val != "" {
		f := c.Flags().Lookup(name)
		f.DefValue = ""
		f.Usage = usage + " (from " + env + ")"
	}
}

func needToken(token string) error {
	if strings.TrimSpace(token) == "" {
		return &exitError{code: 2, err: fmt.Errorf("no token: pass --token or set RIPOSTE_TOKEN (riposte token create makes one)")}
	}
	return nil
}
