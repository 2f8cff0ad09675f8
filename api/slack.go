package api

import "net/http"

// slackRoutes serves the interactivity request URL of a Slack app
// (package slackapprove). The route is public: Slack cannot send a token,
// and the handler checks Slack's signature instead.
func (s *Server) slackRoutes() []Route {
	if s.d.Slack == nil {
		return nil
	}
	return []Route{
		{Method: "POST", Path: "/api/v1/hooks/slack/interactions", Role: Public,
			Summary: "Slack interactivity: Approve and Deny buttons answer approvals as the Riposte user linked to the Slack user. Signed with the app's signing secret (X-Slack-Signature, X-Slack-Request-Timestamp); replays refused.",
			Body:    "application/x-www-form-urlencoded: payload=<Slack block_actions JSON>",
			handler: func(w http.ResponseWriter, r *http.Request, _ *Caller) { s.d.Slack.ServeHTTP(w, r) }},
	}
}
