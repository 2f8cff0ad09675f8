package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/server"
	"github.com/riposte-soar/riposte/store"
)

// dataFlag adds --data to commands that work on a data directory directly,
// whether or not a server is running on it (SQLite WAL lets both write).
func dataFlag(c *cobra.Command, dst *string) {
	def := os.Getenv("RIPOSTE_DATA")
	if def == "" {
		def = "./riposte-data"
	}
	c.Flags().StringVar(dst, "data", def, "data directory (RIPOSTE_DATA)")
}

// outputFlag adds --output text|json.
func outputFlag(c *cobra.Command, dst *string) {
	c.Flags().StringVarP(dst, "output", "o", "text", "text or json")
}

func checkOutput(o string) error {
	if o != "text" && o != "json" {
		return &exitError{code: 2, err: fmt.Errorf("--output %q: want text or json", o)}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// openData opens a data directory's control database, refusing to create a
// new one by accident when the directory does not exist.
func openData(data string) (*store.DB, error) {
	if _, err := os.Stat(data); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("data directory %s: %v (start riposte serve once, or pass --data)", data, err)}
	}
	db, err := server.OpenControl(data, "full")
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return db, nil
}

// printList fetches one list from the server and prints it as JSON or as a
// table, so every list command reads and fails the same way. key names the
// answer's field that holds the list; header is the tab-separated columns.
func printList[T any](c *cobra.Command, server, token, output, path, key, header string, row func(w io.Writer, item T)) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	cl, err := newClient(server, token)
	if err != nil {
		return err
	}
	var res map[string]json.RawMessage
	if err := cl.call("GET", path, nil, &res); err != nil {
		return err
	}
	var items []T
	if raw, ok := res[key]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("server's %s: %w", key, err)
		}
	}
	if output == "json" {
		return writeJSON(c.OutOrStdout(), items)
	}
	tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		row(tw, it)
	}
	return tw.Flush()
}
