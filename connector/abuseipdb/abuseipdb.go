// Package abuseipdb is the AbuseIPDB enrichment connector: what the
// AbuseIPDB APIv2 check endpoint (https://docs.abuseipdb.com/#check-endpoint)
// knows of a public address. It only reads: nothing to undo, and a repeat
// is harmless.
package abuseipdb

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/indicator"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "abuseipdb"

// DefaultURL is AbuseIPDB's APIv2.
const DefaultURL = "https://api.abuseipdb.com/api/v2"

var spec = connector.Spec{
	Name:        Name,
	Description: "Reads AbuseIPDB's abuse confidence score, country, ISP and report count of a public address (APIv2 check). Read-only.",
	Operations: map[string]connector.Operation{
		"check_ip": {
			Description: "What AbuseIPDB knows of an address; private and reserved addresses are not sent (public: false).",
			Args: map[string]connector.ArgSpec{
				"ip":           {Type: "string", Required: true, Description: "an IPv4 or IPv6 address"},
				"max_age_days": {Type: "int", Description: "reports of the last N days count (1 to 365; default: the config's)"},
			},
			Outputs: map[string]string{
				"ip": "the address", "public": "false when the address was not sent (private, reserved)",
				"abuseConfidenceScore": "0 to 100", "countryCode": "ISO 3166 code", "isp": "the ISP", "totalReports": "reports in the window",
				"numDistinctUsers": "distinct reporters", "usageType": "e.g. Data Center/Web Hosting/Transit", "domain": "the ISP's domain",
				"isTor": "a Tor exit node", "isWhitelisted": "on AbuseIPDB's allowlist", "lastReportedAt": "the last report (RFC 3339)",
			},
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
	if cfg.MaxAgeDays == 0 {
		cfg.MaxAgeDays = 90
	}
	if cfg.MaxAgeDays < 1 || cfg.MaxAgeDays > 365 {
		return nil, fmt.Errorf("abuseipdb: max_age_days %d: want 1 to 365", cfg.MaxAgeDays)
	}
	api, err := cfg.Client(Name, DefaultURL, cfg.APIKey)
	if err != nil {
		return nil, err
	}
	api.Auth = func(h http.Header, v string) { h.Set("Key", v) }
	// {"errors":[{"detail":…,"status":…}]}
	api.ErrMessage = func(b []byte) string {
		var e struct {
			Errors []struct {
				Detail string `json:"detail"`
			} `json:"errors"`
		}
		if json.Unmarshal(b, &e) != nil || len(e.Errors) == 0 {
			return ""
		}
		return e.Errors[0].Detail
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
	ip     string
	public bool
	req    apiclient.Request
}

func (c *Connector) prepare(call connector.Call) (*plan, error) {
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "abuseipdb: unknown operation %q (want check_ip)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("abuseipdb.check_ip: %w", err)}
	}
	s, _ := call.Args["ip"].(string)
	a, err := indicator.IP(s)
	if err != nil {
		return nil, connector.Errorf(connector.Permanent, "abuseipdb.check_ip: %v", err)
	}
	days := c.cfg.MaxAgeDays
	if v, ok := call.Args["max_age_days"]; ok {
		f, _ := toFloat(v)
		if f < 1 || f > 365 || f != math.Trunc(f) {
			return nil, connector.Errorf(connector.Permanent, "abuseipdb.check_ip: max_age_days %v: want 1 to 365", v)
		}
		days = int(f)
	}
	p := &plan{ip: a.String(), public: indicator.Public(a)}
	p.req = apiclient.Request{Method: http.MethodGet, Path: []string{"check"}, Retry: true,
		Query: url.Values{"ipAddress": {p.ip}, "maxAgeInDays": {strconv.Itoa(days)}}}
	return p, nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func notSent(p *plan) connector.Result {
	return connector.Result{Summary: "AbuseIPDB not asked: " + p.ip + " is not a public address",
		Outputs: map[string]any{"ip": p.ip, "public": false}}
}

// Simulate validates the call and returns the request Execute sends.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	if !p.public {
		return notSent(p), nil
	}
	return connector.Result{Summary: "would ask AbuseIPDB about " + p.ip, Commands: []string{c.api.Line(p.req)},
		Outputs: map[string]any{"ip": p.ip, "public": true}}, nil
}

// Execute asks AbuseIPDB.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	if !p.public {
		return notSent(p), nil
	}
	res := connector.Result{Commands: []string{c.api.Line(p.req)}}
	var ans struct {
		Data *struct {
			IPAddress            string  `json:"ipAddress"`
			IsWhitelisted        *bool   `json:"isWhitelisted"`
			AbuseConfidenceScore *int    `json:"abuseConfidenceScore"`
			CountryCode          *string `json:"countryCode"`
			UsageType            *string `json:"usageType"`
			ISP                  *string `json:"isp"`
			Domain               *string `json:"domain"`
			IsTor                bool    `json:"isTor"`
			TotalReports         int     `json:"totalReports"`
			NumDistinctUsers     int     `json:"numDistinctUsers"`
			LastReportedAt       *string `json:"lastReportedAt"`
		} `json:"data"`
	}
	if _, err := c.api.Do(ctx, p.req, &ans); err != nil {
		return res, fmt.Errorf("abuseipdb.check_ip %s: %w", p.ip, err)
	}
	d := ans.Data
	if d == nil || d.AbuseConfidenceScore == nil {
		return res, connector.Errorf(connector.Permanent, "abuseipdb.check_ip %s: the answer has no data.abuseConfidenceScore", p.ip)
	}
	str := func(s *string, n int) string {
		if s == nil {
			return ""
		}
		return limit.Text(*s, n)
	}
	out := map[string]any{"ip": p.ip, "public": true,
		"abuseConfidenceScore": *d.AbuseConfidenceScore, "countryCode": str(d.CountryCode, 8), "isp": str(d.ISP, 256),
		"totalReports": d.TotalReports, "numDistinctUsers": d.NumDistinctUsers, "usageType": str(d.UsageType, 128),
		"domain": str(d.Domain, 256), "isTor": d.IsTor, "isWhitelisted": d.IsWhitelisted != nil && *d.IsWhitelisted,
		"lastReportedAt": indicator.ParseStamp(str(d.LastReportedAt, 64)),
	}
	res.Outputs = out
	res.Summary = fmt.Sprintf("AbuseIPDB: %s abuse confidence %d%%, %d reports in %s days (%s, %s)", p.ip, *d.AbuseConfidenceScore,
		d.TotalReports, p.req.Query.Get("maxAgeInDays"), out["countryCode"], out["isp"])
	return res, nil
}
