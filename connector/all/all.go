// Package all registers the built-in connectors: adding one is one new
// folder under connector/ and one line here.
package all

import (
	"cmp"
	"context"
	"fmt"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/abuseipdb"
	"github.com/riposte-soar/riposte/connector/agent"
	"github.com/riposte-soar/riposte/connector/defender"
	"github.com/riposte-soar/riposte/connector/dnssink"
	"github.com/riposte-soar/riposte/connector/email"
	"github.com/riposte-soar/riposte/connector/entra"
	"github.com/riposte-soar/riposte/connector/falcon"
	"github.com/riposte-soar/riposte/connector/fortigate"
	"github.com/riposte-soar/riposte/connector/http"
	"github.com/riposte-soar/riposte/connector/incidentops"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/jira"
	"github.com/riposte-soar/riposte/connector/ldap"
	"github.com/riposte-soar/riposte/connector/notifyops"
	"github.com/riposte-soar/riposte/connector/okta"
	"github.com/riposte-soar/riposte/connector/opnsense"
	"github.com/riposte-soar/riposte/connector/opsgenie"
	"github.com/riposte-soar/riposte/connector/pagerduty"
	"github.com/riposte-soar/riposte/connector/panos"
	"github.com/riposte-soar/riposte/connector/rdap"
	"github.com/riposte-soar/riposte/connector/recovery"
	"github.com/riposte-soar/riposte/connector/servicenow"
	"github.com/riposte-soar/riposte/connector/set"
	"github.com/riposte-soar/riposte/connector/slack"
	"github.com/riposte-soar/riposte/connector/ssh"
	"github.com/riposte-soar/riposte/connector/teams"
	"github.com/riposte-soar/riposte/connector/thehive"
	"github.com/riposte-soar/riposte/connector/virustotal"
	"github.com/riposte-soar/riposte/connector/wait"
	"github.com/riposte-soar/riposte/connector/webhook"
	"github.com/riposte-soar/riposte/notify"
)

// The real services implement what the connectors need.
var (
	_ incidentops.Incidents = (*alarm.Service)(nil)
	_ notifyops.Notifier    = (*notify.Dispatcher)(nil)
)

// Deps is what the built-in connectors need from the node.
type Deps struct {
	// Incidents is the alarm service; nil leaves the incident connector
	// out (playbooks using it then fail the lint: unknown connector).
	Incidents incidentops.Incidents
	// Notifier is the notification dispatcher; nil leaves the notify
	// connector out.
	Notifier notifyops.Notifier
	// HTTP configures the http connector (zero: public addresses only).
	HTTP http.Config
	// SSH configures the ssh connector; nil leaves it out (it needs known
	// host keys and an allowlist of commands before it can do anything).
	SSH *ssh.Config
	// Email, Webhook, Slack and Teams configure the connectors that send
	// one message directly through a channel (connectors.email, ...); nil
	// leaves each out (each needs a server or named webhooks first).
	Email   *email.Config
	Webhook *webhook.Config
	Slack   *slack.Config
	Teams   *teams.Config
	// DNSSink configures the DNS sinkhole connector (Unbound); nil leaves
	// it out (it needs a resolver and a sinkhole address).
	DNSSink *dnssink.Config
	// LDAP configures the directory accounts connector (OpenLDAP or
	// AD); nil leaves it out (it needs a directory and a bind account).
	LDAP *ldap.Config
	// PagerDuty configures the paging connector; nil leaves it out (it
	// needs a routing key).
	PagerDuty *pagerduty.Config
	// Jira configures the issue connector (Jira); nil leaves it out.
	Jira *jira.Config
	// Defender configures the EDR isolation connector (Microsoft
	// Defender for Endpoint); nil leaves it out.
	Defender *defender.Config
	// Falcon configures the EDR containment connector (CrowdStrike
	// Falcon); nil leaves it out.
	Falcon *falcon.Config
	// Entra configures the identity connector (Microsoft Entra ID
	// through Microsoft Graph); nil leaves it out.
	Entra *entra.Config
	// Okta configures the identity connector (Okta Users API); nil
	// leaves it out.
	Okta *okta.Config
	// ServiceNow configures the incident record connector; nil leaves it out.
	ServiceNow *servicenow.Config
	// AbuseIPDB and VirusTotal configure the enrichment connectors
	// (read-only); nil leaves each out (each needs an API key).
	AbuseIPDB  *abuseipdb.Config
	VirusTotal *virustotal.Config
	// RDAP configures the whois connector (no key); nil leaves it out.
	RDAP *rdap.Config
	// TheHive configures the case connector (TheHive 5); nil leaves it out.
	TheHive *thehive.Config
	// Opsgenie configures the paging connector (Opsgenie); nil leaves it out.
	Opsgenie *opsgenie.Config
	// OPNsense configures the firewall alias connector; nil leaves it out.
	OPNsense *opnsense.Config
	// PANOS and FortiGate configure the firewall dynamic group
	// connectors; nil leaves each out.
	PANOS     *panos.Config
	FortiGate *fortigate.Config
	// Recovery is the recovery connector, bound to the playbook service
	// once it exists; nil leaves it out.
	Recovery *recovery.Connector
	// Agents and Decisions are the host agents and the decision store;
	// nil leaves the agent connector out.
	Agents    agent.Fleet
	Decisions agent.Decisions
	Agent     agent.Config
	// Set, Wait, Incident and Notify configure the other connectors; the
	// zero values are the defaults.
	Set      set.Config
	Wait     wait.Config
	Incident incidentops.Config
	Notify   notifyops.Config
}

// Register adds every built-in connector to reg.
func Register(reg *connector.Registry, deps Deps) error {
	h, err := http.New(deps.HTTP)
	if err != nil {
		return fmt.Errorf("connector http: %w", err)
	}
	cs := []connector.Connector{set.New(deps.Set), wait.New(deps.Wait), h}
	if deps.Incidents != nil {
		cs = append(cs, incidentops.New(deps.Incidents, deps.Incident))
	}
	if deps.Notifier != nil {
		cs = append(cs, notifyops.New(deps.Notifier, deps.Notify))
	}
	if deps.Recovery != nil {
		cs = append(cs, deps.Recovery)
	}
	if deps.Agents != nil && deps.Decisions != nil {
		c, err := agent.New(deps.Agents, deps.Decisions, deps.Agent)
		if err != nil {
			return fmt.Errorf("connector agent: %w", err)
		}
		cs = append(cs, c)
	}
	if deps.SSH != nil {
		c, err := ssh.New(*deps.SSH)
		if err != nil {
			return fmt.Errorf("connector ssh: %w", err)
		}
		cs = append(cs, c)
	}
	// The message connectors each need a server or named webhooks: one
	// left nil is left out.
	optional := []struct {
		set  bool
		name string
		make func() (connector.Connector, error)
	}{
		{deps.Email != nil, email.Name, func() (connector.Connector, error) { return email.New(*deps.Email) }},
		{deps.Webhook != nil, webhook.Name, func() (connector.Connector, error) { return webhook.New(*deps.Webhook) }},
		{deps.Slack != nil, slack.Name, func() (connector.Connector, error) { return slack.New(*deps.Slack) }},
		{deps.Teams != nil, teams.Name, func() (connector.Connector, error) { return teams.New(*deps.Teams) }},
		{deps.DNSSink != nil, dnssink.Name, func() (connector.Connector, error) { return dnssink.New(*deps.DNSSink) }},
		{deps.LDAP != nil, ldap.Name, func() (connector.Connector, error) { return ldap.New(*deps.LDAP) }},
		{deps.PagerDuty != nil, pagerduty.Name, func() (connector.Connector, error) { return pagerduty.New(*deps.PagerDuty) }},
		{deps.Jira != nil, jira.Name, func() (connector.Connector, error) { return jira.New(*deps.Jira) }},
		{deps.ServiceNow != nil, servicenow.Name, func() (connector.Connector, error) { return servicenow.New(*deps.ServiceNow) }},
		{deps.AbuseIPDB != nil, abuseipdb.Name, func() (connector.Connector, error) { return abuseipdb.New(*deps.AbuseIPDB) }},
		{deps.VirusTotal != nil, virustotal.Name, func() (connector.Connector, error) { return virustotal.New(*deps.VirusTotal) }},
		{deps.RDAP != nil, rdap.Name, func() (connector.Connector, error) { return rdap.New(*deps.RDAP) }},
		{deps.TheHive != nil, thehive.Name, func() (connector.Connector, error) { return thehive.New(*deps.TheHive) }},
		{deps.Opsgenie != nil, opsgenie.Name, func() (connector.Connector, error) { return opsgenie.New(*deps.Opsgenie) }},
		{deps.OPNsense != nil, opnsense.Name, func() (connector.Connector, error) { return opnsense.New(*deps.OPNsense) }},
		{deps.PANOS != nil, panos.Name, func() (connector.Connector, error) { return panos.New(*deps.PANOS) }},
		{deps.FortiGate != nil, fortigate.Name, func() (connector.Connector, error) { return fortigate.New(*deps.FortiGate) }},
		{deps.Defender != nil, defender.Name, func() (connector.Connector, error) { return defender.New(*deps.Defender) }},
		{deps.Falcon != nil, falcon.Name, func() (connector.Connector, error) { return falcon.New(*deps.Falcon) }},
		{deps.Entra != nil, entra.Name, func() (connector.Connector, error) { return entra.New(*deps.Entra) }},
		{deps.Okta != nil, okta.Name, func() (connector.Connector, error) { return okta.New(*deps.Okta) }},
	}
	for _, o := range optional {
		if !o.set {
			continue
		}
		c, err := o.make()
		if err != nil {
			return fmt.Errorf("connector %s: %w", o.name, err)
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// ShareAPI gives every configured vendor-API connector the node's secret
// resolver, and those whose records link back to the incident (tickets,
// paging) the node's public URL unless their own riposte_url is set.
func (d *Deps) ShareAPI(secrets func(ctx context.Context, ref string) (string, error), publicURL string) {
	linked := []*apiclient.Options{}
	if d.PagerDuty != nil {
		linked = append(linked, &d.PagerDuty.Options)
	}
	if d.Opsgenie != nil {
		linked = append(linked, &d.Opsgenie.Options)
	}
	if d.TheHive != nil {
		linked = append(linked, &d.TheHive.Options)
	}
	if d.Jira != nil {
		linked = append(linked, &d.Jira.Options)
	}
	if d.ServiceNow != nil {
		linked = append(linked, &d.ServiceNow.Options)
	}
	for _, o := range linked {
		o.RiposteURL = cmp.Or(o.RiposteURL, publicURL)
	}
	all := linked
	if d.AbuseIPDB != nil {
		all = append(all, &d.AbuseIPDB.Options)
	}
	if d.VirusTotal != nil {
		all = append(all, &d.VirusTotal.Options)
	}
	if d.Falcon != nil {
		all = append(all, &d.Falcon.Options)
	}
	if d.Defender != nil {
		all = append(all, &d.Defender.Options)
	}
	if d.Entra != nil {
		all = append(all, &d.Entra.Options)
	}
	if d.Okta != nil {
		all = append(all, &d.Okta.Options)
	}
	if d.OPNsense != nil {
		all = append(all, &d.OPNsense.Options)
	}
	if d.PANOS != nil {
		all = append(all, &d.PANOS.Options)
	}
	if d.FortiGate != nil {
		all = append(all, &d.FortiGate.Options)
	}
	for _, o := range all {
		o.Secrets = secrets
	}
}
