package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// strictParents makes every command that has subcommands refuse an
// unknown one: cobra runs a parent without a Run of its own by printing
// its help and exiting 0, so a typo ("incident lst") looked like success
// to a script. A bare parent still prints its help.
func strictParents(root *cobra.Command) {
	// cobra adds "completion" (a parent too) only inside Execute.
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() {
			strictParent(c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func strictParent(c *cobra.Command) {
	check := c.Args
	c.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 && (!c.Runnable() || check == nil) {
			return unknownCommand(c, args[0])
		}
		if check != nil {
			if err := check(c, args); err != nil {
				if len(args) > 0 {
					return unknownCommand(c, args[0])
				}
				return err
			}
		}
		return nil
	}
	if !c.Runnable() {
		c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
}

// unknownCommand is a usage error (exit 2) naming the closest commands.
func unknownCommand(c *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra's own default for the root
	}
	if s := c.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &exitError{code: 2, err: fmt.Errorf("%s (see %s --help)", msg, c.CommandPath())}
}
