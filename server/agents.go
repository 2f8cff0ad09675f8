package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
)

func banSchedule(a config.Agents) decision.Schedule {
	s := decision.DefaultSchedule
	if len(a.Ban) > 0 {
		s.Durations = nil
		for _, d := range a.Ban {
			s.Durations = append(s.Durations, d.D())
		}
	}
	if a.BanWindow > 0 {
		s.Window = a.BanWindow.D()
	}
	return s
}

// decisionLimits holds deny decisions to the configured widths and keeps
// them off this server's own addresses (every interface's, and those
// named in its listen addresses and URLs: a NAT address agents dial),
// agents.permitted and agents.protected: a ban on them would cut agents
// off the server or the server off what it needs.
func decisionLimits(cfg config.Config, log *slog.Logger) decision.Limits {
	l := decision.Limits{MaxPrefixV4: cfg.Agents.MaxPrefixV4, MaxPrefixV6: cfg.Agents.MaxPrefixV6}
	add := func(s string) {
		if p, err := netip.ParsePrefix(s); err == nil {
			l.Protected = append(l.Protected, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap().WithZone("")
			l.Protected = append(l.Protected, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				add(n.IP.String())
			}
		}
	} else {
		log.Warn("decision limits: the server's interface addresses are unknown; only configured ones are protected", "err", err)
	}
	for _, hp := range []string{cfg.HTTP.Listen, cfg.NATS.Listen} {
		if h, _, err := net.SplitHostPort(hp); err == nil {
			add(h)
		}
	}
	for _, u := range []string{cfg.PublicURL, cfg.Agents.NATSURL, cfg.NATS.URL} {
		if pu, err := url.Parse(u); err == nil && u != "" {
			add(pu.Hostname())
		}
	}
	for _, s := range slices.Concat(cfg.Agents.Permitted, cfg.Agents.Protected) {
		add(s)
	}
	return l
}

// agentAssets makes each agent's host an asset, writing only when its
// addresses change or every few minutes, not at every heartbeat.
func agentAssets(svc *alarm.Service, log *slog.Logger) func(fleet.Agent) {
	var mu sync.Mutex
	type rec struct {
		addrs []string
		at    time.Time
	}
	last := map[string]rec{}
	return func(a fleet.Agent) {
		mu.Lock()
		r := last[a.ID]
		due := time.Since(r.at) > 5*time.Minute || !slices.Equal(r.addrs, a.Addresses)
		if due {
			last[a.ID] = rec{addrs: a.Addresses, at: time.Now()}
		}
		mu.Unlock()
		if !due {
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := svc.AgentHost(ctx, a.Hostname, a.ID, a.Addresses); err != nil {
				log.Warn("agent host not recorded as an asset", "host", a.Hostname, "err", err)
			}
		}()
	}
}

// agentBusURL tells an enrolling agent where the bus is: the configured
// address, or the host the agent reached the API through with the bus
// port, since that host is evidently reachable from the agent.
func agentBusURL(cfg config.Config, clientURL string) func(*http.Request) string {
	return func(r *http.Request) string {
		if cfg.Agents.NATSURL != "" {
			return cfg.Agents.NATSURL
		}
		if cfg.NATS.URL != "" {
			return cfg.NATS.URL
		}
		_, port, err := net.SplitHostPort(cfg.NATS.Listen)
		if err != nil {
			return clientURL
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		scheme := "nats"
		if cfg.NATS.TLSCert != "" {
			scheme = "tls"
		}
		return (&url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}).String()
	}
}
