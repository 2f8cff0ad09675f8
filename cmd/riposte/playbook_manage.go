package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/playbook"
	"github.com/riposte-soar/riposte/rulestore"
)

// playbookManageCmds are the playbook commands that change or read a
// stored playbook's state: enable, disable, rollback, history, and the
// starter library.
func playbookManageCmds() []*cobra.Command {
	var server, token, output string
	with := func(cmd *cobra.Command) *cobra.Command {
		serverFlags(cmd, &server, &token)
		return cmd
	}
	toggle := func(verb, short string) *cobra.Command {
		return with(&cobra.Command{
			Use:   verb + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				cl, err := newClient(server, token)
				if err != nil {
					return err
				}
				if err := cl.call("POST", "/api/v1/playbooks/"+url.PathEscape(args[0])+"/"+verb, nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%s %sd\n", safe(args[0]), verb)
				return nil
			},
		})
	}
	rollback := rollbackCmd("playbooks", "Make an earlier version of a playbook current again (stored as a new version)",
		" (riposte playbook history ID lists them)", "why (kept in the playbook's history)")

	history := with(&cobra.Command{
		Use:   "history ID",
		Short: "Every version of a playbook: author, time, reason",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return printList(c, server, token, output, "/api/v1/playbooks/"+url.PathEscape(args[0])+"/versions", "versions",
				"VERSION\tAUTHOR\tCREATED\tREASON",
				func(v rulestore.Version) []any { return []any{v.Version, v.Author, stamp(v.CreatedAt), dash(v.Reason)} })
		},
	})
	outputFlag(history, &output)

	return []*cobra.Command{
		toggle("enable", "Arm a disabled playbook's triggers again"),
		toggle("disable", "Stop a playbook's triggers (it stays stored, runs by hand still work)"),
		rollback, history, libraryCmd(),
	}
}

// libraryEntry is one starter playbook embedded in the binary.
type libraryEntry struct {
	Name     string   `json:"name"` // the file name without .yaml: what import takes
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Triggers []string `json:"triggers"`
	body     []byte
}

// starterPlaybooks reads the embedded library, in name order.
func starterPlaybooks() ([]libraryEntry, error) {
	names, err := fs.Glob(playbook.Library, "library/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []libraryEntry
	for _, n := range names {
		b, err := playbook.Library.ReadFile(n)
		if err != nil {
			return nil, err
		}
		p, errs := playbook.ParseYAML(b)
		if playbook.HasErrors(errs) {
			return nil, fmt.Errorf("starter playbook %s: %v", n, playbook.Errors(errs)[0])
		}
		out = append(out, libraryEntry{Name: strings.TrimSuffix(path.Base(n), ".yaml"), ID: p.ID, Title: p.Name, Triggers: triggerKinds(p), body: b})
	}
	return out, nil
}

// triggerKinds names what starts a playbook: alert, incident, schedule,
// webhook, manual.
func triggerKinds(p *playbook.Playbook) []string {
	var k []string
	if t := p.Trigger; t != nil {
		if t.Alert != nil {
			k = append(k, "alert")
		}
		if t.Incident != nil {
			k = append(k, "incident")
		}
		if t.Schedule != nil {
			k = append(k, "schedule")
		}
		if t.Webhook != nil {
			k = append(k, "webhook")
		}
		if t.Manual {
			k = append(k, "manual")
		}
	}
	return k
}

func libraryCmd() *cobra.Command {
	c := &cobra.Command{Use: "library", Short: "The starter playbooks built into riposte: list them, import one by name"}
	var server, token, output, reason string
	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "The starter playbooks: name (for import), id, title, triggers",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			lib, err := starterPlaybooks()
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), lib)
			}
			t := newTable(c.OutOrStdout(), "NAME\tID\tTRIGGERS\tTITLE")
			for _, e := range lib {
				t.row(e.Name, e.ID, dash(strings.Join(e.Triggers, ",")), e.Title)
			}
			return t.flush()
		},
	}
	outputFlag(list, &output)
	imp := &cobra.Command{
		Use:   "import NAME... | --all",
		Short: "Store starter playbooks on the server by name (as their next version; triggers armed)",
		RunE: func(c *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return &exitError{code: 2, err: fmt.Errorf("name the starter playbooks to import, or pass --all (riposte playbook library list names them)")}
			}
			lib, err := starterPlaybooks()
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			byName := map[string]libraryEntry{}
			var names []string
			for _, e := range lib {
				byName[e.Name] = e
				names = append(names, e.Name)
			}
			pick := lib
			if !all {
				pick = nil
				for _, a := range args {
					e, ok := byName[strings.TrimSuffix(a, ".yaml")]
					if !ok {
						return negative("no starter playbook %q: there are %s", a, strings.Join(names, ", "))
					}
					pick = append(pick, e)
				}
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			why := reason
			if why == "" {
				why = "imported from the starter library"
			}
			for _, e := range pick {
				var v rulestore.Version
				if err := cl.call("POST", "/api/v1/playbooks", map[string]string{"body": string(e.body), "reason": why}, &v); err != nil {
					// Importing again what is already current is done, not
					// a failure: --all can be run after every upgrade.
					var ae *apiError
					if errors.As(err, &ae) && ae.status == http.StatusConflict {
						fmt.Fprintf(c.OutOrStdout(), "%s: %s already current, unchanged\n", safe(e.Name), safe(e.ID))
						continue
					}
					return fmt.Errorf("%s: %w", e.Name, err)
				}
				fmt.Fprintf(c.OutOrStdout(), "%s: %s version %d stored\n", safe(e.Name), safe(v.RuleID), v.Version)
			}
			return nil
		},
	}
	serverFlags(imp, &server, &token)
	imp.Flags().BoolVar(&all, "all", false, "import every starter playbook")
	imp.Flags().StringVar(&reason, "reason", "", "why (kept in each playbook's history)")
	c.AddCommand(list, imp)
	return c
}
