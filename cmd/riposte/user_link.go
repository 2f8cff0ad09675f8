package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/slackapprove"
)

// userLinkCmds are user link and user unlink: which Slack user answers
// approvals from Slack as which Riposte user (package slackapprove). Like
// the other user commands they work on the data directory.
func userLinkCmds(data *string) []*cobra.Command {
	var slackID string
	fail := func(err error) error {
		for _, neg := range []error{auth.ErrUnknownUser, slackapprove.ErrNotLinked, slackapprove.ErrLinked} {
			if errors.Is(err, neg) {
				return &exitError{code: 1, err: err}
			}
		}
		return &exitError{code: 2, err: err}
	}
	link := &cobra.Command{
		Use:   "link NAME --slack UXXXXXXXX",
		Short: "Let a Slack user answer approvals from Slack as this user (with this user's role)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := slackapprove.CheckSlackID(slackID); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--slack: %w", err)}
			}
			db, err := openData(*data)
			if err != nil {
				return err
			}
			defer db.Close()
			l, err := slackapprove.NewStore(db).Link(context.Background(), auth.NewUsers(db, auth.UserOptions{}), args[0], slackID, "cli")
			if err != nil {
				return fail(err)
			}
			fmt.Fprintf(c.OutOrStdout(), "Slack user %s answers approvals as %s\n", l.SlackID, safe(l.User))
			return nil
		},
	}
	link.Flags().StringVar(&slackID, "slack", "", "the Slack member ID (profile, Copy member ID), e.g. U012AB3CD (required)")
	_ = link.MarkFlagRequired("slack")
	unlink := &cobra.Command{
		Use:   "unlink NAME",
		Short: "Stop a user's Slack account from answering approvals",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			db, err := openData(*data)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := slackapprove.NewStore(db).Unlink(context.Background(), args[0], "cli"); err != nil {
				return fail(err)
			}
			fmt.Fprintf(c.OutOrStdout(), "%s has no Slack link any more\n", safe(args[0]))
			return nil
		},
	}
	return []*cobra.Command{link, unlink}
}

// slackLinks maps user names to their Slack IDs, for user list.
func slackLinks(ctx context.Context, s *slackapprove.Store) (map[string]string, error) {
	ls, err := s.Links(ctx)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range ls {
		m[l.User] = l.SlackID
	}
	return m, nil
}
