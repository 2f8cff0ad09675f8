// Package intake takes alerts raised by other detectors (POST
// /api/v1/alerts): each document is read by the normalizer of its format
// (named by ?format= or recognised by its shape) into alert.Alert values,
// which are published on the alerts stream as detection publishes its
// own, so dedup, grouping, priority and triggers treat them alike.
package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/ingest/sources/httpin"
	"github.com/riposte-soar/riposte/intake/alertmanager"
	"github.com/riposte-soar/riposte/intake/generic"
	"github.com/riposte-soar/riposte/intake/suricata"
	"github.com/riposte-soar/riposte/intake/wazuh"
	"github.com/riposte-soar/riposte/intake/zeek"
)

// Format reads one document of a detector.
type Format struct {
	Name string
	// Match says whether a document of unnamed format has this shape.
	Match func(top map[string]json.RawMessage) bool
	// Alerts reads the document; an error says what is wrong with it.
	Alerts func(raw []byte, now time.Time) ([]alert.Alert, error)
}

// Formats in the order shapes are tried: the most specific first, the
// generic mapping (any document with a title) last.
var Formats = []Format{
	{alertmanager.Name, alertmanager.Match, alertmanager.Alerts},
	{wazuh.Name, wazuh.Match, wazuh.Alerts},
	{suricata.Name, suricata.Match, suricata.Alerts},
	{zeek.Name, zeek.Match, zeek.Alerts},
	{generic.Name, generic.Match, generic.Alerts},
}

// Lookup finds a format by name.
func Lookup(name string) (Format, bool) {
	for _, f := range Formats {
		if f.Name == name {
			return f, true
		}
	}
	return Format{}, false
}

// Names lists the formats, for error messages and the API document.
func Names() string {
	var n []string
	for _, f := range Formats {
		n = append(n, f.Name)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

// Read turns one document into alerts, with the named format or, when
// format is empty, the first whose shape it has.
func Read(raw []byte, format string, now time.Time) ([]alert.Alert, error) {
	if format != "" {
		f, ok := Lookup(format)
		if !ok {
			return nil, fmt.Errorf("format %q is not one of %s", format, Names())
		}
		return f.Alerts(raw, now)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	for _, f := range Formats {
		if f.Match(top) {
			return f.Alerts(raw, now)
		}
	}
	return nil, fmt.Errorf("no known alert format has this shape: name it with ?format= (%s)", Names())
}

// Publisher stores alerts on the alerts stream (detect.Publisher).
type Publisher interface {
	Publish(ctx context.Context, alerts []alert.Alert) error
}

type formatKey struct{}

// WithFormat names the format of a request's documents ("" to recognise
// each by its shape).
func WithFormat(ctx context.Context, format string) context.Context {
	return context.WithValue(ctx, formatKey{}, format)
}

// ErrTooMany refuses documents past the request's alert limit.
var ErrTooMany = errors.New("too many alerts in the request")

// Store is the httpin.ItemStore of POST /api/v1/alerts: it reads every
// item, refusing the ones it cannot read, and publishes the alerts of the
// others at once. maxAlerts bounds the alerts of one request, as
// ingest.max_batch_events bounds its events: one Alertmanager payload may
// hold many.
func Store(pub Publisher, maxAlerts int) httpin.ItemStore {
	return func(ctx context.Context, items []httpin.Item, now time.Time) ([]error, error) {
		format, _ := ctx.Value(formatKey{}).(string)
		rejects := make([]error, len(items))
		var out []alert.Alert
		for i, it := range items {
			as, err := Read(it.Raw, format, now)
			switch {
			case err != nil:
				rejects[i] = err
			case len(out)+len(as) > maxAlerts:
				rejects[i] = fmt.Errorf("%w: over %d alerts (ingest.max_batch_events), this document was not stored: send it again in another request", ErrTooMany, maxAlerts)
			default:
				out = append(out, as...)
			}
		}
		if len(out) == 0 {
			return rejects, nil
		}
		// The sender hanging up must not abandon a batch half-published.
		return rejects, pub.Publish(context.WithoutCancel(ctx), out)
	}
}
