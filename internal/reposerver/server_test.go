package reposerver_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/reposerver"
)

// TestScopeMatrix checks, for every scope and every file type, which
// operations the server allows, and that each refusal is audit-logged with
// the token's name.
func TestScopeMatrix(t *testing.T) {
	s := newTestServer(t, reposerver.Options{})
	admin := s.token("root", reposerver.ScopeAdmin, "r", 0)
	tokens := map[reposerver.Scope]string{
		reposerver.ScopeRead:   s.token("reader", reposerver.ScopeRead, "r", 0),
		reposerver.ScopeAppend: s.token("writer", reposerver.ScopeAppend, "r", 0),
		reposerver.ScopeAdmin:  s.token("maint", reposerver.ScopeAdmin, "r", 0),
	}
	names := map[reposerver.Scope]string{reposerver.ScopeRead: "reader", reposerver.ScopeAppend: "writer", reposerver.ScopeAdmin: "maint"}
	s.must(s.do("POST", "/v1/repos/r", admin, nil), http.StatusCreated, "create")
	s.must(s.do("PUT", "/v1/repos/r/config", admin, []byte("config")), http.StatusCreated, "config")

	type op struct {
		name    string
		allowed map[reposerver.Scope]int // status when allowed; 0 = refused (403)
	}
	ok := func(r, a, m int) map[reposerver.Scope]int {
		return map[reposerver.Scope]int{reposerver.ScopeRead: r, reposerver.ScopeAppend: a, reposerver.ScopeAdmin: m}
	}
	ops := []op{
		{"GET", ok(200, 200, 200)},
		{"HEAD", ok(200, 200, 200)},
		{"LIST", ok(200, 200, 200)},
		{"PUT", ok(0, 201, 201)},
		{"DELETE", ok(0, 0, 204)},
	}
	types := append([]string{"config"}, "keys", "data", "index", "snapshots", "locks")
	i := 0
	for _, typ := range types {
		for _, o := range ops {
			for _, scope := range []reposerver.Scope{reposerver.ScopeRead, reposerver.ScopeAppend, reposerver.ScopeAdmin} {
				t.Run(fmt.Sprintf("%s/%s/%s", typ, o.name, scope), func(t *testing.T) {
					i++
					// A fresh object, stored by the admin, to act on; and
					// a new one to PUT.
					path := "/v1/repos/r/config"
					newPath, newData := path, []byte("another config")
					if typ != "config" {
						name, data := object(fmt.Sprint("existing", i))
						path = "/v1/repos/r/" + typ + "/" + name
						s.must(s.do("PUT", path, admin, data), http.StatusCreated, "setup")
						name, newData = object(fmt.Sprint("new", i))
						newPath = "/v1/repos/r/" + typ + "/" + name
					}
					want := o.allowed[scope]
					var r response
					switch o.name {
					case "LIST":
						if typ == "config" {
							t.Skip("the config is not listed; clients Stat it")
						}
						r = s.do("GET", "/v1/repos/r/"+typ+"/", tokens[scope], nil)
					case "PUT":
						if typ == "config" && want != 0 {
							want = http.StatusConflict // a config exists and is never replaced
						}
						r = s.do("PUT", newPath, tokens[scope], newData)
					case "DELETE":
						r = s.do("DELETE", path, tokens[scope], nil)
					default:
						r = s.do(o.name, path, tokens[scope], nil)
					}
					if want == 0 {
						if r.status != http.StatusForbidden {
							t.Fatalf("%s %s by %s: status %d, want 403: %s", o.name, typ, scope, r.status, r.body)
						}
						if !s.auditHas(names[scope], `"method":"`+r2m(o.name)+`"`, "/v1/repos/r/") {
							t.Errorf("refusal of %s %s by %s is not in the audit log:\n%s", o.name, typ, scope, s.audit.String())
						}
						// Nothing changed.
						if o.name == "DELETE" {
							s.must(s.do("HEAD", path, admin, nil), http.StatusOK, "still there")
						}
						return
					}
					if r.status != want {
						t.Fatalf("%s %s by %s: status %d, want %d: %s", o.name, typ, scope, r.status, want, r.body)
					}
				})
			}
		}
	}
	// The audit file on disk has the lines too, and never a token.
	data, err := os.ReadFile(filepath.Join(s.data, "server", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"token":"reader"`) {
		t.Errorf("audit.log lacks the refusals:\n%s", data)
	}
	for _, secret := range tokens {
		if strings.Contains(string(data), secret) {
			t.Fatal("audit.log contains a token secret")
		}
	}
}

func r2m(op string) string {
	if op == "LIST" {
		return "GET"
	}
	return op
}

// TestRepoBinding: a token bound to one repository cannot touch another.
func TestRepoBinding(t *testing.T) {
	s := newTestServer(t, reposerver.Options{})
	admin := s.token("root", reposerver.ScopeAdmin, "*", 0)
	other := s.token("other", reposerver.ScopeAdmin, "x", 0)
	s.must(s.do("POST", "/v1/repos/r", admin, nil), http.StatusCreated, "create")
	name, data := object("a")
	s.must(s.do("PUT", "/v1/repos/r/data/"+name, admin, data), http.StatusCreated, "put")
	for _, m := range []string{"GET", "DELETE"} {
		s.must(s.do(m, "/v1/repos/r/data/"+name, other, nil), http.StatusForbidden, m+" by a token of another repository")
	}
	s.must(s.do("PUT", "/v1/repos/r/data/"+name, other, data), http.StatusForbidden, "PUT by a token of another repository")
	s.must(s.do("GET", "/v1/admin/tokens", other, nil), http.StatusForbidden, "token management by a repository-bound admin")
	if !s.auditHas("other", "bound to repository") {
		t.Errorf("no audit line for the binding refusals:\n%s", s.audit.String())
	}
}

// TestAppendCannotDestroy is the attacker holding an append token.
func TestAppendCannotDestroy(t *testing.T) {
	s := newTestServer(t, reposerver.Options{})
	admin := s.token("root", reposerver.ScopeAdmin, "*", 0)
	agent := s.token("opd", reposerver.ScopeAppend, "r", 0)
	other := s.token("opd2", reposerver.ScopeAppend, "r", 0)
	s.must(s.do("POST", "/v1/repos/r", agent, nil), http.StatusCreated, "create by append")
	s.must(s.do("PUT", "/v1/repos/r/config", agent, []byte("config v1")), http.StatusCreated, "config")

	stored := map[string][]byte{}
	for _, typ := range []string{"keys", "data", "index", "snapshots"} {
		name, data := object("victim " + typ)
		path := "/v1/repos/r/" + typ + "/" + name
		s.must(s.do("PUT", path, agent, data), http.StatusCreated, "store "+typ)
		stored[path] = data
	}
	stored["/v1/repos/r/config"] = []byte("config v1")

	for path, data := range stored {
		// DELETE: refused.
		s.must(s.do("DELETE", path, agent, nil), http.StatusForbidden, "DELETE "+path)
		// Overwrite with other bytes: refused (wrong hash, or config exists).
		want := http.StatusUnprocessableEntity
		if strings.HasSuffix(path, "/config") {
			want = http.StatusConflict
		}
		s.must(s.do("PUT", path, agent, []byte("ransom")), want, "overwrite "+path)
		// The same bytes again: success, nothing changes (retries).
		s.must(s.do("PUT", path, agent, data), http.StatusOK, "repeat "+path)
		// Upload session finishing under an existing name with other bytes.
		r := s.must(s.do("POST", "/v1/repos/r/uploads", agent, nil), http.StatusCreated, "session")
		id := between(r.body, `"id":"`, `"`)
		s.must(s.do("PATCH", "/v1/repos/r/uploads/"+id, agent, []byte("ransom"), "Upload-Offset", "0"), http.StatusOK, "chunk")
		typ, name := "config", ""
		if !strings.HasSuffix(path, "/config") {
			parts := strings.Split(path, "/")
			typ, name = parts[4], parts[5]
		}
		r = s.do("POST", "/v1/repos/r/uploads/"+id+"/finish", agent, []byte(fmt.Sprintf(`{"type":%q,"name":%q}`, typ, name)))
		if r.status != want {
			t.Errorf("finish over %s: status %d, want %d: %s", path, r.status, want, r.body)
		}
		// Bytes unchanged.
		if got := s.must(s.do("GET", path, admin, nil), http.StatusOK, "get").body; got != string(data) {
			t.Errorf("%s changed: %q", path, got)
		}
	}
	// Wrong hash for a new name.
	name, _ := object("honest")
	s.must(s.do("PUT", "/v1/repos/r/snapshots/"+name, agent, []byte("bogus snapshot")), http.StatusUnprocessableEntity, "wrong hash")
	s.must(s.do("HEAD", "/v1/repos/r/snapshots/"+name, agent, nil), http.StatusNotFound, "not stored")
	if !s.auditHas("opd", "BLAKE3") || !s.auditHas("opd", "never deletes") {
		t.Errorf("audit log lacks the refusals:\n%s", s.audit.String())
	}

	// Locks: only the writer removes its own.
	lock, data := object("lock of opd")
	lockPath := "/v1/repos/r/locks/" + lock
	s.must(s.do("PUT", lockPath, agent, data), http.StatusCreated, "lock")
	s.must(s.do("DELETE", lockPath, other, nil), http.StatusForbidden, "another token's lock")
	if !s.auditHas("opd2", "not written by token") {
		t.Errorf("no audit line for removing another's lock:\n%s", s.audit.String())
	}
	s.must(s.do("DELETE", lockPath, agent, nil), http.StatusNoContent, "own lock")
	s.must(s.do("HEAD", lockPath, agent, nil), http.StatusNotFound, "lock gone")

	// The admin can delete (maintenance).
	for path := range stored {
		s.must(s.do("DELETE", path, admin, nil), http.StatusNoContent, "admin DELETE "+path)
	}
}

func between(s, a, b string) string {
	_, rest, _ := strings.Cut(s, a)
	v, _, _ := strings.Cut(rest, b)
	return v
}

// TestAuthErrors: missing and unknown tokens are refused with a clear
// message and logged.
func TestAuthErrors(t *testing.T) {
	s := newTestServer(t, reposerver.Options{})
	r := s.must(s.do("GET", "/v1/repos/r/config", "", nil), http.StatusUnauthorized, "no token")
	if !strings.Contains(r.body, "LUMBUNG_TOKEN") {
		t.Errorf("no-token message does not say how to give one: %s", r.body)
	}
	r = s.must(s.do("GET", "/v1/repos/r/config", "lbg_wrong", nil), http.StatusUnauthorized, "wrong token")
	if !strings.Contains(r.body, "does not know this token") {
		t.Errorf("wrong-token message: %s", r.body)
	}
	if !strings.Contains(s.audit.String(), "unknown or revoked token") {
		t.Errorf("wrong token not audit-logged:\n%s", s.audit.String())
	}
	if strings.Contains(s.audit.String(), "lbg_wrong") {
		t.Error("the audit log contains the presented token")
	}
	// A revoked token stops working at once.
	tok := s.token("gone", reposerver.ScopeRead, "r", 0)
	if _, err := s.srv.Tokens().Revoke("gone"); err != nil {
		t.Fatal(err)
	}
	s.must(s.do("GET", "/v1/repos/r/config", tok, nil), http.StatusUnauthorized, "revoked token")
	s.must(s.do("GET", "/healthz", "", nil), http.StatusOK, "healthz")
}

// TestTokensStoredHashed: tokens.json holds no secret and is private.
func TestTokensStoredHashed(t *testing.T) {
	s := newTestServer(t, reposerver.Options{})
	secret := s.token("opd", reposerver.ScopeAppend, "r", 5<<30)
	if !strings.HasPrefix(secret, reposerver.TokenPrefix) || len(secret) < 40 {
		t.Errorf("token %q: want %s and 32 random bytes", secret, reposerver.TokenPrefix)
	}
	path := filepath.Join(s.data, "server", "tokens.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), secret) || strings.Contains(string(data), secret[len(reposerver.TokenPrefix):]) {
		t.Fatal("tokens.json contains the secret")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 && os.PathSeparator == '/' {
		t.Errorf("tokens.json mode %v, want 0600", fi.Mode().Perm())
	}
	// A second store on the same directory (lumbung token create --data
	// while the server runs) is seen by the server.
	st, err := reposerver.OpenTokenStore(s.data)
	if err != nil {
		t.Fatal(err)
	}
	late, _, err := st.Create(reposerver.TokenSpec{Name: "late", Scope: reposerver.ScopeRead, Repo: "*"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.must(s.do("GET", "/v1/whoami", late, nil), http.StatusOK, "token created by another process")
	if _, _, err := st.Create(reposerver.TokenSpec{Name: "late", Scope: reposerver.ScopeRead, Repo: "*"}, time.Now()); err == nil {
		t.Error("a second token with the same name was created")
	}
}

// TestRangeAndList covers the read API's edges.
func TestRangeAndList(t *testing.T) {
	s := newTestServer(t, reposerver.Options{})
	tok := s.token("a", reposerver.ScopeAppend, "r", 0)
	s.must(s.do("POST", "/v1/repos/r", tok, nil), http.StatusCreated, "create")
	s.must(s.do("POST", "/v1/repos/r", tok, nil), http.StatusOK, "create again before the config")
	s.must(s.do("PUT", "/v1/repos/r/config", tok, []byte("c")), http.StatusCreated, "config")
	s.must(s.do("POST", "/v1/repos/r", tok, nil), http.StatusConflict, "create over a complete repository")
	name, data := object("ranged")
	path := "/v1/repos/r/data/" + name
	s.must(s.do("PUT", path, tok, data), http.StatusCreated, "put")
	r := s.must(s.do("GET", path, tok, nil, "Range", "bytes=2-5"), http.StatusPartialContent, "range")
	if r.body != string(data[2:6]) {
		t.Errorf("range body %q", r.body)
	}
	s.must(s.do("GET", path, tok, nil, "Range", fmt.Sprintf("bytes=0-%d", len(data))), http.StatusRequestedRangeNotSatisfiable, "past the end")
	r = s.must(s.do("GET", path, tok, nil, "Range", fmt.Sprintf("bytes=%d-", len(data))), http.StatusRequestedRangeNotSatisfiable, "at the end")
	if r.header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(data)) {
		t.Errorf("416 Content-Range %q", r.header.Get("Content-Range"))
	}
	r = s.must(s.do("GET", "/v1/repos/r/data/", tok, nil), http.StatusOK, "list")
	if !strings.Contains(r.body, name) || !strings.Contains(r.body, `"end":true,"count":1`) {
		t.Errorf("listing: %s", r.body)
	}
	s.must(s.do("GET", "/v1/repos/r/data/../../x", tok, nil), http.StatusNotFound, "escaping path")
	s.must(s.do("GET", "/v1/repos/R/config", tok, nil), http.StatusBadRequest, "invalid repository name")
	s.must(s.do("GET", "/v1/repos/r/data/ABC", tok, nil), http.StatusBadRequest, "invalid object name")
	s.must(s.do("GET", "/v1/repos/nope/config", s.token("all", reposerver.ScopeRead, "*", 0), nil), http.StatusNotFound, "missing repository")
}

// A server restarted while a writer creates a repository (after the
// create, before the config) goes on serving that repository to it: the
// writer's next list and PUTs succeed and the repository completes. Storage
// without a config that no create of this server began stays unknown.
func TestRestartDuringCreate(t *testing.T) {
	data := t.TempDir()
	s := newTestServer(t, reposerver.Options{DataDir: data})
	tok := s.token("agent", reposerver.ScopeAppend, "*", 0)
	s.must(s.do("POST", "/v1/repos/r", tok, nil), http.StatusCreated, "create")
	key, keyData := object("key slot")
	s.must(s.do("PUT", "/v1/repos/r/keys/"+key, tok, keyData), http.StatusCreated, "key")

	// Restarted: a new server on the same data directory.
	s = newTestServer(t, reposerver.Options{DataDir: data})
	r := s.must(s.do("GET", "/v1/repos/r/keys/", tok, nil), http.StatusOK, "list keys after the restart")
	if !strings.Contains(r.body, key) {
		t.Errorf("the key stored before the restart is not listed: %s", r.body)
	}
	name, pack := object("pack")
	s.must(s.do("PUT", "/v1/repos/r/data/"+name, tok, pack), http.StatusCreated, "pack after the restart")
	s.must(s.do("PUT", "/v1/repos/r/config", tok, []byte("c")), http.StatusCreated, "config after the restart")
	s.must(s.do("POST", "/v1/repos/r", tok, nil), http.StatusConflict, "create over the completed repository")

	// Once complete, it opens as any repository, and the record is gone.
	s = newTestServer(t, reposerver.Options{DataDir: data})
	s.must(s.do("GET", "/v1/repos/r/data/"+name, tok, nil), http.StatusOK, "pack from a completed repository")
	if _, err := os.Stat(filepath.Join(data, "server", "creating", "r")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the record of the finished creation is still there: %v", err)
	}

	// A directory without a config that this server did not begin to
	// create is not a repository.
	if err := os.MkdirAll(filepath.Join(data, "repos", "liar", "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	s.must(s.do("GET", "/v1/repos/liar/keys/", tok, nil), http.StatusNotFound, "storage nobody began to create")
}
