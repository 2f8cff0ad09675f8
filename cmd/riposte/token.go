package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/auth"
)

func tokenCmd() *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}
	var data, name, role, output string

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
			db, err := openData(data)
			if err != nil {
				return err
			}
			defer db.Close()
			ctx := context.Background()
			secret, tok, err := auth.NewStore(db).Create(ctx, name, r, "cli")
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := audit.New(db).Append(ctx, "cli", "token.create", "token:"+tok.ID,
				map[string]string{"name": tok.Name, "role": string(tok.Role)}); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("token created but not audited: %w", err)}
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
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tREVOKED")
			for _, t := range ts {
				rev := "-"
				if t.RevokedAt != nil {
					rev = t.RevokedAt.Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.CreatedAt.Format("2006-01-02 15:04"), rev)
			}
			return tw.Flush()
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
			if err := auth.NewStore(db).Revoke(ctx, args[0]); err != nil {
				if errors.Is(err, auth.ErrUnknownToken) {
					return negative("%v", err)
				}
				return &exitError{code: 2, err: err}
			}
			if err := audit.New(db).Append(ctx, "cli", "token.revoke", "token:"+args[0], nil); err != nil {
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintln(c.OutOrStdout(), "revoked", args[0])
			return nil
		},
	}
	dataFlag(revoke, &data)
	c.AddCommand(create, list, revoke)
	return c
}
