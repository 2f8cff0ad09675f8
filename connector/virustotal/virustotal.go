// Package virustotal is the VirusTotal enrichment connector: the verdicts
// VirusTotal's API v3 (https://docs.virustotal.com/reference/overview)
// holds on an address, a domain or a file hash. It only reads: nothing to
// undo, and a repeat is harmless. An object VirusTotal has never seen
// (404 NotFoundError) is a result — found: false — not a failure.
package virustotal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/indicator"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "virustotal"

// DefaultURL is VirusTotal's API v3.
const DefaultURL = "https://www.virustotal.com/api/v3"

var common = map[string]string{
	"found":      "false when VirusTotal has no such object (or the address is not public)",
	"malicious":  "engines that say malicious (last_analysis_stats)",
	"suspicious": "engines that say suspicious", "harmless": "engines that say harmless", "undetected": "engines without an opinion",
	"reputation":         "VirusTotal's community reputation score",
	"last_analysis_date": "the last analysis (RFC 3339)",
	"link":               "the object's page on virustotal.com",
}

func outputs(extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range common {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

var spec = connector.Spec{
	Name:        Name,
	Description: "Reads VirusTotal's last analysis stats and reputation of an address, a domain or a file hash (API v3). Read-only.",
	Operations: map[string]connector.Operation{
		"lookup_ip": {
			Description: "GET /ip_addresses/{ip}; private and reserved addresses are not sent.",
			Args:        map[string]connector.ArgSpec{"ip": {Type: "string", Required: true, Description: "an IPv4 or IPv6 address"}},
			Outputs:     outputs(map[string]string{"ip": "the address", "country": "ISO 3166 code", "as_owner": "the AS owner", "asn": "the AS number"}),
			Idempotent:  true,
		},
		"lookup_domain": {
			Description: "GET /domains/{domain}.",
			Args:        map[string]connector.ArgSpec{"domain": {Type: "string", Required: true, Description: "a domain name"}},
			Outputs:     outputs(map[string]string{"domain": "the name", "registrar": "its registrar"}),
			Idempotent:  true,
		},
		"lookup_file": {
			Description: "GET /files/{hash}.",
			Args:        map[string]connector.ArgSpec{"hash": {Type: "string", Required: true, Description: "an MD5, SHA-1 or SHA-256 hash in hex"}},
			Outputs: outputs(map[string]string{"hash": "the hash asked", "sha256": "the file's SHA-256", "meaningful_name": "its most telling name",
				"type_description": "its type"}),
			Idempotent: true,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	cfg Config
	api *apiclient.Client
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	api, err := cfg.Client(Name, DefaultURL, cfg.APIKey)
	if err != nil {
		return nil, err
	}
	api.Auth = func(h http.Header, v string) { h.Set("x-apikey", v) }
	// {"error":{"code":"NotFoundError","message":"…"}}
	api.ErrMessage = func(b []byte) string {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Code+e.Error.Message == "" {
			return ""
		}
		return strings.TrimPrefix(e.Error.Code+": "+e.Error.Message, ": ")
	}
	return &Connector{cfg: cfg, api: api}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

type plan struct {
	op, kind, value string // kind: ip, domain, hash (the output key)
	sent            bool   // false: a non-public address
	req             apiclient.Request
	gui             string
}

func (c *Connector) prepare(call connector.Call) (*plan, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "virustotal: unknown operation %q (want lookup_ip, lookup_domain or lookup_file)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	p := &plan{op: call.Operation, sent: true}
	var coll string
	switch call.Operation {
	case "lookup_ip":
		s, _ := call.Args["ip"].(string)
		a, err := indicator.IP(s)
		if err != nil {
			return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
		}
		p.kind, p.value, p.sent, coll = "ip", a.String(), indicator.Public(a), "ip_addresses"
		p.gui = "ip-address"
	case "lookup_domain":
		s, _ := call.Args["domain"].(string)
		d, err := indicator.Domain(s)
		if err != nil {
			return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
		}
		p.kind, p.value, coll, p.gui = "domain", d, "domains", "domain"
	case "lookup_file":
		s, _ := call.Args["hash"].(string)
		h, _, err := indicator.Hash(s)
		if err != nil {
			return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
		}
		p.kind, p.value, coll, p.gui = "hash", h, "files", "file"
	}
	p.req = apiclient.Request{Method: http.MethodGet, Path: []string{coll, p.value}, Retry: true}
	return p, nil
}

func (p *plan) empty(why string) connector.Result {
	return connector.Result{Summary: why, Outputs: map[string]any{p.kind: p.value, "found": false}}
}

// Simulate validates the call and returns the request Execute sends.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	if !p.sent {
		return p.empty("VirusTotal not asked: " + p.value + " is not a public address"), nil
	}
	return connector.Result{Summary: "would ask VirusTotal about " + p.value, Commands: []string{c.api.Line(p.req)},
		Outputs: map[string]any{p.kind: p.value}}, nil
}

// Execute asks VirusTotal.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	if !p.sent {
		return p.empty("VirusTotal not asked: " + p.value + " is not a public address"), nil
	}
	var ans struct {
		Data *struct {
			ID         string `json:"id"`
			Type       string `json:"type"`
			Attributes struct {
				Stats *struct {
					Malicious  int `json:"malicious"`
					Suspicious int `json:"suspicious"`
					Harmless   int `json:"harmless"`
					Undetected int `json:"undetected"`
				} `json:"last_analysis_stats"`
				Reputation       int    `json:"reputation"`
				LastAnalysisDate int64  `json:"last_analysis_date"`
				Country          string `json:"country"`
				ASOwner          string `json:"as_owner"`
				ASN              int    `json:"asn"`
				Registrar        string `json:"registrar"`
				SHA256           string `json:"sha256"`
				MeaningfulName   string `json:"meaningful_name"`
				TypeDescription  string `json:"type_description"`
			} `json:"attributes"`
		} `json:"data"`
	}
	res := connector.Result{Commands: []string{c.api.Line(p.req)}}
	if _, err := c.api.Do(ctx, p.req, &ans); err != nil {
		if apiclient.IsStatus(err, http.StatusNotFound) {
			r := p.empty("VirusTotal has no " + p.gui + " " + p.value)
			r.Commands = res.Commands
			return r, nil
		}
		return res, fmt.Errorf("%s.%s %s: %w", Name, p.op, p.value, err)
	}
	if ans.Data == nil || ans.Data.Attributes.Stats == nil {
		return res, connector.Errorf(connector.Permanent, "%s.%s %s: the answer has no data.attributes.last_analysis_stats", Name, p.op, p.value)
	}
	a := ans.Data.Attributes
	out := map[string]any{p.kind: p.value, "found": true,
		"malicious": a.Stats.Malicious, "suspicious": a.Stats.Suspicious, "harmless": a.Stats.Harmless, "undetected": a.Stats.Undetected,
		"reputation": a.Reputation, "link": "https://www.virustotal.com/gui/" + p.gui + "/" + p.value,
		"last_analysis_date": "",
	}
	if a.LastAnalysisDate > 0 {
		out["last_analysis_date"] = indicator.Stamp(time.Unix(a.LastAnalysisDate, 0))
	}
	switch p.kind {
	case "ip":
		out["country"], out["as_owner"], out["asn"] = limit.Text(a.Country, 8), limit.Text(a.ASOwner, 256), a.ASN
	case "domain":
		out["registrar"] = limit.Text(a.Registrar, 256)
	case "hash":
		out["sha256"], out["meaningful_name"], out["type_description"] = limit.Text(a.SHA256, 64), limit.Text(a.MeaningfulName, 256), limit.Text(a.TypeDescription, 128)
	}
	res.Outputs = out
	res.Summary = fmt.Sprintf("VirusTotal: %s %d malicious, %d suspicious, %d harmless; reputation %d", p.value,
		a.Stats.Malicious, a.Stats.Suspicious, a.Stats.Harmless, a.Reputation)
	return res, nil
}
