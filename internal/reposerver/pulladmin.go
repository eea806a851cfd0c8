package reposerver

import (
	"fmt"
	"net/http"
)

// adminPull serves /v1/admin/pull[/<name>]: the status of the pull jobs,
// and "run now". It needs an admin token bound to every repository ("*"),
// like token management: the jobs span repositories.
func (s *Server) adminPull(w http.ResponseWriter, r *http.Request, tok Token, segs []string) {
	q := &request{w: w, r: r, tok: tok, repo: AllRepos}
	if !s.allow(q, ScopeAdmin, "pull job status") {
		return
	}
	switch {
	case len(segs) == 0 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.pulls.list())
	case len(segs) == 1 && segs[0] != "" && r.Method == http.MethodGet:
		st, ok := s.pulls.get(segs[0])
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no pull job %q on this server (GET /v1/admin/pull lists them)", segs[0]))
			return
		}
		writeJSON(w, http.StatusOK, st)
	case len(segs) == 1 && segs[0] != "" && r.Method == http.MethodPost:
		p := s.puller(segs[0])
		if p == nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no pull job %q configured on this server (see --pull of lumbung serve)", segs[0]))
			return
		}
		// The job's own loop runs it, so it never overlaps a scheduled run;
		// a second request while one is queued changes nothing.
		select {
		case p.kick <- struct{}{}:
		default:
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"job": segs[0], "status": "queued"})
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s %s: use GET /v1/admin/pull, GET or POST /v1/admin/pull/<name>", r.Method, r.URL.Path))
	}
}
