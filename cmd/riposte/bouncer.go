package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/bouncer"
)

// bouncerCmd manages CrowdSec bouncers' keys on the data directory, as
// token does for API tokens.
func bouncerCmd() *cobra.Command {
	c := &cobra.Command{Use: "bouncer", Short: "Add, list and delete CrowdSec bouncers that enforce Riposte's decisions"}
	var data, output string
	var pulls int

	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Register a bouncer and print its API key on stdout (shown once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			db, err := openData(data)
			if err != nil {
				return err
			}
			defer db.Close()
			key, b, err := bouncer.NewStore(db).Add(context.Background(), args[0], "cli")
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), map[string]any{"bouncer": b, "api_key": key})
			}
			fmt.Fprintln(c.OutOrStdout(), key)
			return nil
		},
	}
	dataFlag(add, &data)
	outputFlag(add, &output)

	list := &cobra.Command{
		Use:   "list",
		Short: "List bouncers: when each last pulled, from where, what it holds (never a key)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			db, err := openData(data)
			if err != nil {
				return err
			}
			defer db.Close()
			st := bouncer.NewStore(db)
			ctx := context.Background()
			bs, err := st.List(ctx)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			type withPulls struct {
				bouncer.Bouncer
				Pulls []bouncer.Pull `json:"pulls,omitempty"`
			}
			out := make([]withPulls, len(bs))
			for i, b := range bs {
				out[i].Bouncer = b
				if pulls > 0 {
					if out[i].Pulls, err = st.Pulls(ctx, b.Name, pulls); err != nil {
						return &exitError{code: 2, err: err}
					}
				}
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), out)
			}
			tab := newTable(c.OutOrStdout(), "NAME\tCREATED\tLAST PULL\tFROM\tSOFTWARE\tHOLDS")
			for _, b := range out {
				last := "never"
				if b.LastPull != nil {
					last = stamp(*b.LastPull)
				}
				tab.row(b.Name, stamp(b.CreatedAt), last, dash(b.LastAddr), dash(b.UserAgent), strconv.Itoa(len(b.Holds))+" decisions")
			}
			if err := tab.flush(); err != nil {
				return err
			}
			for _, b := range out {
				if len(b.Pulls) == 0 {
					continue
				}
				fmt.Fprintf(c.OutOrStdout(), "\n%s, last pulls:\n", safe(b.Name))
				t := newTable(c.OutOrStdout(), "AT\tACTION\tVALUE\tDECISION")
				for _, p := range b.Pulls {
					t.row(stamp(p.At), p.Action, p.Value, p.Decision)
				}
				if err := t.flush(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	dataFlag(list, &data)
	outputFlag(list, &output)
	list.Flags().IntVar(&pulls, "pulls", 0, "also show each bouncer's last N pull-log lines (what it was sent to enforce or lift)")

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a bouncer: its key stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			db, err := openData(data)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := bouncer.NewStore(db).Delete(context.Background(), args[0], "cli"); err != nil {
				if errors.Is(err, bouncer.ErrNotFound) {
					return negative("%v", err)
				}
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintln(c.OutOrStdout(), "deleted", safe(args[0]))
			return nil
		},
	}
	dataFlag(del, &data)
	c.AddCommand(add, list, del)
	return c
}
