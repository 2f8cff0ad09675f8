package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/auth"
)

func tokenCmd() *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}
	var data, name, role, output, expires string

	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print its secret on stdout (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if name == "" {
				return &exitError{code: 2, err: errors.New("--name is required")}
			}
			exp, err := auth.ParseExpiry(expires, time.Now())
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--expires: %w", err)}
			}
			db, err := openData(data)
			if err != nil {
				return err
			}
			defer db.Close()
			ctx := context.Background()
			// Create audits the token in the transaction that stores it.
			secret, tok, err := auth.NewStore(db).CreateExpiring(ctx, name, r, "cli", exp)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), map[string]any{"token": tok, "secret": secret})
			}
			fmt.Fprintln(c.OutOrStdout(), secret)
			return nil
		},
	}
	dataFlag(create, &data)
	outputFlag(create, &output)
	create.Flags().StringVar(&name, "name", "", "what the token is for, e.g. \"vector on web-01\" (required)")
	create.Flags().StringVar(&role, "role", "", "viewer, analyst, responder, admin or ingest (required)")
	create.Flags().StringVar(&expires, "expires", "", "when the token stops working: a duration (12h, 30d, 2w) or an RFC 3339 time (default: never)")
	_ = create.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
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
			ts, err := auth.NewStore(db).List(context.Background())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if output == "json" {
				if ts == nil {
					ts = []auth.Token{}
				}
				return writeJSON(c.OutOrStdout(), ts)
			}
			tab := newTable(c.OutOrStdout(), "ID\tNAME\tROLE\tCREATED\tEXPIRES\tREVOKED")
			now := time.Now()
			for _, t := range ts {
				rev, exp := "-", "never"
				if t.RevokedAt != nil {
					rev = stamp(*t.RevokedAt)
				}
				if t.ExpiresAt != nil {
					exp = stamp(*t.ExpiresAt)
					if !now.Before(*t.ExpiresAt) {
						exp += " (expired)"
					}
				}
				tab.row(t.ID, t.Name, t.Role, stamp(t.CreatedAt), exp, rev)
			}
			return tab.flush()
		},
	}
	dataFlag(list, &data)
	outputFlag(list, &output)

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			db, err := openData(data)
			if err != nil {
				return err
			}
			defer db.Close()
			ctx := context.Background()
			if err := auth.NewStore(db).RevokeBy(ctx, args[0], "cli"); err != nil {
				if errors.Is(err, auth.ErrUnknownToken) {
					return negative("%v", err)
				}
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintln(c.OutOrStdout(), "revoked", safe(args[0]))
			return nil
		},
	}
	dataFlag(revoke, &data)
	c.AddCommand(create, list, revoke)
	return c
}
