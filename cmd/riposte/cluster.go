package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/cluster"
)

func clusterCmd() *cobra.Command {
	c := &cobra.Command{Use: "cluster", Short: "Nodes sharing a NATS cluster: who runs what, backlogs, health"}
	var server, token, output string
	status := &cobra.Command{
		Use:   "status",
		Short: "Live nodes, job leaders, correlation partitions, consumer backlogs, NATS and database health (exit 1 when unhealthy)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			var st cluster.Status
			if err := cl.call("GET", "/api/v1/cluster", nil, &st); err != nil {
				return err
			}
			if output == "json" {
				if err := writeJSON(c.OutOrStdout(), st); err != nil {
					return err
				}
			} else if err := printClusterStatus(c, st); err != nil {
				return err
			}
			var bad []string
			for _, h := range []struct {
				name string
				h    cluster.Health
			}{{"nats", st.NATS}, {"database", st.Database}} {
				if !h.h.OK {
					bad = append(bad, fmt.Sprintf("%s: %s", h.name, h.h.Error))
				}
			}
			if len(bad) > 0 {
				return negative("node %s is not healthy: %s", st.Node, strings.Join(bad, "; "))
			}
			return nil
		},
	}
	outputFlag(status, &output)
	serverFlags(status, &server, &token)
	c.AddCommand(status)
	return c
}

func printClusterStatus(c *cobra.Command, st cluster.Status) error {
	w := c.OutOrStdout()
	health := func(h cluster.Health) string {
		if h.OK {
			return "ok"
		}
		return "FAILING: " + h.Error
	}
	fmt.Fprintf(w, "node %s (%s mode)\nnats: %s  server %s  cluster %s  replicas %d\ndatabase: %s\n\n",
		safe(st.Node), st.Mode, health(st.NATS), dash(safe(st.NATS.Server)), dash(safe(st.NATS.Cluster)), st.NATS.Replicas, health(st.Database))
	t := newTable(w, "NODE\tVERSION\tADDRESS\tSTARTED\tLAST SEEN\tJOBS")
	for _, n := range st.Nodes {
		t.row(n.Name, n.Version, dash(n.Address), stamp(n.Started), time.Since(n.LastSeen).Round(100*time.Millisecond).String()+" ago", len(n.Jobs))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t = newTable(w, "JOB\tLEADER\tFENCE\tSINCE")
	for _, h := range st.Leaders {
		t.row(h.Job, h.Node, h.Fence, stamp(h.Since))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(st.Partitions) > 0 {
		fmt.Fprintln(w)
		t = newTable(w, "PARTITION\tOWNER\tFENCE")
		for _, p := range st.Partitions {
			t.row(p.Partition, dash(p.Owner), p.Fence)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	t = newTable(w, "STREAM\tCONSUMER\tPENDING\tACK PENDING\tREPLICAS")
	for _, l := range st.Consumers {
		t.row(l.Stream, l.Consumer, l.Pending, l.AckPending, l.Replicas)
	}
	return t.flush()
}
