package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/openc2"
)

// SocketName is the agent's local channel in its data directory: root on
// the host hands it a server-signed command (a break-glass token) when the
// network to the server is gone, for instance because the host is
// isolated and the server is down.
const SocketName = "agent.sock"

type localReq struct {
	data []byte
	out  chan protocol.Result
}

// listenLocal serves the local channel. Only containment commands are
// taken there, and only signed by the server for this agent, like any
// other command: the socket adds a path, not a privilege.
func (a *Agent) listenLocal(ctx context.Context) {
	path := filepath.Join(a.cfg.Data, SocketName)
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		a.log.Warn("local channel unavailable", "err", err)
		return
	}
	_ = os.Chmod(path, 0o600)
	go func() {
		<-ctx.Done()
		ln.Close()
		os.Remove(path)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			b, err := io.ReadAll(io.LimitReader(c, 1<<20))
			if err != nil {
				return
			}
			req := localReq{data: b, out: make(chan protocol.Result, 1)}
			select {
			case a.local <- req:
			case <-ctx.Done():
				return
			}
			select {
			case r := <-req.out:
				_ = json.NewEncoder(c).Encode(r)
			case <-time.After(25 * time.Second):
			}
		}()
	}
}

// SendLocal hands a signed command (a break-glass token) to the agent
// running with data directory dir and returns its answer.
func SendLocal(dir string, envelope []byte) (*openc2.Response, error) {
	c, err := net.DialTimeout("unix", filepath.Join(dir, SocketName), 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(envelope); err != nil {
		return nil, err
	}
	if uc, ok := c.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	var r protocol.Result
	if err := json.NewDecoder(c).Decode(&r); err != nil {
		return nil, fmt.Errorf("no answer from the agent: %w", err)
	}
	return openc2.DecodeResponse(openc2.ComponentRiposte, r.Response)
}

// ReleaseOffline lifts isolation on a host whose agent is not running,
// with a server-signed release (a break-glass token): the token is
// verified like any command (signature, this agent, expiry, replay), the
// held isolation is cleared so a restarted agent does not restore it, and
// the isolation table is deleted.
func ReleaseOffline(ctx context.Context, cfg Config, envelope []byte, release func() error) error {
	cfg.defaults()
	id, err := loadIdentity(cfg.Data)
	if err != nil {
		return err
	}
	var env protocol.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	a := &Agent{cfg: cfg, id: id, nonces: protocol.NewMemoryNonceCache(1 << 16), results: newResultCache(1024)}
	if err := a.loadNonces(); err != nil {
		return err
	}
	if err := protocol.Verify(id.ServerKey, env, id.AgentID, time.Now(), a.nonces); err != nil {
		return fmt.Errorf("token refused: %w", err)
	}
	cmd, err := openc2.DecodeCommand(openc2.ComponentRiposte, env.Command)
	if err != nil {
		return err
	}
	if cmd.Action != "allow" || cmd.Target.Name != "device" {
		return errors.New("token refused: it is not a release of isolation")
	}
	b, _ := json.Marshal(containState{})
	if err := writeFileAtomic(filepath.Join(cfg.Data, containFile), b, 0o600); err != nil {
		return err
	}
	a.saveNonces()
	return release()
}
