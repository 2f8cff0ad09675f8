package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/internal/termsafe"
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

// writeJSON writes v as indented JSON, exact: it bypasses the terminal
// escaping of text output (see main), and termsafe.JSON only turns raw
// DEL, C1 and bidi runes into \u escapes of the same value.
func writeJSON(w io.Writer, v any) error {
	w = rawOut(w)
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(termsafe.JSON(b), '\n'))
	return err
}

// rawOut is w without the terminal escaping, for machine formats that
// must stay exact (JSON, exported documents) and for our own control
// characters (a progress bar's carriage return).
func rawOut(w io.Writer) io.Writer {
	if sw, ok := w.(*termsafe.Writer); ok {
		sw.Flush()
		return sw.Raw()
	}
	return w
}

// table prints aligned columns for people. Every cell goes through
// termsafe.Field, so a value from an event, a token or a rule can neither
// drive the terminal nor break the columns with a tab or a newline.
type table struct{ tw *tabwriter.Writer }

// newTable starts a table; header holds tab-separated column names.
func newTable(w io.Writer, header string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	if header != "" {
		fmt.Fprintln(t.tw, header)
	}
	return t
}

// row adds a row; a cell is formatted with fmt.Sprint, then escaped.
func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		io.WriteString(t.tw, termsafe.Field(fmt.Sprint(c)))
	}
	io.WriteString(t.tw, "\n")
}

func (t *table) flush() error { return t.tw.Flush() }

// safe escapes one untrusted value for plain text output.
func safe(s string) string { return termsafe.Field(s) }

// joinSafe escapes each value, then joins them.
func joinSafe(vals []string, sep string) string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = safe(v)
	}
	return strings.Join(out, sep)
}

// openData opens a data directory's control database, refusing to create a
// new one by accident when the directory does not exist.
func openData(data string) (*store.DB, error) {
	if _, err := os.Stat(data); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("data directory %s: %v (start riposte serve once, or pass --data)", data, err)}
	}
	db, err := server.OpenControl(data)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return db, nil
}

// printList fetches one list from the server and prints it as JSON or as a
// table, so every list command reads and fails the same way. key names the
// answer's field that holds the list; header is the tab-separated columns;
// row gives an item's cells, which the table escapes.
func printList[T any](c *cobra.Command, server, token, output, path, key, header string, row func(item T) []any) error {
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
	t := newTable(c.OutOrStdout(), header)
	for _, it := range items {
		t.row(row(it)...)
	}
	return t.flush()
}
