package server

import (
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/natsauth"
)

// natsAuthority makes Riposte the authority of its external NATS cluster
// when nats.operator_keys is set: the node connects with a user JWT it
// signs itself (opts), and the fleet's issuer signs the agents' and pushes
// their revocations. Without the setting all three are nil.
func natsAuthority(cfg config.Config, log *slog.Logger) (*natsauth.Authority, fleet.Issuer, []nats.Option, error) {
	if cfg.NATS.OperatorKeys == "" || cfg.NATS.URL == "" {
		return nil, nil, nil, nil
	}
	keys, err := natsauth.LoadOrCreate(cfg.NATS.OperatorKeys)
	if err != nil {
		return nil, nil, nil, err
	}
	host, _ := os.Hostname()
	creds, err := keys.NodeCreds("riposte-node "+host, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	a := natsauth.New(keys, cfg.NATS.URL, log)
	log.Info("nats authority: agents and this node connect with user JWTs signed by Riposte", "keys", cfg.NATS.OperatorKeys, "account", keys.AccountPublicKey())
	return a, a, []nats.Option{nats.UserJWTAndSeed(creds.JWT, creds.Seed)}, nil
}

// natsAuthoritySync is how often each node checks that every NATS server
// holds every revocation: it bounds how long a server that was down at a
// revocation (and restarted with the account it had) admits the revoked
// agent, along with the resolver's own exchange between servers.
const natsAuthoritySync = 10 * time.Second
