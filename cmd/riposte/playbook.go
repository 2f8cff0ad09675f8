package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/all"
	"github.com/riposte-soar/riposte/connector/recovery"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/internal/termsafe"
	"github.com/riposte-soar/riposte/playbook"
	"github.com/riposte-soar/riposte/respond"
	"github.com/riposte-soar/riposte/rulestore"
	"github.com/riposte-soar/riposte/secret"
)

// localRegistry holds the connectors whose declarations a playbook is
// checked against offline; the incident, notify, agent and recovery
// connectors are declared
// with services that refuse to act (offline there is nothing to act on),
// so validation and dry runs know their operations.
func localRegistry() (*connector.Registry, error) {
	reg := connector.NewRegistry()
	err := all.Register(reg, all.Deps{Incidents: offline{}, Notifier: offline{}, Agents: offline{}, Decisions: offline{}, Recovery: recovery.New()})
	return reg, err
}

func playbookCmd() *cobra.Command {
	c := &cobra.Command{Use: "playbook", Short: "Validate, convert, dry-run and manage playbooks"}
	var strict bool
	var schemas, format, output, inputFile, server, token, reason, incident string
	var dryRun, again, repair bool
	var dataDir string
	var repairedOut string

	var check func(data []byte) (*playbook.Playbook, []playbook.Error, error)
	read := func(path string) (*playbook.Playbook, []playbook.Error, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, &exitError{code: 2, err: err}
		}
		return check(data)
	}
	check = func(data []byte) (*playbook.Playbook, []playbook.Error, error) {
		var err error
		var v *playbook.SchemaValidator
		if schemas != "" {
			if v, err = playbook.NewSchemaValidator(schemas); err != nil {
				return nil, nil, &exitError{code: 2, err: err}
			}
		} else if strict {
			return nil, nil, &exitError{code: 2, err: fmt.Errorf("--strict needs --schemas DIR (the CACAO JSON schemas)")}
		}
		reg, err := localRegistry()
		if err != nil {
			return nil, nil, &exitError{code: 2, err: err}
		}
		p, errs := respond.Check(data, strict, v, reg)
		return p, errs, nil
	}

	validate := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a playbook (our YAML or CACAO 2.0 JSON): exit 0 when valid, 1 with each error and its path",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if repairedOut != "" && !repair {
				return &exitError{code: 2, err: fmt.Errorf("--write needs --repair")}
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			var reps []playbook.Repair
			if repair {
				if data, reps, err = repairPlaybook(c, args[0], data, output == "json"); err != nil {
					return err
				}
				if repairedOut != "" {
					if err := os.WriteFile(repairedOut, data, 0o644); err != nil {
						return &exitError{code: 2, err: err}
					}
				}
			}
			p, errs, err := check(data)
			if err != nil {
				return err
			}
			secretsChecked := true
			if p != nil && !playbook.HasErrors(errs) {
				refErrs, checked, err := checkPlaybookSecrets(c, p, dataDir, server, token)
				if err != nil {
					return err
				}
				errs, secretsChecked = append(errs, refErrs...), checked
			}
			if output == "json" {
				res := map[string]any{"valid": p != nil && !playbook.HasErrors(errs), "problems": errs, "secrets_checked": secretsChecked}
				if repair {
					res["repairs"] = reps
				}
				writeJSON(c.OutOrStdout(), res)
			} else {
				for _, e := range errs {
					fmt.Fprintf(c.ErrOrStderr(), "%s: %s\n", args[0], e.Error())
				}
			}
			if p == nil || playbook.HasErrors(errs) {
				if len(reps) > 0 {
					if output != "json" {
						fmt.Fprintf(c.ErrOrStderr(), "%s: the lines above are those of the repaired document (--write FILE keeps it)\n", args[0])
					}
					return negative("%s: still %d error(s) after %d repair(s)", args[0], len(playbook.Errors(errs)), len(reps))
				}
				return negative("%s: %d error(s)", args[0], len(playbook.Errors(errs)))
			}
			if len(reps) > 0 {
				// A repair is only worth keeping if the result runs.
				tr, err := simulate(p, map[string]any{})
				if err != nil {
					return negative("%s: repaired, but its dry run could not start: %v", args[0], err)
				}
				if tr.Outcome != "succeeded" {
					return negative("%s: repaired, but its dry run ended %s: %s", args[0], tr.Outcome, tr.Error)
				}
			}
			if output != "json" {
				after := ""
				if len(reps) > 0 {
					after = fmt.Sprintf(", after %d repair(s); its dry run succeeded", len(reps))
				}
				fmt.Fprintf(c.OutOrStdout(), "%s: valid (%s, %d steps%s)\n", args[0], p.Name, len(p.Steps), after)
				if !secretsChecked {
					fmt.Fprintf(c.ErrOrStderr(), "%s: note: its secret:// references were not checked (give --server or --data to check them against a secret store)\n", args[0])
				}
			}
			return nil
		},
	}
	serverFlags(validate, &server, &token)
	dataFlag(validate, &dataDir)
	validate.Flags().BoolVar(&repair, "repair", false, "CACAO: rewrite the deviations other executors' playbooks have (start step, branch ends, key prefixes, missing agents), print each with its JSON path, refuse what cannot be repaired safely")
	validate.Flags().StringVar(&repairedOut, "write", "", "with --repair: write the repaired playbook to this file (also when it still does not validate, to fix by hand)")
	validate.Flags().BoolVar(&strict, "strict", false, "CACAO: validate against the JSON schemas too (needs --schemas)")
	validate.Flags().StringVar(&schemas, "schemas", os.Getenv("RIPOSTE_CACAO_SCHEMAS"), "folder of the CACAO 2.0 JSON schemas (RIPOSTE_CACAO_SCHEMAS)")
	outputFlag(validate, &output)

	convert := &cobra.Command{
		Use:     "export FILE|ID --format cacao|yaml",
		Aliases: []string{"convert"},
		Short:   "Write a playbook (a file, or a stored one by id) on stdout as CACAO 2.0 JSON or our YAML",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			src := args[0]
			if _, err := os.Stat(src); err != nil {
				// Not a file: the current version of a playbook on the server.
				cl, err := newClient(server, token)
				if err != nil {
					return err
				}
				var res struct {
					Version rulestore.Version `json:"version"`
				}
				if err := cl.call("GET", "/api/v1/playbooks/"+url.PathEscape(src), nil, &res); err != nil {
					return err
				}
				tmp, err := os.CreateTemp("", "riposte-export-*.yaml")
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				defer os.Remove(tmp.Name())
				tmp.WriteString(res.Version.Body)
				tmp.Close()
				src = tmp.Name()
			}
			p, errs, err := read(src)
			if err != nil {
				return err
			}
			if p == nil || playbook.HasErrors(errs) {
				for _, e := range errs {
					fmt.Fprintf(c.ErrOrStderr(), "%s: %s\n", args[0], e.Error())
				}
				return negative("%s does not load", args[0])
			}
			var out []byte
			switch format {
			case "cacao":
				out, err = p.CACAO()
				out = termsafe.JSON(out)
			case "yaml":
				out, err = p.YAML()
			default:
				return &exitError{code: 2, err: fmt.Errorf("--format %q: want cacao or yaml", format)}
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			// A document to keep or convert: exact, like JSON output.
			_, err = rawOut(c.OutOrStdout()).Write(out)
			return err
		},
	}
	convert.Flags().StringVar(&format, "format", "cacao", "cacao or yaml")
	serverFlags(convert, &server, &token)

	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Store a playbook on the server as its next version (checked against the server's connectors)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			why := reason
			if repair {
				var reps []playbook.Repair
				if data, reps, err = repairPlaybook(c, args[0], data, false); err != nil {
					return err
				}
				if len(reps) > 0 {
					why = strings.TrimSpace(fmt.Sprintf("%s (repaired on import: %d deviation(s) from CACAO 2.0)", reason, len(reps)))
				}
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var v rulestore.Version
			if err := cl.call("POST", "/api/v1/playbooks", map[string]string{"body": string(data), "reason": why}, &v); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s version %d stored\n", safe(v.RuleID), v.Version)
			return nil
		},
	}
	serverFlags(imp, &server, &token)
	imp.Flags().StringVar(&reason, "reason", "", "why (kept in the playbook's history)")
	imp.Flags().BoolVar(&repair, "repair", false, "CACAO: repair the deviations other executors' playbooks have before storing (see playbook validate --repair)")

	run := &cobra.Command{
		Use:   "run FILE|ID",
		Short: "Dry-run a playbook file (--dry-run, every connector simulated) or start a stored playbook on the server",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			input := map[string]any{}
			if inputFile != "" {
				b, err := os.ReadFile(inputFile)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				if err := json.Unmarshal(b, &input); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--input %s: %v", inputFile, err)}
				}
			}
			if dryRun {
				p, errs, err := read(args[0])
				if err != nil {
					return err
				}
				if p == nil || playbook.HasErrors(errs) {
					for _, e := range errs {
						fmt.Fprintf(c.ErrOrStderr(), "%s: %s\n", args[0], e.Error())
					}
					return negative("%s does not load", args[0])
				}
				reg, _ := localRegistry()
				dir, err := os.MkdirTemp("", "riposte-dry-run")
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				defer os.RemoveAll(dir)
				eng, err := engine.Open(filepath.Join(dir, "engine.db"), reg, engine.Options{Sync: "off"})
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				defer eng.Close()
				vars := map[string]any{}
				for k, v := range input {
					vars[k] = v
				}
				if _, ok := input["incident"]; ok {
					vars["__incident__"] = input["incident"]
				}
				tr, err := eng.DryRun(context.Background(), p, vars)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				if output == "json" {
					if err := writeJSON(c.OutOrStdout(), tr); err != nil {
						return err
					}
				} else {
					printTrace(c.OutOrStdout(), tr, p.Name)
				}
				if tr.Outcome != "succeeded" {
					return negative("dry run ended %s", tr.Outcome)
				}
				return nil
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var res struct{ Run string }
			if err := cl.call("POST", "/api/v1/playbooks/"+url.PathEscape(args[0])+"/runs",
				map[string]any{"incident": incident, "vars": input, "again": again}, &res); err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), safe(res.Run))
			return nil
		},
	}
	run.Flags().BoolVar(&dryRun, "dry-run", false, "simulate every connector and print the trace (steps, status, duration, outputs; --output json for the whole trace)")
	outputFlag(run, &output)
	run.Flags().StringVar(&inputFile, "input", "", "JSON file of input variables (an alert or incident under \"incident\")")
	run.Flags().StringVar(&incident, "incident", "", "incident the run responds to (server runs)")
	run.Flags().BoolVar(&again, "again", false, "start even if the playbook already ran for the incident")
	run.Flags().StringVar(&schemas, "schemas", os.Getenv("RIPOSTE_CACAO_SCHEMAS"), "folder of the CACAO 2.0 JSON schemas")
	serverFlags(run, &server, &token)

	list := &cobra.Command{
		Use:   "list",
		Short: "List the server's playbooks",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return printList(c, server, token, output, "/api/v1/playbooks", "playbooks", "ID\tVERSION\tENABLED\tNAME",
				func(p rulestore.Rule) []any { return []any{p.ID, p.Current, p.Enabled, p.Title} })
		},
	}
	serverFlags(list, &server, &token)
	outputFlag(list, &output)
	c.AddCommand(validate, convert, imp, run, list)
	c.AddCommand(playbookManageCmds()...)
	return c
}

func runCmd() *cobra.Command {
	c := &cobra.Command{Use: "run", Short: "Inspect and cancel playbook runs"}
	var server, token, output, status string
	list := &cobra.Command{
		Use:   "list",
		Short: "Runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return printList(c, server, token, output, "/api/v1/runs?status="+url.QueryEscape(status), "runs", "RUN\tSTATUS\tPLAYBOOK\tVERSION\tUPDATED",
				func(r engine.RunInfo) []any {
					return []any{r.ID, r.Status, r.PlaybookID, r.Version, stamp(r.Updated)}
				})
		},
	}
	list.Flags().StringVar(&status, "status", "", "only runs in this status")
	show := &cobra.Command{
		Use:   "show RUN",
		Short: "A run's trace: each step with its status, duration, what it sent and returned (--output json: the whole trace)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := cl.call("GET", "/api/v1/runs/"+url.PathEscape(args[0]), nil, &raw); err != nil {
				return err
			}
			if output == "json" {
				// As the server sent it: fields this client does not know survive.
				var v any
				json.Unmarshal(raw, &v)
				return writeJSON(c.OutOrStdout(), v)
			}
			var tr engine.Trace
			if err := json.Unmarshal(raw, &tr); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("unreadable trace from the server: %v", err)}
			}
			printTrace(c.OutOrStdout(), tr, "")
			return nil
		},
	}
	cancel := &cobra.Command{
		Use:   "cancel RUN",
		Short: "Cancel a run and its child runs",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			if err := cl.call("POST", "/api/v1/runs/"+url.PathEscape(args[0])+"/cancel", nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), "cancelled", args[0])
			return nil
		},
	}
	for _, cmd := range []*cobra.Command{list, show, cancel} {
		serverFlags(cmd, &server, &token)
	}
	outputFlag(list, &output)
	outputFlag(show, &output)
	c.AddCommand(list, show, cancel)
	return c
}

func approvalCmd() *cobra.Command {
	c := &cobra.Command{Use: "approval", Short: "Answer the questions playbooks ask people"}
	var server, token, output, comment, state string
	var values []string
	list := &cobra.Command{
		Use:   "list",
		Short: "Open approvals (--state all for every one)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return printList(c, server, token, output, "/api/v1/approvals?state="+url.QueryEscape(state), "approvals", "ID\tSTATE\tRUN\tDEADLINE\tQUESTION",
				func(a engine.Inquiry) []any {
					return []any{a.ID, a.State, a.RunID, stamp(a.Deadline), a.Question}
				})
		},
	}
	list.Flags().StringVar(&state, "state", "open", "open, answered, expired, cancelled or all")
	answer := func(verb string) *cobra.Command {
		cmd := &cobra.Command{
			Use:   verb + " ID",
			Short: verb + " an approval, with a comment",
			Args:  cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				cl, err := newClient(server, token)
				if err != nil {
					return err
				}
				form := map[string]any{}
				for _, kv := range values {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return &exitError{code: 2, err: fmt.Errorf("--set %q: want name=value", kv)}
					}
					form[k] = v
				}
				if err := cl.call("POST", "/api/v1/approvals/"+url.PathEscape(args[0])+"/"+verb, map[string]any{"comment": comment, "values": form}, nil); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%s: %s\n", args[0], verb)
				return nil
			},
		}
		cmd.Flags().StringVar(&comment, "comment", "", "why (kept in the run's journal and the audit log)")
		cmd.Flags().StringArrayVar(&values, "set", nil, "a form field: name=value (repeatable)")
		return cmd
	}
	approve, deny := answer("approve"), answer("deny")
	for _, cmd := range []*cobra.Command{list, approve, deny} {
		serverFlags(cmd, &server, &token)
	}
	outputFlag(list, &output)
	c.AddCommand(list, approve, deny)
	return c
}

// repairPlaybook rewrites a CACAO playbook's known deviations and prints
// each repair with its JSON path on stdout (unless quiet), or each reason
// it refused on stderr.
func repairPlaybook(c *cobra.Command, name string, data []byte, quiet bool) ([]byte, []playbook.Repair, error) {
	out, reps, err := playbook.RepairCACAO(data)
	if !quiet {
		for _, r := range reps {
			fmt.Fprintf(c.OutOrStdout(), "%s: repaired %s\n", name, r)
		}
	}
	var refused *playbook.RepairRefusedError
	if errors.As(err, &refused) {
		for _, r := range refused.Reasons {
			fmt.Fprintf(c.ErrOrStderr(), "%s: cannot repair %s\n", name, r)
		}
		return nil, reps, negative("%s: %d deviation(s) cannot be repaired safely", name, len(refused.Reasons))
	}
	if err != nil {
		return nil, reps, &exitError{code: 2, err: err}
	}
	if len(reps) == 0 && !quiet {
		fmt.Fprintf(c.OutOrStdout(), "%s: nothing to repair\n", name)
	}
	return out, reps, nil
}

// simulate dry-runs a playbook offline: every connector simulated, in a
// throwaway engine.
func simulate(p *playbook.Playbook, vars map[string]any) (engine.Trace, error) {
	reg, err := localRegistry()
	if err != nil {
		return engine.Trace{}, err
	}
	dir, err := os.MkdirTemp("", "riposte-dry-run")
	if err != nil {
		return engine.Trace{}, err
	}
	defer os.RemoveAll(dir)
	eng, err := engine.Open(filepath.Join(dir, "engine.db"), reg, engine.Options{Sync: "off"})
	if err != nil {
		return engine.Trace{}, err
	}
	defer eng.Close()
	return eng.DryRun(context.Background(), p, vars)
}

// checkPlaybookSecrets checks a playbook's secret:// references against the
// secret store of --data, or else of --server / RIPOSTE_SERVER (by name,
// GET /api/v1/secrets, admin). Without either the store is unknown: checked
// is false and nothing fails. A playbook without references contacts
// nothing.
func checkPlaybookSecrets(c *cobra.Command, p *playbook.Playbook, data, server, token string) (errs []playbook.Error, checked bool, err error) {
	if len(playbook.SecretRefs(p)) == 0 {
		return nil, true, nil
	}
	ctx := context.Background()
	switch {
	case c.Flags().Changed("data"):
		db, err := openData(data)
		if err != nil {
			return nil, false, err
		}
		defer db.Close()
		// Existence needs no key, as for config check.
		s, err := secret.New(db, make([]byte, 32))
		if err != nil {
			return nil, false, &exitError{code: 2, err: err}
		}
		return respond.CheckSecretRefs(ctx, p, s.Exists), true, nil
	case c.Flags().Changed("server") || os.Getenv("RIPOSTE_SERVER") != "":
		cl, err := newClient(server, token)
		if err != nil {
			return nil, false, err
		}
		var out struct {
			Secrets []secret.Meta `json:"secrets"`
		}
		if err := cl.call("GET", "/api/v1/secrets", nil, &out); err != nil {
			return nil, false, err
		}
		names := map[string]bool{}
		for _, m := range out.Secrets {
			names[m.Name] = true
		}
		return respond.CheckSecretRefs(ctx, p, func(_ context.Context, name string) (bool, error) { return names[name], nil }), true, nil
	}
	return nil, false, nil
}
