package protocol

import (
	"crypto/ed25519"
	"fmt"
)

const tagUpload = "riposte/agent/evidence/v1"

// Upload names one evidence file an agent uploads for a command. Its
// signature binds the file's hash to the agent and the command, so an
// upload cannot be swapped on the way, whatever the transport.
type Upload struct {
	AgentID   string
	CommandID string
	Name      string
	SHA256    string
	Size      int64
}

func (u *Upload) signedBytes() []byte {
	var c canon
	c.str(tagUpload)
	c.str(u.AgentID)
	c.str(u.CommandID)
	c.str(u.Name)
	c.str(u.SHA256)
	c.u64(uint64(u.Size))
	return c.b
}

// SignUpload signs u with the agent's key.
func SignUpload(agentPriv ed25519.PrivateKey, u Upload) []byte {
	return ed25519.Sign(agentPriv, u.signedBytes())
}

// VerifyUpload checks an upload's signature against the agent's enrolled key.
func VerifyUpload(agentPub ed25519.PublicKey, u Upload, sig []byte) error {
	if len(agentPub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: agent public key has %d bytes", ErrMalformed, len(agentPub))
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(agentPub, u.signedBytes(), sig) {
		return ErrBadSignature
	}
	return nil
}
