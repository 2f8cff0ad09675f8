package fleet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/decision"
)

// BreakGlass lifts a host's isolation when the host cannot be reached:
// the host's isolation decisions are reverted (so a reconnecting agent
// stays released), and the answer is a one-time token, a server-signed
// "allow device" for that host's agent only, valid for ttl, that root on
// the host hands to the agent (`riposte agent release TOKEN`).
func (f *Fleet) BreakGlass(ctx context.Context, host, actor, reason string, ttl time.Duration) (string, []decision.Decision, error) {
	if strings.TrimSpace(reason) == "" {
		return "", nil, errors.New("break-glass needs a reason")
	}
	if ttl <= 0 || ttl > protocol.MaxLifetime {
		return "", nil, fmt.Errorf("ttl %v must be between 0 and %v", ttl, protocol.MaxLifetime)
	}
	a, ok := f.ByHost(host)
	if !ok {
		return "", nil, fmt.Errorf("no enrolled agent on host %s", host)
	}
	var reverted []decision.Decision
	if f.o.Decisions != nil {
		now := time.Now().UTC()
		ds, err := f.o.Decisions.List(ctx, false, now)
		if err != nil {
			return "", nil, err
		}
		for _, d := range ds {
			if d.Kind == decision.ContainHost && strings.EqualFold(d.Target, a.Hostname) {
				r, err := f.o.Decisions.Revert(ctx, d.ID, actor, "break-glass: "+reason, now)
				if err != nil {
					return "", reverted, err
				}
				reverted = append(reverted, r)
			}
		}
	}
	cmd, _ := json.Marshal(map[string]any{"action": "allow", "target": map[string]any{"device": map[string]any{"hostname": a.Hostname}},
		"args": map[string]any{"response_requested": "complete"}, "actuator": map[string]any{"er": map[string]any{}}})
	id := "breakglass-" + protocol.NewNonce()[:16]
	env := protocol.Sign(f.o.Key, protocol.NewEnvelope(a.ID, id, cmd, time.Now(), ttl))
	b, _ := json.Marshal(env)
	if err := audit.New(f.o.DB).Append(ctx, actor, "agent.breakglass", "agent:"+a.ID, map[string]any{"host": a.Hostname, "reason": reason,
		"token": id, "expires": env.Expires, "reverted": len(reverted)}); err != nil {
		return "", reverted, err
	}
	return base64.RawURLEncoding.EncodeToString(b), reverted, nil
}

// DecodeToken turns a break-glass token back into the signed envelope.
func DecodeToken(token string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return nil, fmt.Errorf("not a break-glass token: %w", err)
	}
	return b, nil
}
