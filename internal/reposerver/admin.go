package reposerver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// TokenView is a token as the API and `lumbung token list` show it: no
// hash, no secret.
type TokenView struct {
	Name    string    `json:"name"`
	Scope   Scope     `json:"scope"`
	Repo    string    `json:"repo"`
	Quota   int64     `json:"quota"`
	Used    int64     `json:"used"`
	Created time.Time `json:"created"`
}

func tokenView(t Token, used int64) TokenView {
	return TokenView{Name: t.Name, Scope: t.Scope, Repo: t.Repo, Quota: t.Quota, Used: used, Created: t.Created}
}

// Usage returns the bytes token t has added.
func (s *Server) Usage(t Token) int64 { return s.state.usage(t.ID) }

// CreatedToken is the answer to a token creation: the secret, shown once.
type CreatedToken struct {
	Token string    `json:"token"`
	Info  TokenView `json:"info"`
}

// adminTokens serves /v1/admin/tokens[/<name>]. Token management needs an
// admin token bound to every repository ("*"): a token bound to one
// repository must not mint tokens for others.
func (s *Server) adminTokens(w http.ResponseWriter, r *http.Request, tok Token, segs []string) {
	q := &request{w: w, r: r, tok: tok, repo: AllRepos}
	if !s.allow(q, ScopeAdmin, "token management") {
		return
	}
	switch {
	case len(segs) == 0 && r.Method == http.MethodGet:
		list, err := s.tokens.List()
		if err != nil {
			s.internal(q, "list tokens", err)
			return
		}
		out := make([]TokenView, 0, len(list))
		for _, t := range list {
			out = append(out, tokenView(t, s.state.usage(t.ID)))
		}
		writeJSON(w, http.StatusOK, out)
	case len(segs) == 0 && r.Method == http.MethodPost:
		var spec TokenSpec
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("token request: %v; send JSON {\"name\",\"scope\",\"repo\",\"quota\"}", err))
			return
		}
		secret, t, err := s.tokens.Create(spec, s.opts.Now())
		switch {
		case errors.Is(err, ErrTokenExists):
			writeError(w, http.StatusConflict, err.Error())
		case err != nil && spec.Validate() != nil:
			writeError(w, http.StatusBadRequest, err.Error())
		case err != nil:
			s.internal(q, "create token", err)
		default:
			writeJSON(w, http.StatusCreated, CreatedToken{Token: secret, Info: tokenView(t, 0)})
		}
	case len(segs) == 1 && segs[0] != "" && r.Method == http.MethodDelete:
		t, err := s.tokens.Revoke(segs[0])
		switch {
		case errors.Is(err, ErrNoToken):
			writeError(w, http.StatusNotFound, err.Error())
		case err != nil:
			s.internal(q, "revoke token", err)
		default:
			writeJSON(w, http.StatusOK, tokenView(t, s.state.usage(t.ID)))
		}
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s %s: use GET or POST /v1/admin/tokens, DELETE /v1/admin/tokens/<name>", r.Method, r.URL.Path))
	}
}
