package agent

import (
	"errors"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// watchKernel asks for a reconcile as soon as nftables changes (a flushed
// ruleset, a deleted table or rule, a restarted firewall service), rather
// than at the next periodic reconcile. It listens to the kernel's
// nf_tables multicast group: every change is announced there. The agent's
// own applies are announced too; the reconcile they trigger finds nothing
// to repair. Bursts collapse into one poke.
func (a *Agent) watchKernel() {
	// Dialled here, on the caller's thread: the socket belongs to the
	// namespace the firewall was opened in.
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		a.log.Warn("nftables events unavailable; relying on periodic reconcile", "err", err)
		return
	}
	if err := c.JoinGroup(unix.NFNLGRP_NFTABLES); err != nil {
		a.log.Warn("nftables events unavailable; relying on periodic reconcile", "err", err)
		c.Close()
		return
	}
	changed := make(chan struct{}, 1)
	go func() {
		<-a.stop
		c.Close()
	}()
	go func() {
		for {
			if _, err := c.Receive(); err != nil {
				select {
				case <-a.stop:
					return
				default:
				}
				// ENOBUFS: events were lost, which is itself a reason to
				// compare; anything else: do not spin on a broken socket
				// (the periodic reconcile still runs).
				if !errors.Is(err, unix.ENOBUFS) {
					time.Sleep(time.Second)
				}
			}
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}()
	go func() {
		const settle = 20 * time.Millisecond
		for {
			select {
			case <-a.stop:
				return
			case <-changed:
			}
			time.Sleep(settle)
			select {
			case <-changed: // drain what came during the settle
			default:
			}
			select {
			case a.poke <- struct{}{}:
			default:
			}
		}
	}()
}
