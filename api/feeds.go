package api

import (
	"net/http"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/internal/httpjson"
)

// FeedAuth marks a block-list feed route: the handler checks the feed's
// token (basic-auth password, bearer or ?token=), and user tokens do not
// apply.
const FeedAuth auth.Role = "feed"

// feedRoutes serve Riposte's deny list to firewalls that poll one, and
// show people who polled when.
func (s *Server) feedRoutes() []Route {
	if s.d.Feeds == nil {
		return nil
	}
	return []Route{
		{Method: "GET", Path: "/feeds/{format}", Role: FeedAuth, handler: s.serveFeed,
			Summary: "Block list for firewalls: every address and network denied on every host, in format panos (Palo Alto External Dynamic List), fortigate (external threat feed), checkpoint (custom intelligence feed CSV) or json. The feed token goes in basic auth (as the password), a bearer header or ?token=. ETag, Last-Modified and X-Riposte-Serial (the change counter) make an unchanged poll a 304.",
			Query: []Param{{"token", "the feed token, for firewalls that only take a URL", false},
				{"comments", "panos: true adds ' #<decision> <reason>' to each line", false}}},
		{Method: "GET", Path: "/api/v1/feeds", Role: auth.Viewer, handler: s.listFeeds,
			Summary: "Feed consumers: when each last polled, from where, with which software and format, and whether it has the latest change (never a token)."},
	}
}

func (s *Server) serveFeed(w http.ResponseWriter, r *http.Request, _ *Caller) { s.d.Feeds.Serve(w, r) }

func (s *Server) listFeeds(w http.ResponseWriter, r *http.Request, _ *Caller) {
	cs, err := s.d.Feeds.Store.List(r.Context())
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	serial, err := s.d.Feeds.Store.Current(r.Context())
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"serial": serial, "feeds": cs})
}
