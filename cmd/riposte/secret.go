package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/secret"
)

// secretCmd manages the secret store. A value is read from stdin or a file,
// never from an argument, so it lands in no shell history or process list.
func secretCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "secret",
		Short: "Set, list and delete secrets (credentials referenced as secret://NAME)",
		Long: `Secrets are credentials that connectors send to other products, referenced
as secret://NAME in the configuration and playbooks. They are encrypted at rest
(DATA/secret.key, or RIPOSTE_SECRET_KEY) and never shown again once set.

With --data, or when neither --server nor RIPOSTE_SERVER is given, the commands
work on the data directory (server running or not); otherwise they go through
the API of the server (admin token).`,
	}
	var data, server, token, file, output string
	// remote reports whether to use the API: a server was named and a data
	// directory was not.
	remote := func(c *cobra.Command) bool {
		if c.Flags().Changed("data") {
			return false
		}
		return c.Flags().Changed("server") || os.Getenv("RIPOSTE_SERVER") != ""
	}
	flags := func(c *cobra.Command) {
		dataFlag(c, &data)
		serverFlags(c, &server, &token)
	}

	set := &cobra.Command{
		Use:   "set NAME",
		Short: "Create or replace (rotate) a secret; the value comes from stdin or --file",
		Example: `  printf '%s' "$TOKEN" | riposte secret set firewall-api
  riposte secret set webhooks/phishing-report --file hook.key`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			if err := secret.CheckName(name); err != nil {
				return &exitError{code: 2, err: err}
			}
			value, err := readValue(c.InOrStdin(), file)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if remote(c) {
				cl, err := newClient(server, token)
				if err != nil {
					return err
				}
				var m secret.Meta
				if err := cl.call("PUT", "/api/v1/secrets/"+url.PathEscape(name), map[string]string{"value": string(value)}, &m); err != nil {
					return err
				}
			} else {
				s, closeDB, err := openSecretStore(data)
				if err != nil {
					return err
				}
				defer closeDB()
				ctx := context.Background()
				// A store whose other secrets do not open with this key
				// would end up with values under two keys.
				if err := s.Verify(ctx); err != nil {
					return &exitError{code: 2, err: err}
				}
				if err := s.Set(ctx, name, value, "cli"); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			fmt.Fprintf(c.OutOrStdout(), "secret %s set (%d bytes)\n", safe(name), len(value))
			return nil
		},
	}
	flags(set)
	set.Flags().StringVar(&file, "file", "", "read the value from this file instead of stdin")

	list := &cobra.Command{
		Use:   "list",
		Short: "List secrets: names, sizes, who set them and when; never a value",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var ms []secret.Meta
			if remote(c) {
				cl, err := newClient(server, token)
				if err != nil {
					return err
				}
				var out struct {
					Secrets []secret.Meta `json:"secrets"`
				}
				if err := cl.call("GET", "/api/v1/secrets", nil, &out); err != nil {
					return err
				}
				ms = out.Secrets
			} else {
				s, closeDB, err := openSecretStore(data)
				if err != nil {
					return err
				}
				defer closeDB()
				if ms, err = s.List(context.Background()); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			if output == "json" {
				if ms == nil {
					ms = []secret.Meta{}
				}
				return writeJSON(c.OutOrStdout(), ms)
			}
			tab := newTable(c.OutOrStdout(), "NAME\tSIZE\tCREATED\tCREATED BY\tUPDATED\tUPDATED BY")
			for _, m := range ms {
				tab.row(m.Name, fmt.Sprint(m.Size), stamp(m.CreatedAt), m.CreatedBy, stamp(m.UpdatedAt), m.UpdatedBy)
			}
			return tab.flush()
		},
	}
	flags(list)
	outputFlag(list, &output)

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a secret (references to it then fail, naming it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			if remote(c) {
				cl, err := newClient(server, token)
				if err != nil {
					return err
				}
				if err := cl.call("DELETE", "/api/v1/secrets/"+url.PathEscape(name), nil, nil); err != nil {
					return err
				}
			} else {
				s, closeDB, err := openSecretStore(data)
				if err != nil {
					return err
				}
				defer closeDB()
				if err := s.Delete(context.Background(), name, "cli"); err != nil {
					if errors.Is(err, secret.ErrNotFound) {
						return negative("%v", err)
					}
					return &exitError{code: 2, err: err}
				}
			}
			fmt.Fprintln(c.OutOrStdout(), "deleted", safe(name))
			return nil
		},
	}
	flags(del)
	c.AddCommand(set, list, del)
	return c
}

func openSecretStore(data string) (*secret.Store, func(), error) {
	db, err := openData(data)
	if err != nil {
		return nil, nil, err
	}
	s, err := secret.Open(db, data)
	if err != nil {
		db.Close()
		return nil, nil, &exitError{code: 2, err: err}
	}
	return s, func() { db.Close() }, nil
}

// readValue reads a secret from file or stdin. One trailing newline is
// dropped: `echo TOKEN |` and editors add one that is not part of the
// credential (a header value cannot hold it anyway).
func readValue(stdin io.Reader, file string) ([]byte, error) {
	var b []byte
	var err error
	if file != "" {
		b, err = os.ReadFile(file)
	} else {
		b, err = io.ReadAll(io.LimitReader(stdin, secret.MaxValue+2))
	}
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return nil, errors.New("the value is empty: give it on stdin or with --file")
	}
	return b, nil
}
