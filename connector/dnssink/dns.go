package dnssink

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// answer is what a resolver said about a name.
type answer struct {
	RCode string
	Addrs []netip.Addr
}

// resolve asks server (host:port, UDP) for name's records of type t, the
// way a client of that resolver would, and returns the rcode and the
// addresses answered.
func resolve(ctx context.Context, server, name string, t dnsmessage.Type) (answer, error) {
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return answer{}, err
	}
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: n, Type: t, Class: dnsmessage.ClassINET}},
	}
	pkt, err := q.Pack()
	if err != nil {
		return answer{}, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", server)
	if err != nil {
		return answer{}, err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok || time.Until(deadline) > 2*time.Second {
		deadline = time.Now().Add(2 * time.Second)
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write(pkt); err != nil {
		return answer{}, err
	}
	buf := make([]byte, 4096)
	for {
		m, err := conn.Read(buf)
		if err != nil {
			return answer{}, err
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:m])
		if err != nil || h.ID != id || !h.Response {
			continue // not our answer: wait for it
		}
		a := answer{RCode: rcodeName(h.RCode)}
		if err := p.SkipAllQuestions(); err != nil {
			return a, fmt.Errorf("reading the answer: %w", err)
		}
		for {
			rh, err := p.AnswerHeader()
			if errors.Is(err, dnsmessage.ErrSectionDone) {
				break
			}
			if err != nil {
				return a, fmt.Errorf("reading the answer: %w", err)
			}
			switch rh.Type {
			case dnsmessage.TypeA:
				r, err := p.AResource()
				if err != nil {
					return a, err
				}
				a.Addrs = append(a.Addrs, netip.AddrFrom4(r.A))
			case dnsmessage.TypeAAAA:
				r, err := p.AAAAResource()
				if err != nil {
					return a, err
				}
				a.Addrs = append(a.Addrs, netip.AddrFrom16(r.AAAA))
			default:
				if err := p.SkipAnswer(); err != nil {
					return a, err
				}
			}
		}
		return a, nil
	}
}

func rcodeName(r dnsmessage.RCode) string {
	switch r {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	}
	return fmt.Sprintf("RCODE%d", r)
}
