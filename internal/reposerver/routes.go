package reposerver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// typeByDir maps the URL element of a file type (its backend.FileType.Dir)
// to the type. The config has its own route.
var typeByDir = func() map[string]backend.FileType {
	m := map[string]backend.FileType{}
	for _, t := range backend.AllTypes {
		if t.Dir() != "" {
			m[t.Dir()] = t
		}
	}
	return m
}()

// request is one authenticated API request.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	tok  Token
	repo string
}

// Handler returns the HTTP API (docs/server.md).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	path := r.URL.Path
	if path == "/healthz" {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s: the API lives under /v1/ (see docs/server.md)", path))
		return
	}
	tok, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	segs := strings.Split(rest, "/")
	switch {
	case segs[0] == "whoami" && len(segs) == 1:
		s.whoami(w, r, tok)
	case segs[0] == "admin" && len(segs) >= 2 && segs[1] == "tokens":
		s.adminTokens(w, r, tok, segs[2:])
	case segs[0] == "admin" && len(segs) >= 2 && segs[1] == "pull":
		s.adminPull(w, r, tok, segs[2:])
	case segs[0] == "repos" && len(segs) >= 2:
		if err := ValidRepoName(segs[1]); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.repoRoute(&request{w: w, r: r, tok: tok, repo: segs[1]}, segs[2:])
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s (see docs/server.md)", path))
	}
}

// authenticate checks the bearer token.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (Token, bool) {
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || secret == "" {
		s.audit.refused(r, "", http.StatusUnauthorized, "no token")
		writeError(w, http.StatusUnauthorized, "no token: send \"Authorization: Bearer <token>\" (the client reads LUMBUNG_TOKEN or LUMBUNG_TOKEN_FILE)")
		return Token{}, false
	}
	tok, ok, err := s.tokens.Authenticate(secret)
	if err != nil {
		s.opts.Log.Error("authenticate", "err", err)
		writeError(w, http.StatusInternalServerError, "the server cannot read its token store; its admin should check the server log")
		return Token{}, false
	}
	if !ok {
		s.audit.refused(r, "(unknown)", http.StatusUnauthorized, "unknown or revoked token")
		writeError(w, http.StatusUnauthorized, "the server does not know this token (mistyped or revoked); ask the server's admin for a token (`lumbung token create`)")
		return Token{}, false
	}
	return tok, true
}

// allow checks that q's token may do what needs scope need in q's
// repository; otherwise it answers 403 and writes the audit line.
func (s *Server) allow(q *request, need Scope, what string) bool {
	if q.tok.Repo != AllRepos && q.tok.Repo != q.repo {
		s.refuse(q, fmt.Sprintf("token %q is bound to repository %q, not %q", q.tok.Name, q.tok.Repo, q.repo))
		return false
	}
	if !q.tok.Scope.Includes(need) {
		s.refuse(q, fmt.Sprintf("token %q has scope %s; %s needs scope %s", q.tok.Name, q.tok.Scope, what, need))
		return false
	}
	return true
}

func (s *Server) refuse(q *request, reason string) {
	s.audit.refused(q.r, q.tok.Name, http.StatusForbidden, reason)
	writeError(q.w, http.StatusForbidden, "refused: "+reason)
}

// repoRoute dispatches /v1/repos/<repo>/...; segs follow the repository.
func (s *Server) repoRoute(q *request, segs []string) {
	m := q.r.Method
	switch {
	case len(segs) == 0:
		if m != http.MethodPost {
			s.methodNotAllowed(q, "POST")
			return
		}
		s.createRepository(q)
	case segs[0] == "config" && len(segs) == 1:
		s.object(q, backend.Handle{Type: backend.ConfigFile})
	case segs[0] == "uploads":
		s.uploadRoute(q, segs[1:])
	default:
		t, ok := typeByDir[segs[0]]
		if !ok || len(segs) != 2 {
			writeError(q.w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s: file types are keys, data, index, snapshots, locks", q.r.URL.Path))
			return
		}
		if segs[1] == "" {
			if m != http.MethodGet {
				s.methodNotAllowed(q, "GET")
				return
			}
			s.list(q, t)
			return
		}
		s.object(q, backend.Handle{Type: t, Name: segs[1]})
	}
}

func (s *Server) methodNotAllowed(q *request, allowed string) {
	q.w.Header().Set("Allow", allowed)
	writeError(q.w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", q.r.Method, q.r.URL.Path, allowed))
}

func (s *Server) object(q *request, h backend.Handle) {
	if err := h.Valid(); err != nil {
		writeError(q.w, http.StatusBadRequest, err.Error())
		return
	}
	switch q.r.Method {
	case http.MethodGet, http.MethodHead:
		if s.allow(q, ScopeRead, "reading") {
			s.get(q, h)
		}
	case http.MethodPut:
		if s.allow(q, ScopeAppend, "writing") {
			s.put(q, h)
		}
	case http.MethodDelete:
		s.remove(q, h)
	default:
		s.methodNotAllowed(q, "GET, HEAD, PUT, DELETE")
	}
}

// openRepo returns q's repository or answers 404.
func (s *Server) openRepo(q *request) (backend.Backend, bool) {
	be, err := s.repo(q.r.Context(), q.repo)
	if errors.Is(err, backend.ErrNotExist) {
		writeError(q.w, http.StatusNotFound, fmt.Sprintf("no repository %q on this server; create it with `lumbung init --repo rest:.../%s`", q.repo, q.repo))
		return nil, false
	}
	if err != nil {
		s.internal(q, "open repository", err)
		return nil, false
	}
	return be, true
}

func (s *Server) internal(q *request, what string, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	s.opts.Log.Error(what, "repo", q.repo, "path", q.r.URL.Path, "err", err)
	status := storageStatus(err)
	if status == http.StatusInsufficientStorage {
		writeError(q.w, status, "the server's storage is full; its admin must free or add space")
		return
	}
	writeError(q.w, http.StatusInternalServerError, fmt.Sprintf("%s failed on the server; retry later, or ask its admin to check the server log", what))
}

func (s *Server) createRepository(q *request) {
	if !s.allow(q, ScopeAppend, "creating a repository") {
		return
	}
	created, err := s.createRepo(q.r.Context(), q.repo)
	switch {
	case errors.Is(err, backend.ErrExists):
		writeError(q.w, http.StatusConflict, fmt.Sprintf("repository %q already exists on this server", q.repo))
	case err != nil:
		s.internal(q, "create repository", err)
	case created:
		writeJSON(q.w, http.StatusCreated, map[string]string{"repo": q.repo})
	default:
		writeJSON(q.w, http.StatusOK, map[string]string{"repo": q.repo})
	}
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, tok Token) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	writeJSON(w, http.StatusOK, tokenView(tok, s.state.usage(tok.ID)))
}
