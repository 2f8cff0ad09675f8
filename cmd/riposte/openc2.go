package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/openc2"
)

func openc2Cmd() *cobra.Command {
	c := &cobra.Command{Use: "openc2", Short: "Work with OpenC2 commands and responses"}
	c.AddCommand(&cobra.Command{
		Use:   "validate FILE",
		Short: "Check an OpenC2 command or response (language, SLPF and ER profiles): exit 0 valid, 1 invalid with the reason",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			// A response carries a status; a command never does.
			var probe map[string]json.RawMessage
			kind := "command"
			if json.Unmarshal(data, &probe) == nil {
				if _, ok := probe["status"]; ok {
					kind = "response"
				}
			}
			if kind == "response" {
				err = openc2.ValidateResponse(data)
			} else {
				err = openc2.ValidateCommand(data)
			}
			if err != nil {
				return negative("%s: invalid %s: %v", args[0], kind, err)
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: valid %s\n", args[0], kind)
			return nil
		},
	})
	return c
}
