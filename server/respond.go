package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"syscall"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/abuseipdb"
	"github.com/riposte-soar/riposte/connector/agent"
	"github.com/riposte-soar/riposte/connector/all"
	"github.com/riposte-soar/riposte/connector/defender"
	"github.com/riposte-soar/riposte/connector/dnssink"
	emailconn "github.com/riposte-soar/riposte/connector/email"
	"github.com/riposte-soar/riposte/connector/entra"
	"github.com/riposte-soar/riposte/connector/falcon"
	"github.com/riposte-soar/riposte/connector/fortigate"
	httpconn "github.com/riposte-soar/riposte/connector/http"
	"github.com/riposte-soar/riposte/connector/jira"
	ldapconn "github.com/riposte-soar/riposte/connector/ldap"
	"github.com/riposte-soar/riposte/connector/okta"
	"github.com/riposte-soar/riposte/connector/opnsense"
	"github.com/riposte-soar/riposte/connector/opsgenie"
	"github.com/riposte-soar/riposte/connector/pagerduty"
	"github.com/riposte-soar/riposte/connector/panos"
	"github.com/riposte-soar/riposte/connector/rdap"
	"github.com/riposte-soar/riposte/connector/recovery"
	"github.com/riposte-soar/riposte/connector/servicenow"
	slackconn "github.com/riposte-soar/riposte/connector/slack"
	"github.com/riposte-soar/riposte/connector/ssh"
	teamsconn "github.com/riposte-soar/riposte/connector/teams"
	"github.com/riposte-soar/riposte/connector/thehive"
	"github.com/riposte-soar/riposte/connector/virustotal"
	webhookconn "github.com/riposte-soar/riposte/connector/webhook"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/respond"
	"github.com/riposte-soar/riposte/rulestore"
	"github.com/riposte-soar/riposte/secret"
	"github.com/riposte-soar/riposte/store"
)

// EngineDB is the durable engine's database in the data directory.
const EngineDB = "engine.db"

// setupRespond builds the connector registry, the durable engine and the
// playbook service.
func setupRespond(ctx context.Context, cfg config.Config, ctl *store.DB, secrets *secret.Store, alarmSvc *alarm.Service, n *notifier, agents *fleet.Fleet, decisions *decision.Store, log *slog.Logger) (*respond.Service, error) {
	reg := connector.NewRegistry()
	rec := recovery.New()
	deps, err := connectorDeps(cfg, secrets)
	if err != nil {
		return nil, err
	}
	deps.Incidents, deps.Agents, deps.Decisions, deps.Recovery = alarmSvc, agents, decisions, rec
	if n != nil && n.d != nil {
		deps.Notifier = n.d
	}
	if err := all.Register(reg, deps); err != nil {
		return nil, err
	}
	// Every successful action taken for an incident records its undo.
	ledger := respond.NewLedger(ctl)
	reg, err = ledger.Recording(reg)
	if err != nil {
		return nil, err
	}
	opts := engine.Options{Logger: log, Workers: cfg.Respond.Workers, Lease: cfg.Respond.Lease.D()}
	if opts.Workers == 0 {
		opts.Workers = 8
	}
	if point := os.Getenv("RIPOSTE_TEST_CRASH_AT"); point != "" {
		// Crash tests: the process kills itself with SIGKILL the first
		// time the engine reaches the named point ("claimed": a task was
		// leased; "dispatched": its connector call returned, its result
		// not yet committed), so tests can crash it exactly there.
		log.Warn("RIPOSTE_TEST_CRASH_AT is set: this process will SIGKILL itself", "point", point)
		opts.Hook = func(p string, c engine.Claim) error {
			if p == point {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
			return nil
		}
	}
	opts.Policy = approvalPolicy(cfg.Respond.Policies, alarmSvc.Inventory())
	// The engine queues audit entries in its own transactions; they move
	// into the hash chain of the control database from there.
	auditLog := audit.New(ctl)
	opts.AuditSink = func(ctx context.Context, recs []engine.AuditRecord) error {
		return auditLog.Import(ctx, "engine", recs)
	}
	// Runs, approval answers and the audit entries queued with them are
	// durable state: every commit is fsync'd, whatever database.sync says.
	opts.Sync = "full"
	eng, err := engine.Open(DBTarget(cfg, EngineDB), reg, opts)
	if err != nil {
		return nil, fmt.Errorf("playbook engine: %w", err)
	}
	logSync(ctx, log, cfg, EngineDB, eng)
	lib := &respond.Library{Store: rulestore.NewPlaybooks(ctl), Reg: reg}
	if secrets != nil {
		lib.SecretExists = secrets.Exists
	}
	svc := &respond.Service{
		Lib:    lib,
		Engine: eng, Log: log, Assets: alarmSvc.Inventory().Lookup, Alert: alarmSvc.Store().Alert,
		Ledger: ledger, Registry: reg, Note: alarmSvc.Note,
	}
	rec.Bind(svc)
	if err := svc.Reload(ctx); err != nil {
		return nil, err
	}
	return svc, nil
}

// connectorDeps reads the connectors section (strictly: an unknown key is
// an error) into the connectors' settings.
func connectorDeps(cfg config.Config, secrets *secret.Store) (all.Deps, error) {
	var deps all.Deps
	if len(bytes.TrimSpace(cfg.Connectors.YAML)) > 0 {
		var cc struct {
			HTTP       *httpconn.Config    `yaml:"http"`
			SSH        *ssh.Config         `yaml:"ssh"`
			Email      *emailconn.Config   `yaml:"email"`
			Webhook    *webhookconn.Config `yaml:"webhook"`
			Slack      *slackconn.Config   `yaml:"slack"`
			Teams      *teamsconn.Config   `yaml:"teams"`
			DNSSink    *dnssink.Config     `yaml:"dnssink"`
			LDAP       *ldapconn.Config    `yaml:"ldap"`
			PagerDuty  *pagerduty.Config   `yaml:"pagerduty"`
			Jira       *jira.Config        `yaml:"jira"`
			Defender   *defender.Config    `yaml:"defender"`
			Falcon     *falcon.Config      `yaml:"falcon"`
			Entra      *entra.Config       `yaml:"entra"`
			Okta       *okta.Config        `yaml:"okta"`
			ServiceNow *servicenow.Config  `yaml:"servicenow"`
			AbuseIPDB  *abuseipdb.Config   `yaml:"abuseipdb"`
			VirusTotal *virustotal.Config  `yaml:"virustotal"`
			RDAP       *rdap.Config        `yaml:"rdap"`
			TheHive    *thehive.Config     `yaml:"thehive"`
			Opsgenie   *opsgenie.Config    `yaml:"opsgenie"`
			OPNsense   *opnsense.Config    `yaml:"opnsense"`
			PANOS      *panos.Config       `yaml:"panos"`
			FortiGate  *fortigate.Config   `yaml:"fortigate"`
			Agent      *agent.Config       `yaml:"agent"`
		}
		if err := yaml.UnmarshalWithOptions(cfg.Connectors.YAML, &cc, yaml.Strict()); err != nil {
			return deps, fmt.Errorf("connectors (from line %d): %v", cfg.Connectors.Line, err)
		}
		deps.SSH, deps.Email, deps.Webhook, deps.Slack, deps.Teams = cc.SSH, cc.Email, cc.Webhook, cc.Slack, cc.Teams
		deps.DNSSink, deps.LDAP = cc.DNSSink, cc.LDAP
		deps.PagerDuty = cc.PagerDuty
		deps.Jira = cc.Jira
		deps.Defender = cc.Defender
		deps.Falcon = cc.Falcon
		deps.Entra, deps.Okta = cc.Entra, cc.Okta
		deps.ServiceNow = cc.ServiceNow
		deps.AbuseIPDB, deps.VirusTotal, deps.RDAP = cc.AbuseIPDB, cc.VirusTotal, cc.RDAP
		deps.TheHive = cc.TheHive
		deps.Opsgenie = cc.Opsgenie
		deps.OPNsense = cc.OPNsense
		deps.PANOS, deps.FortiGate = cc.PANOS, cc.FortiGate
		if cc.HTTP != nil {
			deps.HTTP = *cc.HTTP
		}
		if cc.Agent != nil {
			deps.Agent = *cc.Agent
		}
	}
	// respond.http holds the address policy too; both apply.
	deps.HTTP.AllowPrivate = deps.HTTP.AllowPrivate || cfg.Respond.HTTP.AllowPrivate
	deps.HTTP.AllowHosts = append(slices.Clone(cfg.Respond.HTTP.AllowHosts), deps.HTTP.AllowHosts...)
	// Resolved at each call, so `riposte secret set` rotates without a
	// restart. Without a store (config check) references resolve to
	// nothing; checkSecretRefs reports the missing ones.
	deps.HTTP.Secrets = func(ctx context.Context, ref string) (string, error) {
		if secrets == nil {
			return "", errors.New("no secret store")
		}
		return secrets.Resolve(ctx, ref)
	}
	if deps.DNSSink != nil {
		deps.DNSSink.Secrets = deps.HTTP.Secrets
	}
	if deps.LDAP != nil {
		deps.LDAP.Secrets = deps.HTTP.Secrets
	}
	deps.ShareAPI(deps.HTTP.Secrets, cfg.PublicURL)
	return deps, nil
}

// fanout tells several listeners about incident events: people (notify)
// and playbooks (triggers).
type fanout struct {
	n       *notifier
	respond func(ev string, inc *alarm.Incident, text string)
}

func (f *fanout) Notify(ev string, inc *alarm.Incident, text string) {
	f.n.Notify(ev, inc, text)
	if f.respond != nil {
		f.respond(ev, inc, text)
	}
}

// approvalPolicy turns the configured policies into the engine's gate: an
// action on a listed operation whose "host" is an asset of at least the
// policy's criticality waits for a person.
func approvalPolicy(ps []config.ApprovalPolicy, inv *alarm.Inventory) func(engine.CallSpec) (string, []string) {
	if len(ps) == 0 {
		return nil
	}
	return func(c engine.CallSpec) (string, []string) {
		op := c.Connector + "." + c.Operation
		for _, p := range ps {
			if !slices.Contains(p.Operations, op) {
				continue
			}
			host, _ := c.Args["host"].(string)
			crit := 0
			if a := inv.Lookup(alarm.Entity{Kind: "host", Value: host}); a != nil && !a.Discovered {
				crit = a.Criticality
			}
			if p.MinCriticality > 0 && crit < p.MinCriticality {
				continue
			}
			roles := p.Roles
			if len(roles) == 0 {
				roles = []string{"responder"}
			}
			return fmt.Sprintf("Policy: %s on %s (asset criticality %d) needs a person's approval before it is sent: %s", op, host, crit, c.Text), roles
		}
		return "", nil
	}
}
