package api

import (
	"net/http"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/internal/httpjson"
)

func (s *Server) clusterRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/cluster", Role: auth.Viewer,
			Summary: "The cluster as this node sees it: live nodes, who runs each once-per-cluster job, correlation partitions and their owners, consumer backlogs, NATS and database health. A single node answers mode single.",
			handler: s.getCluster},
	}
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request, _ *Caller) {
	if s.d.Cluster == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "cluster status is not available on this node")
		return
	}
	httpjson.Write(w, http.StatusOK, s.d.Cluster.Status(r.Context(), s.d.Ready))
}
