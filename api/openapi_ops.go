package api

import (
	"net/http"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/bouncer"
	"github.com/riposte-soar/riposte/cluster"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/detect"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/feeds"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/ingest/sources/httpin"
	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/openc2"
	"github.com/riposte-soar/riposte/respond"
	"github.com/riposte-soar/riposte/rulestore"
	"github.com/riposte-soar/riposte/secret"
)

// ops says, per "METHOD path" of the route table, what each operation takes
// and answers, in the Go types its handler encodes and decodes. A route
// missing here fails TestOpenAPIDocument.
var ops = map[string]opSpec{
	"GET /healthz":             {id: "healthz", out: obj{"status": "", "version": ""}},
	"GET /readyz":              {id: "readyz", out: obj{"status": ""}},
	"GET /metrics":             {id: "metrics", contentType: "text/plain", out: schema{"type": "string"}},
	"GET /api/v1/openapi.json": {id: "openapi", out: schema{"type": "object"}},
	"GET /api/v1/whoami":       {id: "whoami", out: auth.Token{}},
	"GET /api/v1/cluster":      {id: "clusterStatus", out: cluster.Status{}},
	// The CrowdSec Local API's answers, errors included ({"message": ...}).
	"GET /v1/decisions/stream": {id: "crowdsecDecisionStream", out: obj{"new": []bouncer.Decision{}, "deleted": []bouncer.Decision{}},
		also: map[int]any{0: obj{"message": ""}}},
	"GET /v1/decisions":                 {id: "crowdsecDecisions", out: []bouncer.Decision{}, also: map[int]any{0: obj{"message": ""}}},
	"GET /api/v1/bouncers":              {id: "listBouncers", out: obj{"bouncers": []bouncer.Bouncer{}}},
	"GET /api/v1/bouncers/{name}/pulls": {id: "bouncerPulls", out: obj{"pulls": []bouncer.Pull{}}},
	// A feed's body is plain text, CSV or JSON by format; errors are text.
	"GET /feeds/{format}": {id: "feed", contentType: "text/plain", out: schema{"type": "string"}, also: map[int]any{304: nil}},
	"GET /api/v1/feeds":   {id: "listFeeds", out: obj{"serial": int64(0), "feeds": []feeds.Consumer{}}},
	"POST /api/v1/events": {id: "ingestEvents", status: http.StatusAccepted, out: httpin.Result{},
		// A batch is answered with its result also when some or all of it
		// was refused.
		also: map[int]any{400: anyOf{httpin.Result{}, httpjson.ErrorBody{}}, 429: anyOf{httpin.Result{}, httpjson.ErrorBody{}},
			503: anyOf{httpin.Result{}, httpjson.ErrorBody{}}}},
	"POST /api/v1/alerts": {id: "ingestAlerts", status: http.StatusAccepted, out: httpin.Result{},
		also: map[int]any{400: anyOf{httpin.Result{}, httpjson.ErrorBody{}}, 429: anyOf{httpin.Result{}, httpjson.ErrorBody{}},
			503: anyOf{httpin.Result{}, httpjson.ErrorBody{}}}},
	"GET /api/v1/events":               {id: "listEvents", out: obj{"events": []event.Event{}, "next_cursor": ""}},
	"GET /api/v1/tokens":               {id: "listTokens", out: obj{"tokens": []auth.Token{}}},
	"POST /api/v1/tokens":              {id: "createToken", in: tokenRequest{}, status: http.StatusCreated, out: obj{"token": auth.Token{}, "secret": ""}},
	"DELETE /api/v1/tokens/{id}":       {id: "revokeToken", status: http.StatusNoContent},
	"GET /api/v1/secrets":              {id: "listSecrets", out: obj{"secrets": []secret.Meta{}}},
	"PUT /api/v1/secrets/{name}":       {id: "setSecret", in: secretRequest{}, out: secret.Meta{}},
	"DELETE /api/v1/secrets/{name}":    {id: "deleteSecret", status: http.StatusNoContent},
	"GET /api/v1/audit":                {id: "listAudit", out: obj{"entries": []audit.Entry{}}},
	"GET /api/v1/audit/verify":         {id: "verifyAudit", out: obj{"entries": int64(0), "intact": false, "break": (*audit.Break)(nil)}},
	"GET /api/v1/rules":                {id: "listRules", out: obj{"rules": []rulestore.Rule{}}},
	"GET /api/v1/rules/active":         {id: "activeRules", out: obj{"versions": []rulestore.Version{}}},
	"GET /api/v1/rules/{id}":           {id: "getRule", out: obj{"rule": rulestore.Rule{}, "version": rulestore.Version{}}},
	"GET /api/v1/rules/{id}/versions":  {id: "ruleHistory", out: obj{"versions": []rulestore.Version{}}},
	"POST /api/v1/rules":               {id: "putRule", in: sourceRequest{}, status: http.StatusCreated, out: rulestore.Version{}},
	"POST /api/v1/rules/{id}/disable":  {id: "disableRule", in: reasonRequest{}, status: http.StatusNoContent},
	"POST /api/v1/rules/{id}/enable":   {id: "enableRule", in: reasonRequest{}, status: http.StatusNoContent},
	"GET /api/v1/alerts/stream":        {id: "alertStream", out: obj{"alerts": []detect.StreamAlert{}, "next": uint64(0)}},
	"POST /api/v1/rules/{id}/rollback": {id: "rollbackRule", in: rollbackRequest{}, status: http.StatusCreated, out: rulestore.Version{}},

	"GET /api/v1/incidents":                {id: "listIncidents", out: obj{"incidents": []*alarm.Incident{}}},
	"GET /api/v1/incidents/{id}":           {id: "getIncident", out: obj{"incident": &alarm.Incident{}, "durations": alarm.Durations{}, "alerts": []*alarm.Alert{}, "timeline": []alarm.TimelineEntry{}}},
	"POST /api/v1/incidents/{id}/assign":   {id: "assignIncident", in: incidentChange{}, out: &alarm.Incident{}},
	"POST /api/v1/incidents/{id}/status":   {id: "setIncidentStatus", in: incidentChange{}, out: &alarm.Incident{}},
	"POST /api/v1/incidents/{id}/comment":  {id: "commentIncident", in: incidentChange{}, out: &alarm.Incident{}},
	"POST /api/v1/incidents/{id}/verdict":  {id: "setIncidentVerdict", in: incidentChange{}, out: &alarm.Incident{}},
	"POST /api/v1/incidents/{id}/tags":     {id: "tagIncident", in: incidentChange{}, out: &alarm.Incident{}},
	"POST /api/v1/incidents/{id}/priority": {id: "overrideIncidentPriority", in: incidentChange{}, out: &alarm.Incident{}},
	"POST /api/v1/incidents/{id}/merge":    {id: "mergeIncidents", in: mergeRequest{}, out: &alarm.Incident{}},
	"POST /api/v1/incidents/{id}/split":    {id: "splitIncident", in: splitRequest{}, status: http.StatusCreated, out: &alarm.Incident{}},
	"GET /api/v1/alerts/held":              {id: "heldAlerts", out: obj{"alerts": []*alarm.Alert{}, "counts": map[string]int64{}}},
	"GET /api/v1/silences":                 {id: "listSilences", out: obj{"silences": []*alarm.Silence{}}},
	"POST /api/v1/silences":                {id: "addSilence", in: alarm.Silence{}, status: http.StatusCreated, out: &alarm.Silence{}},
	"DELETE /api/v1/silences/{id}":         {id: "expireSilence", status: http.StatusNoContent},
	"GET /api/v1/assets":                   {id: "listAssets", out: obj{"assets": []*alarm.Asset{}}},
	"POST /api/v1/assets":                  {id: "putAssets", out: obj{"stored": 0}},
	"GET /api/v1/metrics/response":         {id: "responseMetrics", out: alarm.ResponseMetrics{}},

	"GET /api/v1/decisions": {id: "listDecisions", out: obj{"decisions": anyOf{[]decision.Decision{}, []enforced{}}}},
	"POST /api/v1/decisions": {id: "addDecision", in: decisionRequest{}, status: http.StatusCreated, out: decisionAdded{},
		also: map[int]any{http.StatusUnprocessableEntity: httpjson.ErrorBody{}}},
	"POST /api/v1/decisions/{id}/revert": {id: "revertDecision", in: revertRequest{}, out: decision.Decision{}},

	"GET /api/v1/incidents/{id}/undo":      {id: "listUndo", out: obj{"undo": []respond.UndoEntry{}}},
	"POST /api/v1/incidents/{id}/recover":  {id: "recoverIncident", out: obj{"steps": []recoveryStep{}, "failed": 0}},
	"GET /api/v1/playbooks":                {id: "listPlaybooks", out: obj{"playbooks": []rulestore.Rule{}}},
	"POST /api/v1/playbooks":               {id: "putPlaybook", in: sourceRequest{}, status: http.StatusCreated, out: rulestore.Version{}},
	"GET /api/v1/playbooks/{id}":           {id: "getPlaybook", out: obj{"playbook": rulestore.Rule{}, "version": rulestore.Version{}}},
	"GET /api/v1/playbooks/{id}/versions":  {id: "playbookHistory", out: obj{"versions": []rulestore.Version{}}},
	"POST /api/v1/playbooks/{id}/rollback": {id: "rollbackPlaybook", in: rollbackRequest{}, status: http.StatusCreated, out: rulestore.Version{}},
	"POST /api/v1/playbooks/{id}/disable":  {id: "disablePlaybook", status: http.StatusNoContent},
	"POST /api/v1/playbooks/{id}/enable":   {id: "enablePlaybook", status: http.StatusNoContent},
	"POST /api/v1/playbooks/{id}/runs":     {id: "startRun", in: runRequest{}, status: http.StatusCreated, out: obj{"run": ""}},
	"POST /api/v1/hooks/{name}":            {id: "webhook", in: map[string]any{}, status: http.StatusAccepted, out: obj{"runs": []string{}}},
	"GET /api/v1/runs":                     {id: "listRuns", out: obj{"runs": []engine.RunInfo{}}},
	"GET /api/v1/runs/{id}":                {id: "getRun", out: engine.Trace{}},
	"POST /api/v1/runs/{id}/cancel":        {id: "cancelRun", status: http.StatusNoContent},
	"GET /api/v1/approvals":                {id: "listApprovals", out: obj{"approvals": []engine.Inquiry{}}},
	"POST /api/v1/approvals/{id}/approve":  {id: "approve", in: answerRequest{}, status: http.StatusNoContent},
	"POST /api/v1/approvals/{id}/deny":     {id: "deny", in: answerRequest{}, status: http.StatusNoContent},

	"POST /api/v1/agents/enroll":      {id: "enrollAgent", in: fleet.EnrollRequest{}, out: enrollAnswer{}},
	"GET /api/v1/agents":              {id: "listAgents", out: obj{"agents": []fleet.Agent{}}},
	"POST /api/v1/agents/tokens":      {id: "createAgentToken", in: agentTokenRequest{}, status: http.StatusCreated, out: obj{"id": "", "token": "", "expires": protocol.TokenRecord{}.Expires}},
	"POST /api/v1/agents/breakglass":  {id: "breakGlass", in: breakGlassRequest{}, status: http.StatusCreated, out: obj{"token": "", "reverted": []decision.Decision{}}},
	"POST /api/v1/agents/{id}/revoke": {id: "revokeAgent", out: obj{"revoked": ""}},
	"PUT /api/v1/agents/evidence":     {id: "uploadEvidence", status: http.StatusCreated, out: fleet.Evidence{}},
	"GET /api/v1/evidence":            {id: "listEvidence", out: obj{"evidence": []fleet.Evidence{}}},
	"GET /api/v1/evidence/{id}":       {id: "getEvidence", contentType: "application/octet-stream", out: schema{"type": "string"}},
	// OpenC2 answers every command with an OpenC2 response, wrapped in
	// the transfer envelope when the request was.
	"POST /openc2": {id: "openc2", in: map[string]any{}, out: anyOf{openc2.Response{}, openc2Envelope},
		also: map[int]any{0: anyOf{openc2.Response{}, openc2Envelope, httpjson.ErrorBody{}}}},
	// Slack's interactivity request URL answers with what became of the
	// click (Slack ignores it; logs and tests read it).
	"POST /api/v1/hooks/slack/interactions": {id: "slackInteraction", out: obj{"outcome": "", "reason": "", "user": ""}},
}

var openc2Envelope = obj{"headers": map[string]any{}, "body": obj{"openc2": obj{"response": openc2.Response{}}}}
