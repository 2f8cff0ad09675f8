package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/slackapprove"
	"github.com/riposte-soar/riposte/store"
)

// userCmd manages the people who sign in to the console. Like token, it
// works on the data directory, so the first admin can be made before any
// token or user exists. Passwords are never arguments (they would stay in
// the shell's history and in ps): they are typed at a prompt that does not
// echo, or piped in with --password-stdin.
func userCmd() *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Add, change, disable and list the people who sign in to the console"}
	var data, role, output string
	var fromStdin bool
	var ctl *store.DB // the database users() opened

	users := func() (*auth.Users, func(), error) {
		db, err := openData(data)
		if err != nil {
			return nil, nil, err
		}
		ctl = db
		return auth.NewUsers(db, auth.UserOptions{}), func() { db.Close() }, nil
	}
	// fail maps the package's answers to exit codes: a "no" (unknown
	// user, name taken, password refused) is 1, the rest 2.
	fail := func(err error) error {
		for _, neg := range []error{auth.ErrUnknownUser, auth.ErrUserExists, auth.ErrWeakPassword, auth.ErrNotLocal} {
			if errors.Is(err, neg) {
				return &exitError{code: 1, err: err}
			}
		}
		return &exitError{code: 2, err: err}
	}

	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a local user; the password is asked for (or read from stdin with --password-stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--role: %w", err)}
			}
			if err := auth.CheckPersonRole(r); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--role: %w", err)}
			}
			if err := auth.CheckName(args[0]); err != nil {
				return &exitError{code: 2, err: err}
			}
			pw, err := readPassword(c, args[0], fromStdin)
			if err != nil {
				return err
			}
			u, done, err := users()
			if err != nil {
				return err
			}
			defer done()
			x, err := u.Add(context.Background(), args[0], r, pw, "cli")
			if err != nil {
				return fail(err)
			}
			fmt.Fprintf(c.OutOrStdout(), "added %s (%s)\n", safe(x.Name), x.Role)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "viewer, analyst, responder or admin (required)")
	_ = add.MarkFlagRequired("role")

	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a local user's password; their sessions end",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			u, done, err := users()
			if err != nil {
				return err
			}
			defer done()
			ctx := context.Background()
			x, err := u.Get(ctx, args[0])
			if err != nil {
				return fail(err)
			}
			if x.Source != auth.SourceLocal {
				return fail(fmt.Errorf("user %s: %w", x.Name, auth.ErrNotLocal))
			}
			pw, err := readPassword(c, x.Name, fromStdin)
			if err != nil {
				return err
			}
			if err := u.SetPassword(ctx, x.Name, pw, "cli"); err != nil {
				return fail(err)
			}
			fmt.Fprintf(c.OutOrStdout(), "password of %s changed; their sessions ended\n", safe(x.Name))
			return nil
		},
	}
	for _, p := range []*cobra.Command{add, passwd} {
		p.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from stdin (one line) instead of a prompt")
	}

	state := func(disabled bool) *cobra.Command {
		verb, short := "enable", "Let a disabled user sign in again"
		if disabled {
			verb, short = "disable", "Refuse a user's sign-ins and end their sessions"
		}
		return &cobra.Command{
			Use:   verb + " NAME",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				u, done, err := users()
				if err != nil {
					return err
				}
				defer done()
				if err := u.SetDisabled(context.Background(), args[0], disabled, "cli"); err != nil {
					return fail(err)
				}
				fmt.Fprintf(c.OutOrStdout(), "%sd %s\n", verb, safe(args[0]))
				return nil
			},
		}
	}
	disable, enable := state(true), state(false)

	roleCmd := &cobra.Command{
		Use:   "role NAME ROLE",
		Short: "Change a user's role (an OpenID user gets their claim's role back at their next sign-in)",
		Args:  cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := auth.ParseRole(args[1])
			if err == nil {
				err = auth.CheckPersonRole(r)
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			u, done, err := users()
			if err != nil {
				return err
			}
			defer done()
			if err := u.SetRole(context.Background(), args[0], r, "cli"); err != nil {
				return fail(err)
			}
			fmt.Fprintf(c.OutOrStdout(), "%s is now %s\n", safe(args[0]), r)
			return nil
		},
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List users (never their passwords)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			u, done, err := users()
			if err != nil {
				return err
			}
			defer done()
			us, err := u.List(context.Background())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if output == "json" {
				return writeJSON(c.OutOrStdout(), us)
			}
			slack, err := slackLinks(context.Background(), slackapprove.NewStore(ctl))
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			tab := newTable(c.OutOrStdout(), "NAME\tROLE\tSTATE\tSOURCE\tCREATED\tCREATED BY\tLAST SIGN-IN\tSLACK")
			for _, x := range us {
				st, last := "enabled", "never"
				if x.Disabled {
					st = "disabled"
				}
				if x.LastLogin != nil {
					last = stamp(*x.LastLogin)
				}
				tab.row(x.Name, x.Role, st, x.Source, stamp(x.CreatedAt), x.CreatedBy, last, cmp.Or(slack[x.Name], "-"))
			}
			return tab.flush()
		},
	}
	outputFlag(list, &output)

	links := userLinkCmds(&data)
	for _, s := range append([]*cobra.Command{add, passwd, disable, enable, roleCmd, list}, links...) {
		dataFlag(s, &data)
	}
	c.AddCommand(add, passwd, disable, enable, roleCmd, list)
	c.AddCommand(links...)
	return c
}

// readPassword asks twice at a terminal, without echo, or reads one line
// from stdin with --password-stdin. The policy is checked before the
// database is opened, so a refused password costs nothing.
func readPassword(c *cobra.Command, name string, fromStdin bool) (string, error) {
	in := c.InOrStdin()
	f, isFile := in.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
	var pw string
	switch {
	case fromStdin:
		line, err := bufio.NewReader(io.LimitReader(in, auth.MaxPassword+3)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", &exitError{code: 2, err: fmt.Errorf("read the password from stdin: %w", err)}
		}
		pw = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	case tty:
		prompt := func(p string) (string, error) {
			fmt.Fprint(c.ErrOrStderr(), p)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(c.ErrOrStderr())
			return string(b), err
		}
		var err error
		if pw, err = prompt("Password for " + safe(name) + ": "); err != nil {
			return "", &exitError{code: 2, err: fmt.Errorf("read the password: %w", err)}
		}
		if err := auth.CheckPassword(name, pw); err != nil {
			return "", &exitError{code: 1, err: err}
		}
		again, err := prompt("Again: ")
		if err != nil {
			return "", &exitError{code: 2, err: fmt.Errorf("read the password: %w", err)}
		}
		if again != pw {
			return "", &exitError{code: 1, err: errors.New("the two passwords differ; nothing changed")}
		}
	default:
		return "", &exitError{code: 2, err: errors.New("stdin is not a terminal: pipe the password with --password-stdin (never as an argument)")}
	}
	if err := auth.CheckPassword(name, pw); err != nil {
		return "", &exitError{code: 1, err: err}
	}
	return pw, nil
}
