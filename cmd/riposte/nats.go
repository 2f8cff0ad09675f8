package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/natsauth"
)

// natsCmd configures an external NATS cluster to trust Riposte.
func natsCmd() *cobra.Command {
	c := &cobra.Command{Use: "nats", Short: "Make an external NATS cluster trust Riposte's credentials (nats.operator_keys)"}
	var keys, resolverDir string
	conf := &cobra.Command{
		Use:   "config",
		Short: "Print the nats-server configuration that trusts Riposte's operator (making its keys on first use)",
		Long: `Riposte signs the credentials of its agents and of its own nodes when
nats.operator_keys names a key directory. This command makes the keys there
if there are none yet (0600, in a 0700 directory: copy the directory to each
Riposte node of the cluster, or mount it from a secret) and prints the part
of nats-server's configuration every server of the NATS cluster needs: the
operator, the system account and a full resolver preloaded with Riposte's
account. Revocations then reach every server as account updates.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if keys == "" {
				return &exitError{code: 2, err: errors.New("--keys: name the key directory (nats.operator_keys)")}
			}
			_, statErr := os.Stat(filepath.Join(keys, natsauth.OperatorFile))
			k, err := natsauth.LoadOrCreate(keys)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if errors.Is(statErr, fs.ErrNotExist) {
				fmt.Fprintf(c.ErrOrStderr(), "made new operator keys in %s (keep them secret: they sign every agent's credential)\n", keys)
			}
			s, err := k.ServerConfig(resolverDir)
			if err != nil {
				return err
			}
			fmt.Fprint(c.OutOrStdout(), s)
			return nil
		},
	}
	conf.Flags().StringVar(&keys, "keys", os.Getenv("RIPOSTE_NATS_OPERATOR_KEYS"), "key directory, as nats.operator_keys (env RIPOSTE_NATS_OPERATOR_KEYS)")
	conf.Flags().StringVar(&resolverDir, "resolver-dir", "/data/nats/jwt", "where each NATS server keeps the account JWTs it is sent")
	c.AddCommand(conf)
	return c
}
