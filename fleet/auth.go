package fleet

import (
	"crypto/subtle"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/riposte-soar/riposte/agent/protocol"
)

// agentUserPrefix marks an agent's bus user name: "agent-<id>".
const agentUserPrefix = "agent-"

// AgentUser is the bus user name of an agent.
func AgentUser(id string) string { return agentUserPrefix + id }

// Authenticator admits the node's own user with every permission, and each
// enrolled agent, by its credential, to its own subjects only: an agent
// can receive nothing but its commands and publish nothing but its results
// and heartbeats, so a compromised host cannot command another or forge
// another's results.
type Authenticator struct {
	f              *Fleet
	user, password string
}

// Authenticator returns the embedded bus's authentication for this fleet
// and the node's own user.
func (f *Fleet) Authenticator(user, password string) *Authenticator {
	return &Authenticator{f: f, user: user, password: password}
}

// Check implements server.Authentication.
func (a *Authenticator) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	if o == nil {
		return false
	}
	if o.Username == a.user {
		if subtle.ConstantTimeCompare([]byte(o.Password), []byte(a.password)) != 1 {
			return false
		}
		c.RegisterUser(&server.User{Username: o.Username})
		return true
	}
	id, ok := strings.CutPrefix(o.Username, agentUserPrefix)
	if !ok || !a.f.checkCredential(id, o.Password) {
		return false
	}
	p, err := protocol.NATSPermissions(id)
	if err != nil {
		return false
	}
	c.RegisterUser(&server.User{Username: o.Username, Permissions: &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: p.Publish.Allow},
		Subscribe: &server.SubjectPermission{Allow: p.Subscribe.Allow},
	}})
	return true
}
