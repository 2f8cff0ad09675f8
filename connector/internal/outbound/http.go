package outbound

import (
	"context"
	"fmt"
	"net/http/httptrace"
	"sync/atomic"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	"github.com/riposte-soar/riposte/notify/channel"
)

// Progress records how far an HTTP send got. The channels' errors say
// whether retrying can help, not whether the receiver may already hold
// the message; the engine needs that difference (transient or unknown
// outcome), and only the client side of the exchange can tell it.
type Progress struct {
	wrote    atomic.Bool
	answered atomic.Bool
}

// Track returns a context whose HTTP requests report to p.
func Track(ctx context.Context) (context.Context, *Progress) {
	p := &Progress{}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				p.wrote.Store(true)
			}
		},
		GotFirstResponseByte: func() { p.answered.Store(true) },
	}), p
}

// Classify turns a channel's error into the connector's classes: refused
// answers (4xx other than 429), certificates and refused addresses are
// permanent; 5xx and 429 answers and failures before the request was
// written are transient; a request written and never answered (timeout,
// connection lost) is an unknown outcome.
func (p *Progress) Classify(what string, err error) error {
	if err == nil {
		return nil
	}
	msg := limit.Text(err.Error(), 512)
	switch {
	case channel.IsPermanent(err):
		return connector.Errorf(connector.Permanent, "%s: %s", what, msg)
	case p.answered.Load():
		if d, ok := channel.RetryAfter(err); ok {
			msg += fmt.Sprintf(" (the receiver asks to retry after %s)", d)
		}
		return connector.Errorf(connector.Transient, "%s: %s", what, msg)
	case p.wrote.Load():
		return connector.Errorf(connector.Unknown, "%s: sent, then %s: it may have been delivered", what, msg)
	}
	return connector.Errorf(connector.Transient, "%s: %s", what, msg)
}
