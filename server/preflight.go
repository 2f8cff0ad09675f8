package server

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/riposte-soar/riposte/config"
)

// checkListeners binds, then releases, every address the node will listen
// on, before anything is created in the data directory: a second serve on
// a taken port fails at once naming the port, instead of after creating a
// data directory, an admin token and a bus store (and, for the bus, after
// waiting 30 s for an embedded server that cannot start). The addresses
// are bound again for real moments later; losing one in between still
// fails, with the listener's own error.
func checkListeners(cfg config.Config) error {
	type probe struct{ network, addr, key, flag string }
	var ps []probe
	ps = append(ps, probe{"tcp", cfg.HTTP.Listen, "http.listen", "--http"})
	if cfg.NATS.URL == "" && cfg.NATS.Listen != "" {
		ps = append(ps, probe{"tcp", cfg.NATS.Listen, "nats.listen", "--nats-listen"})
	}
	if sl := cfg.Ingest.Syslog; sl.Listen != "" {
		if sl.TCP {
			ps = append(ps, probe{"tcp", sl.Listen, "ingest.syslog.listen", "--syslog"})
		}
		if sl.UDP {
			ps = append(ps, probe{"udp", sl.Listen, "ingest.syslog.listen", "--syslog"})
		}
	}
	var errs []error
	for _, p := range ps {
		var err error
		if p.network == "udp" {
			var c net.PacketConn
			if c, err = net.ListenPacket(p.network, p.addr); err == nil {
				c.Close()
			}
		} else {
			var l net.Listener
			if l, err = net.Listen(p.network, p.addr); err == nil {
				l.Close()
			}
		}
		if err == nil {
			continue
		}
		hint := ""
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = ": the port is taken; is another riposte serve running? stop it, or choose another address with " + p.flag + " or " + p.key
		} else if errors.Is(err, syscall.EADDRNOTAVAIL) {
			hint = ": no interface of this host has that address"
		}
		errs = append(errs, fmt.Errorf("cannot listen on %s %s (%s): %v%s", p.network, p.addr, p.key, unwrapOp(err), hint))
	}
	return errors.Join(errs...)
}

// unwrapOp drops net.OpError's "listen tcp 127.0.0.1:8080:" prefix, which
// the message already says.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
