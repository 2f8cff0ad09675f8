package main

import "github.com/spf13/cobra"

func benchCmd() *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "Measure a running server or an engine"}
	c.AddCommand(benchIngestCmd(), benchAlarmCmd(), benchEngineCmd())
	return c
}
