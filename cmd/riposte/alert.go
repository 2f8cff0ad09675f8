package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/alarm"
)

func alertCmd() *cobra.Command {
	c := &cobra.Command{Use: "alert", Short: "Alerts outside incidents"}
	var server, token, output string
	var limit int
	held := &cobra.Command{
		Use:   "held",
		Short: "Alerts held by silences or inhibition, newest first, and how many each held",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var res struct {
				Alerts []alarm.Alert    `json:"alerts"`
				Counts map[string]int64 `json:"counts"`
			}
			if err := cl.call("GET", "/api/v1/alerts/held?limit="+fmt.Sprint(limit), nil, &res); err != nil {
				return err
			}
			if res.Alerts == nil {
				res.Alerts = []alarm.Alert{}
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), res)
			}
			w := c.OutOrStdout()
			t := newTable(w, "ID\tHELD BY\tLEVEL\tCOUNT\tLAST SEEN\tENTITIES\tRULE")
			for _, a := range res.Alerts {
				var ents []string
				for _, e := range a.Entities {
					ents = append(ents, e.Kind+"="+e.Value)
				}
				t.row(a.ID, a.SuppressedBy, a.Level, a.Count, stamp(a.LastSeen), dash(strings.Join(ents, " ")), a.RuleTitle)
			}
			if err := t.flush(); err != nil {
				return err
			}
			by := make([]string, 0, len(res.Counts))
			for k := range res.Counts {
				by = append(by, k)
			}
			sort.Strings(by)
			for i, k := range by {
				by[i] = fmt.Sprintf("%s %d", safe(k), res.Counts[k])
			}
			if len(by) > 0 {
				fmt.Fprintf(w, "held in all: %s\n", strings.Join(by, ", "))
			}
			return nil
		},
	}
	serverFlags(held, &server, &token)
	outputFlag(held, &output)
	held.Flags().IntVar(&limit, "limit", 100, "at most this many alerts (1-1000)")
	c.AddCommand(held)
	return c
}
