// Package natsauth makes Riposte the authority of an external NATS cluster
// in operator (decentralized JWT) mode: Riposte holds the operator, the
// system account and the RIPOSTE account with its signing key, signs each
// host agent a user JWT limited to its own subjects, signs its own nodes'
// credentials, and pushes the account JWT, with the revoked agents in it, to
// every NATS server. The NATS servers check every connection against the
// operator they trust, so an agent's credential and its revocation hold on
// every node without Riposte being asked.
//
// The fleet package calls it at enrollment and revocation; the server
// package builds it from the configuration (nats.operator_keys).
package natsauth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/internal/atomicfile"
)

// AccountName is the name of the account agents and Riposte's nodes share.
const AccountName = "RIPOSTE"

// Files of a key directory, each an nkey seed (0600).
const (
	OperatorFile = "operator.nk"
	SystemFile   = "system.nk"
	AccountFile  = "account.nk"
	SigningFile  = "account-signing.nk"
)

// Keys are the authority's key pairs. Operator signs the account JWTs (and
// so the revocation lists); Signing signs user JWTs on the account's behalf,
// so the account's identity key is needed only to name it.
type Keys struct {
	Dir      string
	Operator nkeys.KeyPair
	System   nkeys.KeyPair
	Account  nkeys.KeyPair
	Signing  nkeys.KeyPair
}

var keyFiles = []struct {
	name   string
	prefix nkeys.PrefixByte
}{{OperatorFile, nkeys.PrefixByteOperator}, {SystemFile, nkeys.PrefixByteAccount}, {AccountFile, nkeys.PrefixByteAccount}, {SigningFile, nkeys.PrefixByteAccount}}

// LoadOrCreate reads the keys in dir, creating the directory (0700) and all
// four keys (0600) when none exists yet. A directory with only some of them
// is an error: making new ones would replace an operator the NATS servers
// already trust.
func LoadOrCreate(dir string) (*Keys, error) {
	missing := 0
	for _, f := range keyFiles {
		if _, err := os.Stat(filepath.Join(dir, f.name)); errors.Is(err, fs.ErrNotExist) {
			missing++
		}
	}
	if missing == len(keyFiles) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		for _, f := range keyFiles {
			kp, err := nkeys.CreatePair(f.prefix)
			if err != nil {
				return nil, err
			}
			seed, _ := kp.Seed()
			// Create, not Write: two nodes starting on one shared directory
			// must not each make an operator.
			if err := atomicfile.Create(filepath.Join(dir, f.name), append(seed, '\n'), 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, err
			}
		}
	}
	return Load(dir)
}

// Load reads the keys in dir.
func Load(dir string) (*Keys, error) {
	k := &Keys{Dir: dir}
	dst := []*nkeys.KeyPair{&k.Operator, &k.System, &k.Account, &k.Signing}
	for i, f := range keyFiles {
		p := filepath.Join(dir, f.name)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("nats operator keys: %w", err)
		}
		kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(b))))
		if err != nil {
			return nil, fmt.Errorf("%s: not an nkey seed: %w", p, err)
		}
		pub, _ := kp.PublicKey()
		if !nkeys.IsValidPublicKey(pub) || pub[0] != byte(prefixLetter(f.prefix)) {
			return nil, fmt.Errorf("%s: the seed is not of an %s key", p, f.prefix)
		}
		*dst[i] = kp
	}
	return k, nil
}

func prefixLetter(p nkeys.PrefixByte) rune {
	switch p {
	case nkeys.PrefixByteOperator:
		return 'O'
	case nkeys.PrefixByteAccount:
		return 'A'
	}
	return 'U'
}

func pub(kp nkeys.KeyPair) string {
	s, _ := kp.PublicKey()
	return s
}

// AccountPublicKey names the RIPOSTE account.
func (k *Keys) AccountPublicKey() string { return pub(k.Account) }

// SystemPublicKey names the system account.
func (k *Keys) SystemPublicKey() string { return pub(k.System) }

// OperatorJWT is the operator the NATS servers trust (their operator
// setting), naming the system account.
func (k *Keys) OperatorJWT() (string, error) {
	oc := jwt.NewOperatorClaims(pub(k.Operator))
	oc.Name = "riposte"
	oc.SystemAccount = pub(k.System)
	return oc.Encode(k.Operator)
}

// SystemAccountJWT is the system account's JWT.
func (k *Keys) SystemAccountJWT() (string, error) {
	ac := jwt.NewAccountClaims(pub(k.System))
	ac.Name = "SYS"
	// The servers export their monitoring and account services from
	// the system account themselves when these are absent; nothing to add.
	return ac.Encode(k.Operator)
}

// AccountJWT is the RIPOSTE account's JWT with the given revocations (user
// public key → Unix seconds: credentials of that user issued at or before
// then are refused). JetStream is enabled without limits: the nodes keep
// their streams in this account.
func (k *Keys) AccountJWT(revoked map[string]int64) (string, error) {
	ac := jwt.NewAccountClaims(pub(k.Account))
	ac.Name = AccountName
	ac.SigningKeys.Add(pub(k.Signing))
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	// A user JWT alone, without the seed that signs the server's nonce,
	// must not be enough to connect.
	ac.Limits.DisallowBearer = true
	for u, at := range revoked {
		ac.RevokeAt(u, time.Unix(at, 0))
	}
	return ac.Encode(k.Operator)
}

// AgentJWT signs agent id's user JWT for its NATS user public key: it may
// publish only its results and heartbeats and subscribe only to its
// commands (protocol.NATSPermissions), as on the embedded bus. It does not
// expire; revocation ends it.
func (k *Keys) AgentJWT(id, userPub string) (string, error) {
	if !nkeys.IsValidPublicUserKey(userPub) {
		return "", fmt.Errorf("%q is not a NATS user public key", userPub)
	}
	p, err := protocol.NATSPermissions(id)
	if err != nil {
		return "", err
	}
	uc := jwt.NewUserClaims(userPub)
	uc.Name = "agent-" + id
	uc.IssuerAccount = pub(k.Account)
	uc.Pub.Allow.Add(p.Publish.Allow...)
	uc.Sub.Allow.Add(p.Subscribe.Allow...)
	uc.Tags.Add("riposte-agent")
	return uc.Encode(k.Signing)
}

// Creds is a user's JWT and nkey seed, what a client connects with
// (nats.UserJWTAndSeed).
type Creds struct {
	JWT  string
	Seed string
}

// NodeCreds makes a credential for a Riposte node in the RIPOSTE account,
// with every permission, on a key made now and never written anywhere: a
// node signs its own at each start. It expires after ttl (0: never).
func (k *Keys) NodeCreds(name string, ttl time.Duration) (Creds, error) {
	return k.user(k.Signing, pub(k.Account), name, ttl)
}

// SystemCreds makes a credential in the system account, which pushes
// account JWTs to the servers and asks them who they are.
func (k *Keys) SystemCreds(name string, ttl time.Duration) (Creds, error) {
	return k.user(k.System, "", name, ttl)
}

func (k *Keys) user(signer nkeys.KeyPair, issuerAccount, name string, ttl time.Duration) (Creds, error) {
	u, err := nkeys.CreateUser()
	if err != nil {
		return Creds{}, err
	}
	uc := jwt.NewUserClaims(pub(u))
	uc.Name = name
	uc.IssuerAccount = issuerAccount
	if ttl > 0 {
		uc.Expires = time.Now().Add(ttl).Unix()
	}
	j, err := uc.Encode(signer)
	if err != nil {
		return Creds{}, err
	}
	seed, _ := u.Seed()
	return Creds{JWT: j, Seed: string(seed)}, nil
}

// ServerConfig is the part of nats-server's configuration that makes a
// server trust this authority: the operator, the system account and the
// full resolver, preloaded with both accounts. resolverDir is where each
// server keeps the account JWTs it is sent (one per server).
func (k *Keys) ServerConfig(resolverDir string) (string, error) {
	op, err := k.OperatorJWT()
	if err != nil {
		return "", err
	}
	sys, err := k.SystemAccountJWT()
	if err != nil {
		return "", err
	}
	acc, err := k.AccountJWT(nil)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Riposte's NATS authority (riposte nats config): agents and Riposte nodes\n")
	fmt.Fprintf(&b, "# connect with user JWTs signed by it; revocations arrive as account updates.\n")
	fmt.Fprintf(&b, "operator: %s\n", op)
	fmt.Fprintf(&b, "system_account: %s\n", pub(k.System))
	fmt.Fprintf(&b, "resolver: {\n  type: full\n  dir: %q\n  allow_delete: false\n  interval: \"30s\"\n  timeout: \"5s\"\n}\n", resolverDir)
	fmt.Fprintf(&b, "resolver_preload: {\n  %s: %s\n  %s: %s\n}\n", pub(k.System), sys, pub(k.Account), acc)
	return b.String(), nil
}
