package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/feeds"
)

// feedCmd manages block-list feed tokens on the data directory, as
// bouncer does for CrowdSec bouncers' keys.
func feedCmd() *cobra.Command {
	c := &cobra.Command{Use: "feed", Short: "Add, list and delete the tokens firewalls poll block lists with (/feeds/...)"}
	var data, output string

	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Register a feed consumer (a firewall) and print its token on stdout (shown once)",
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
			tok, f, err := feeds.NewStore(db).Add(context.Background(), args[0], "cli")
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), map[string]any{"feed": f, "token": tok})
			}
			fmt.Fprintln(c.OutOrStdout(), tok)
			return nil
		},
	}
	dataFlag(add, &data)
	outputFlag(add, &output)

	list := &cobra.Command{
		Use:   "list",
		Short: "List feed consumers: when each last polled, from where, in which format, whether it has the latest change (never a token)",
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
			st := feeds.NewStore(db)
			ctx := context.Background()
			cs, err := st.List(ctx)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			serial, err := st.Current(ctx)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), map[string]any{"serial": serial, "feeds": cs})
			}
			tab := newTable(c.OutOrStdout(), "NAME\tCREATED\tLAST POLL\tFROM\tSOFTWARE\tFORMAT\tSERIAL")
			for _, f := range cs {
				last, seen := "never", "-"
				if f.LastPoll != nil {
					last = stamp(*f.LastPoll)
					seen = fmt.Sprintf("%d of %d", f.LastSerial, serial)
				}
				tab.row(f.Name, stamp(f.CreatedAt), last, dash(f.LastAddr), dash(f.UserAgent), dash(f.LastFormat), seen)
			}
			return tab.flush()
		},
	}
	dataFlag(list, &data)
	outputFlag(list, &output)

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a feed consumer: its token stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			db, err := openData(data)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := feeds.NewStore(db).Delete(context.Background(), args[0], "cli"); err != nil {
				if errors.Is(err, feeds.ErrNotFound) {
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
