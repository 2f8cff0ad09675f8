package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are each command's Example lines, by command path without
// "riposte ". They live together so they read as one manual and a test
// (TestEveryCommandHasExamples) can check that every runnable command has
// some and that each line runs a command that exists.
var examples = map[string]string{
	"agent": `  sudo riposte agent --server https://riposte.example:8080 --enroll-token TOKEN
  sudo riposte agent --config /etc/riposte/agent.yaml`,
	"agent breakglass": `  riposte agent breakglass web-1 --reason "isolated host lost its link to the server" --ttl 30m`,
	"agent list": `  riposte agent list
  riposte agent list --output json`,
	"agent release": `  sudo riposte agent release TOKEN`,
	"agent revoke":  `  riposte agent revoke 01JD3V6Q8K2M4N5P7R9S1T3V5X`,
	"agent token":   `  riposte agent token create`,
	"agent token create": `  riposte agent token create
  riposte agent token create --ttl 1h`,
	"alert": `  riposte alert held`,
	"alert held": `  riposte alert held
  riposte alert held --limit 20 --output json`,
	"bouncer": `  riposte bouncer list`,
	"bouncer add": `  riposte bouncer add edge-firewall
  riposte bouncer add nginx-web-01 --output json`,
	"bouncer delete": `  riposte bouncer delete edge-firewall`,
	"feed":           `  riposte feed list`,
	"feed add": `  riposte feed add pa-edge
  riposte feed add fortigate-dc1 --output json`,
	"feed delete": `  riposte feed delete pa-edge`,
	"feed list": `  riposte feed list
  riposte feed list --output json`,
	"bouncer list": `  riposte bouncer list
  riposte bouncer list --pulls 20
  riposte bouncer list --output json`,
	"approval": `  riposte approval list`,
	"approval approve": `  riposte approval approve 01JD3V6Q8K2M4N5P7R9S1T3V5X --comment "go ahead"
  riposte approval approve 01JD3V6Q8K2M4N5P7R9S1T3V5X --set duration=4h --comment "short ban"`,
	"approval deny": `  riposte approval deny 01JD3V6Q8K2M4N5P7R9S1T3V5X --comment "that is our scanner"`,
	"approval list": `  riposte approval list
  riposte approval list --state all --output json`,
	"cluster": `  riposte cluster status`,
	"cluster status": `  riposte cluster status
  riposte cluster status --server http://node-2:8080 --output json`,
	"asset": `  riposte asset list`,
	"asset import": `  riposte asset import assets.csv
  riposte asset import assets.yaml`,
	"asset list": `  riposte asset list
  riposte asset list --discovered --output json`,
	"audit": `  riposte audit verify`,
	"audit list": `  riposte audit list
  riposte audit list --after 120 --limit 50 --output json`,
	"audit verify": `  riposte audit verify
  riposte audit verify --data /var/lib/riposte --output json`,
	"bench":                 `  riposte bench ingest`,
	"bench alarm":           `  riposte bench alarm --alerts 200000 --entities 5000`,
	"bench engine":          `  riposte bench engine --runs 5000 --workers 64`,
	"bench ingest":          `  riposte bench ingest --duration 30s --connections 8`,
	"completion":            `  riposte completion bash > /etc/bash_completion.d/riposte`,
	"completion bash":       `  riposte completion bash > /etc/bash_completion.d/riposte`,
	"completion fish":       `  riposte completion fish > ~/.config/fish/completions/riposte.fish`,
	"completion powershell": `  riposte completion powershell | Out-String | Invoke-Expression`,
	"completion zsh":        `  riposte completion zsh > "${fpath[1]}/_riposte"`,
	"config":                `  riposte config check riposte.yaml`,
	"config check": `  cp riposte.example.yaml riposte.yaml
  riposte config check riposte.yaml`,
	"nats": `  riposte nats config --keys /etc/riposte/nats-keys`,
	"nats config": `  riposte nats config --keys /etc/riposte/nats-keys > riposte-operator.conf
  riposte nats config --keys /etc/riposte/nats-keys --resolver-dir /var/lib/nats/jwt`,
	"decision": `  riposte decision list`,
	"decision add": `  riposte decision add --target 203.0.113.7 --ttl 24h --reason "ssh brute force"
  riposte decision add --kind contain_host --target web-1 --reason "ransomware note found" --incident 01JD3V6Q8K2M4N5P7R9S1T3V5X`,
	"decision list": `  riposte decision list
  riposte decision list --all --output json`,
	"decision revert": `  riposte decision revert 01JD3V6Q8K2M4N5P7R9S1T3V5X --reason "false positive"`,
	"events":          `  riposte events search 203.0.113.7`,
	"events search": `  riposte events search 203.0.113.7
  riposte events search --host web-1 --from 2026-11-26T00:00:00Z --to 2026-11-27T00:00:00Z
  riposte events search "Failed password" --from 15m --output json`,
	"evidence":     `  riposte evidence list`,
	"evidence get": `  riposte evidence get 01JD3V6Q8K2M4N5P7R9S1T3V5X --out memory.lime`,
	"evidence list": `  riposte evidence list
  riposte evidence list --incident 01JD3V6Q8K2M4N5P7R9S1T3V5X --output json`,
	"incident": `  riposte incident list --priority P1`,
	"incident assign": `  riposte incident assign 01JD3V6Q8K2M4N5P7R9S1T3V5X alice
  riposte incident assign 01JD3V6Q8K2M4N5P7R9S1T3V5X ""`,
	"incident comment": `  riposte incident comment 01JD3V6Q8K2M4N5P7R9S1T3V5X called the owner, host reimaged`,
	"incident list": `  riposte incident list
  riposte incident list --priority P1 --status new,triaged
  riposte incident list --assignee alice --output json`,
	"incident merge": `  riposte incident merge 01JD3V6Q8K2M4N5P7R9S1T3V5X 01JD3V7A1B2C3D4E5F6G7H8J9K --reason "same attacker"`,
	"incident priority": `  riposte incident priority 01JD3V6Q8K2M4N5P7R9S1T3V5X P3 --reason "test box, no data"
  riposte incident priority 01JD3V6Q8K2M4N5P7R9S1T3V5X --severity 4 --reason "domain admin involved"
  riposte incident priority 01JD3V6Q8K2M4N5P7R9S1T3V5X --clear --reason "back to the matrix"`,
	"incident recover": `  riposte incident recover 01JD3V6Q8K2M4N5P7R9S1T3V5X`,
	"incident show": `  riposte incident show 01JD3V6Q8K2M4N5P7R9S1T3V5X
  riposte incident show 01JD3V6Q8K2M4N5P7R9S1T3V5X --output json`,
	"incident split":  `  riposte incident split 01JD3V6Q8K2M4N5P7R9S1T3V5X 01JD3V8M1N2P3Q4R5S6T7V8W9X --reason "unrelated scan"`,
	"incident status": `  riposte incident status 01JD3V6Q8K2M4N5P7R9S1T3V5X contained --comment "blocked at the edge"`,
	"incident undo-list": `  riposte incident undo-list 01JD3V6Q8K2M4N5P7R9S1T3V5X
  riposte incident undo-list 01JD3V6Q8K2M4N5P7R9S1T3V5X --output json`,
	"incident verdict": `  riposte incident verdict 01JD3V6Q8K2M4N5P7R9S1T3V5X false_positive`,
	"metrics":          `  riposte metrics response`,
	"metrics response": `  riposte metrics response
  riposte metrics response --from 7d
  riposte metrics response --from 2026-11-01T00:00:00Z --to 2026-12-01T00:00:00Z --output json`,
	"openc2": `  riposte openc2 validate command.json`,
	"openc2 validate": `  riposte openc2 validate command.json
  riposte openc2 validate response.json`,
	"playbook":         `  riposte playbook validate examples/contain-ssh-intrusion.yaml`,
	"playbook disable": `  riposte playbook disable playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c5d`,
	"playbook enable":  `  riposte playbook enable playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c5d`,
	"playbook export": `  riposte playbook export examples/contain-ssh-intrusion.yaml --format cacao
  riposte playbook export playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c5d --format yaml`,
	"playbook history": `  riposte playbook history playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c5d
  riposte playbook history playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c5d --output json`,
	"playbook import": `  riposte playbook import examples/contain-ssh-intrusion.yaml --reason "first version"
  riposte playbook import --repair soarca.json`,
	"playbook library": `  riposte playbook library list`,
	"playbook library import": `  riposte playbook library import ssh-brute-force
  riposte playbook library import --all --reason "starter set"`,
	"playbook library list": `  riposte playbook library list
  riposte playbook library list --output json`,
	"playbook list": `  riposte playbook list
  riposte playbook list --output json`,
	"playbook rollback": `  riposte playbook history playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c5d
  riposte playbook rollback playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c5d --to 1 --reason "version 2 notifies too often"`,
	"playbook run": `  riposte playbook run examples/contain-ssh-intrusion.yaml --dry-run --input examples/dry-run-input.json
  riposte playbook run examples/contain-ssh-intrusion.yaml --dry-run --input examples/dry-run-input.json --output json
  riposte playbook run playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c5d --incident 01JD3V6Q8K2M4N5P7R9S1T3V5X`,
	"playbook validate": `  riposte playbook validate examples/contain-ssh-intrusion.yaml
  riposte playbook validate --repair soarca.json --write fixed.json`,
	"rules":          `  riposte rules test --rules detect/rules/default --events examples/events.ndjson`,
	"rules add":      `  riposte rules add my-rule.yml --reason "catch certutil downloads"`,
	"rules backtest": `  riposte rules backtest --rule my-rule.yml --from 2026-11-19T00:00:00Z --to 2026-11-26T00:00:00Z`,
	"rules bench":    `  riposte rules bench --rules detect/rules/default --events examples/events.ndjson --rounds 100`,
	"rules disable":  `  riposte rules disable 67d1605e-9f43-4c1a-b2a6-0f1f7c2d9e11`,
	"rules enable":   `  riposte rules enable 67d1605e-9f43-4c1a-b2a6-0f1f7c2d9e11`,
	"rules history":  `  riposte rules history 67d1605e-9f43-4c1a-b2a6-0f1f7c2d9e11`,
	"rules lint": `  riposte rules lint /opt/sigma/rules
  riposte rules lint my-rules/ --output json`,
	"rules list": `  riposte rules list
  riposte rules list --output json`,
	"rules rollback": `  riposte rules rollback 67d1605e-9f43-4c1a-b2a6-0f1f7c2d9e11 --to 2 --reason "too noisy"`,
	"rules show":     `  riposte rules show 67d1605e-9f43-4c1a-b2a6-0f1f7c2d9e11`,
	"rules test": `  riposte rules test --rules detect/rules/default --events examples/events.ndjson
  riposte rules test --rules /opt/sigma/rules/windows --events events.ndjson --show-errors`,
	"run":        `  riposte run list --status running`,
	"run cancel": `  riposte run cancel 01JD3V6Q8K2M4N5P7R9S1T3V5X`,
	"run list": `  riposte run list
  riposte run list --status failed --output json`,
	"run show": `  riposte run show 01JD3V6Q8K2M4N5P7R9S1T3V5X
  riposte run show 01JD3V6Q8K2M4N5P7R9S1T3V5X --output json`,
	"serve": `  riposte serve
  riposte serve --config riposte.yaml
  riposte serve --http 10.0.0.1:8080 --nats-listen 10.0.0.1:4223`,
	"secret": `  riposte secret list`,
	"secret delete": `  riposte secret delete firewall-api
  riposte secret delete webhooks/phishing-report --data ./riposte-data`,
	"secret list": `  riposte secret list
  riposte secret list --output json`,
	"silence": `  riposte silence list`,
	"silence add": `  riposte silence add --match host=~build-.* --duration 2h --reason "nightly build scans"
  riposte silence add --match rule_title="SSH brute force" --match ip=198.51.100.23 --until 2026-11-27T08:00:00Z --reason "pentest"`,
	"silence expire": `  riposte silence expire 01JD3V6Q8K2M4N5P7R9S1T3V5X`,
	"silence list": `  riposte silence list
  riposte silence list --all --output json`,
	"token": `  riposte token list`,
	"token create": `  riposte token create --role ingest --name "vector on web-01"
  riposte token create --role viewer --name dashboard --expires 30d --output json`,
	"token list": `  riposte token list
  riposte token list --data /var/lib/riposte --output json`,
	"token revoke": `  riposte token revoke 01JD3V6Q8K2M4N5P7R9S1T3V5X`,
	"user":         `  riposte user list`,
	"user add": `  riposte user add alice --role analyst
  printf '%s\n' "$ALICE_PASSWORD" | riposte user add alice --role analyst --password-stdin`,
	"user disable": `  riposte user disable alice`,
	"user enable":  `  riposte user enable alice`,
	"user list": `  riposte user list
  riposte user list --data /var/lib/riposte --output json`,
	"user passwd": `  riposte user passwd alice
  printf '%s\n' "$NEW_PASSWORD" | riposte user passwd alice --password-stdin`,
	"user role":   `  riposte user role alice responder`,
	"user link":   `  riposte user link alice --slack U024BE7LH`,
	"user unlink": `  riposte user unlink alice`,
	"version": `  riposte version
  riposte --version`,
}

// addExamples gives each command its examples unless it has its own.
func addExamples(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if ex, ok := examples[strings.TrimPrefix(c.CommandPath(), root.Name()+" ")]; ok && c.Example == "" {
			c.Example = strings.TrimRight(ex, "\n")
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
