package webhook

import (
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/notify/channel"
	"github.com/riposte-soar/riposte/notify/webhook"
)

// SampleConfig is the part of riposte.yaml the webhook connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Defaults for the zero values of Config.
const (
	DefaultTimeout         = 10 * time.Second
	DefaultMaxPayloadBytes = 64 << 10
)

// Config is the webhook connector's configuration.
type Config struct {
	// Channels are the webhooks steps may post to, by the name steps use;
	// each is configured as a notify webhook channel (url or url_env,
	// secret_env, headers, headers_env).
	Channels         map[string]webhook.Config `yaml:"channels" json:"channels"`
	outbound.Options `yaml:",inline"`
	// MaxPayloadBytes bounds the JSON body posted; 0 means
	// DefaultMaxPayloadBytes.
	MaxPayloadBytes int `yaml:"max_payload_bytes" json:"max_payload_bytes,omitempty"`
}

// target is a resolved webhook.
type target struct {
	url    string
	where  string // the URL without its path and query, or $VARIABLE
	secret []byte
	header http.Header
}

// resolve checks every webhook the way the notify webhook channel does
// (and reads its secrets from the environment now), then keeps what the
// connector needs to post its own body.
func (c Config) resolve() (map[string]target, error) {
	errs := []error{outbound.CheckNames(Name, c.Channels)}
	if c.MaxPayloadBytes < 0 {
		errs = append(errs, errors.New("webhook: max_payload_bytes must not be negative"))
	}
	out := map[string]target{}
	for _, n := range slices.Sorted(maps.Keys(c.Channels)) {
		wc := c.Channels[n]
		if _, err := webhook.New(n, wc, nil); err != nil {
			errs = append(errs, fmt.Errorf("webhook: channels.%s: %w", n, err))
			continue
		}
		hc := channel.HookConfig{URL: wc.URL, URLEnv: wc.URLEnv}
		u, _ := hc.Resolve() // webhook.New checked it
		t := target{url: u, where: hc.String(), header: http.Header{}}
		if wc.SecretEnv != "" {
			t.secret = []byte(os.Getenv(wc.SecretEnv))
		}
		for k, v := range wc.Headers {
			t.header.Set(k, v)
		}
		for k, env := range wc.HeadersEnv {
			t.header.Set(k, os.Getenv(env))
		}
		if _, set := t.header[http.CanonicalHeaderKey(headerIdempotencyKey)]; set {
			errs = append(errs, fmt.Errorf("webhook: channels.%s: %s is set by the connector", n, headerIdempotencyKey))
		}
		out[n] = t
	}
	return out, errors.Join(errs...)
}
