package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/event"
)

func eventsCmd() *cobra.Command {
	c := &cobra.Command{Use: "events", Short: "Stored events"}
	var server, token, output, host, from, to, cursor string
	var limit int
	search := &cobra.Command{
		Use:   "search [TEXT]",
		Short: "Stored events by host, time window and text, oldest first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			q := url.Values{"limit": {fmt.Sprint(limit)}}
			if len(args) == 1 {
				q.Set("q", args[0])
			}
			if host != "" {
				q.Set("host", host)
			}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			if err := setWindow(q, from, to); err != nil {
				return err
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var res struct {
				Events []event.Event `json:"events"`
				Next   string        `json:"next_cursor"`
			}
			if err := cl.call("GET", "/api/v1/events?"+q.Encode(), nil, &res); err != nil {
				return err
			}
			if res.Events == nil {
				res.Events = []event.Event{}
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), res)
			}
			w := c.OutOrStdout()
			t := newTable(w, "TIME\tHOST\tSOURCE\tEVENT")
			for _, e := range res.Events {
				t.row(stamp(e.Time), dash(e.Host), e.Source, eventText(e))
			}
			t.flush()
			if res.Next != "" {
				fmt.Fprintf(w, "more: add --cursor %s\n", safe(res.Next))
			}
			return nil
		},
	}
	serverFlags(search, &server, &token)
	outputFlag(search, &output)
	search.Flags().StringVar(&host, "host", "", "only events about this host (exact name)")
	search.Flags().StringVar(&from, "from", "", "start: RFC 3339 time or how long ago (15m, 24h, 7d)")
	search.Flags().StringVar(&to, "to", "", "end (exclusive): RFC 3339 time or how long ago")
	search.Flags().IntVar(&limit, "limit", 100, "at most this many (1-10000)")
	search.Flags().StringVar(&cursor, "cursor", "", "continue after the previous page (its last line names the cursor)")
	c.AddCommand(search)
	return c
}

// eventText is what a person reads of an event: its message if it has
// one, else the text received, else its fields; one line, at most 200
// characters (the whole event is in --output json).
func eventText(e event.Event) string {
	s := ""
	if m, ok := e.Fields["message"].(string); ok && m != "" {
		s = m
	} else if len(e.Raw) > 0 {
		s = string(e.Raw)
	} else {
		b, _ := json.Marshal(e.Fields)
		s = string(b)
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}
