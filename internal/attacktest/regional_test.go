package attacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/location"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/reposerver"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// objects is every file of a layer with its stored bytes, read with a
// credential the attacker does not hold.
type objects map[backend.Handle][]byte

// inventory reads every file of be.
func inventory(t *testing.T, be backend.Backend) objects {
	t.Helper()
	ctx := t.Context()
	out := objects{}
	for _, ft := range backend.AllTypes {
		var hs []backend.Handle
		err := be.List(ctx, ft, func(fi backend.FileInfo) error {
			h := backend.Handle{Type: ft, Name: fi.Name}
			if ft == backend.ConfigFile {
				h.Name = ""
			}
			hs = append(hs, h)
			return nil
		})
		if err != nil {
			t.Fatalf("list %v of %s: %v", ft, be.Location(), err)
		}
		for _, h := range hs {
			data, err := be.Load(ctx, h, 0, 0)
			if err != nil {
				t.Fatalf("load %v of %s: %v", h, be.Location(), err)
			}
			out[h] = data
		}
	}
	return out
}

// oneOfEach picks one stored file of each type (the first by name), the
// targets of the per-kind attacks.
func (o objects) oneOfEach() []backend.Handle {
	var out []backend.Handle
	for _, ft := range backend.AllTypes {
		var names []string
		for h := range o {
			if h.Type == ft {
				names = append(names, h.Name)
			}
		}
		if len(names) > 0 {
			slices.Sort(names)
			out = append(out, backend.Handle{Type: ft, Name: names[0]})
		}
	}
	return out
}

// stillThere fails for every file of before that after lacks or holds
// other bytes: the attacker destroyed or changed it.
func stillThere(t *testing.T, layer string, before, after objects) {
	t.Helper()
	for h, want := range before {
		got, ok := after[h]
		switch {
		case !ok:
			t.Errorf("layer %s: %v is gone after the attacks: the copy is destroyable", layer, h)
		case !bytes.Equal(got, want):
			t.Errorf("layer %s: %v holds other bytes after the attacks (%d, was %d): the copy is changeable", layer, h, len(got), len(want))
		}
	}
}

// objectPath is the API path of h in repository repo.
func objectPath(repo string, h backend.Handle) string {
	if h.Type == backend.ConfigFile {
		return "/v1/repos/" + repo + "/config"
	}
	return "/v1/repos/" + repo + "/" + h.Type.Dir() + "/" + h.Name
}

// call sends one raw request to the repository server with token (none
// when empty) and returns the status and the error message of the answer.
func (r *regional) call(t *testing.T, token, method, path string, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), requestWait)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.baseURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, strings.TrimSpace(string(msg))
}

// rawAttack is one request the attacker sends with the stolen token.
type rawAttack struct {
	name   string
	method string
	path   string
	body   []byte
	// want lists the acceptable refusals; a 2xx answer always fails.
	want []int
	// token overrides the stolen append token ("-" for none).
	token string
}

// attackRegionalRaw speaks the server's API directly with the append
// token from the host's token file.
func attackRegionalRaw(t *testing.T, reg *regional, h *host, before objects, f *forged) {
	stolen := readSecret(t, filepath.Join(h.etc, "prov.token"))
	var attacks []rawAttack
	for _, target := range before.oneOfEach() {
		kind := target.Type.String()
		p := objectPath(repoName, target)
		garbage := []byte("data kalian sudah kami enkripsi: " + kind)
		attacks = append(attacks,
			rawAttack{name: "DELETE " + kind, method: http.MethodDelete, path: p, want: []int{http.StatusForbidden}},
			rawAttack{name: "PUT garbage over " + kind, method: http.MethodPut, path: p, body: garbage,
				want: []int{http.StatusConflict, http.StatusUnprocessableEntity}},
		)
		if data, ok := f.forgedOf(target.Type); ok {
			attacks = append(attacks, rawAttack{name: "PUT a forged " + kind + " over a real one", method: http.MethodPut, path: p, body: data,
				want: []int{http.StatusConflict, http.StatusUnprocessableEntity}})
		}
	}
	other := backend.Handle{Type: backend.PackFile, Name: crypto.Hash([]byte("x")).String()}
	attacks = append(attacks,
		rawAttack{name: "PUT garbage as a new snapshot", method: http.MethodPut, path: objectPath(repoName, backend.Handle{Type: backend.SnapshotFile, Name: crypto.Hash([]byte("planted")).String()}),
			body: []byte("data kalian sudah kami enkripsi"), want: []int{http.StatusUnprocessableEntity}},
		rawAttack{name: "DELETE the repository", method: http.MethodDelete, path: "/v1/repos/" + repoName,
			want: []int{http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed}},
		rawAttack{name: "re-create the repository", method: http.MethodPost, path: "/v1/repos/" + repoName,
			want: []int{http.StatusConflict}},
		rawAttack{name: "write a second config", method: http.MethodPut, path: "/v1/repos/" + repoName + "/config",
			body: []byte("another config"), want: []int{http.StatusConflict}},
		rawAttack{name: "path traversal to the config", method: http.MethodDelete, path: "/v1/repos/" + repoName + "/data/..%2f..%2fconfig",
			want: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound}},
		rawAttack{name: "read another repository", method: http.MethodGet, path: "/v1/repos/" + otherRepo + "/config",
			want: []int{http.StatusForbidden}},
		rawAttack{name: "DELETE in another repository", method: http.MethodDelete, path: objectPath(otherRepo, before.oneOfEach()[0]),
			want: []int{http.StatusForbidden}},
		rawAttack{name: "PUT into another repository", method: http.MethodPut, path: objectPath(otherRepo, other), body: []byte("x"),
			want: []int{http.StatusForbidden}},
		rawAttack{name: "create another repository", method: http.MethodPost, path: "/v1/repos/" + otherRepo + "-baru",
			want: []int{http.StatusForbidden}},
		rawAttack{name: "create an admin token", method: http.MethodPost, path: "/v1/admin/tokens",
			body: []byte(`{"name":"peretas","scope":"admin","repo":"*"}`), want: []int{http.StatusForbidden}},
		rawAttack{name: "list tokens", method: http.MethodGet, path: "/v1/admin/tokens", want: []int{http.StatusForbidden}},
		rawAttack{name: "revoke the admin token", method: http.MethodDelete, path: "/v1/admin/tokens/" + adminToken,
			want: []int{http.StatusForbidden}},
		rawAttack{name: "DELETE without a token", token: "-", method: http.MethodDelete, path: objectPath(repoName, before.oneOfEach()[1]),
			want: []int{http.StatusUnauthorized}},
		rawAttack{name: "DELETE with a guessed token", token: "lbg_" + strings.Repeat("A", 43), method: http.MethodDelete,
			path: objectPath(repoName, before.oneOfEach()[1]), want: []int{http.StatusUnauthorized}},
	)
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			token := stolen
			switch a.token {
			case "-":
				token = ""
			case "":
			default:
				token = a.token
			}
			code, msg := reg.call(t, token, a.method, a.path, a.body, nil)
			if code < 300 {
				t.Fatalf("the append token could %s %s (%d %s): the copy is destroyable", a.method, a.path, code, msg)
			}
			t.Logf("%s %s: %d %s", a.method, a.path, code, msg)
			if !slices.Contains(a.want, code) {
				t.Errorf("%s %s: refused with %d %s, want one of %v", a.method, a.path, code, msg, a.want)
			}
		})
	}
	for _, target := range before.oneOfEach() {
		if target.Type == backend.ConfigFile {
			continue
		}
		t.Run("upload session over "+target.Type.String(), func(t *testing.T) {
			overwriteBySession(t, reg, stolen, target)
		})
	}
}

// overwriteBySession tries the resumable-upload path to store other bytes
// under an existing name.
func overwriteBySession(t *testing.T, reg *regional, token string, target backend.Handle) {
	code, msg := reg.call(t, token, http.MethodPost, "/v1/repos/"+repoName+"/uploads", nil, nil)
	if code != http.StatusCreated {
		t.Fatalf("open an upload session: %d %s", code, msg)
	}
	var s struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(msg), &s); err != nil || s.ID == "" {
		t.Fatalf("upload session answer %q: %v", msg, err)
	}
	base := "/v1/repos/" + repoName + "/uploads/" + s.ID
	if code, msg := reg.call(t, token, http.MethodPatch, base, []byte("data kalian sudah kami enkripsi"), map[string]string{"Upload-Offset": "0"}); code != http.StatusOK {
		t.Fatalf("append to the upload session: %d %s", code, msg)
	}
	finish := fmt.Appendf(nil, `{"type":%q,"name":%q}`, target.Type.Dir(), target.Name)
	code, msg = reg.call(t, token, http.MethodPost, base+"/finish", finish, nil)
	if code < 300 {
		t.Fatalf("the append token could replace %v through an upload session (%d %s): the copy is changeable", target, code, msg)
	}
	if code != http.StatusConflict && code != http.StatusUnprocessableEntity {
		t.Errorf("finish over %v: refused with %d %s, want 409 or 422", target, code, msg)
	}
}

// attackRegionalBackend uses the agent's own client, the rest: backend
// opened from the agent's config, on every stored file.
func attackRegionalBackend(t *testing.T, l *layers.Layer, before objects) {
	ctx := t.Context()
	be, err := l.Open(ctx)
	if err != nil {
		t.Fatalf("the attacker opens layer %s: %v", l.Name, err)
	}
	defer be.Close()
	for h := range before {
		if err := be.Remove(ctx, h); err == nil {
			t.Errorf("the append token could Remove %v through the rest backend: the copy is destroyable", h)
		} else if !errors.Is(err, backend.ErrPermission) {
			t.Errorf("Remove(%v) with the append token: %v, want a permission error", h, err)
		}
		if err := be.Save(ctx, h, []byte("data kalian sudah kami enkripsi")); err == nil {
			t.Errorf("the append token could Save other bytes over %v: the copy is changeable", h)
		}
	}
}

// checkAudit: the refusals are in the server's audit log with the token's
// name, and the token itself is nowhere in it.
func checkAudit(t *testing.T, reg *regional, h *host) {
	data, err := os.ReadFile(filepath.Join(reg.dataDir, "server", "audit.log"))
	if err != nil {
		t.Fatalf("read the audit log: %v", err)
	}
	if n := bytes.Count(data, []byte(`"`+agentToken+`"`)); n < 10 {
		t.Errorf("the audit log names the append token %s in %d lines, want every refusal:\n%s", agentToken, n, data)
	}
	if bytes.Contains(data, []byte(readSecret(t, filepath.Join(h.etc, "prov.token")))) {
		t.Error("the audit log contains the append token's secret")
	}
}

// regionalReader opens the regional layer with the province's admin
// token, as the province reads its copy after the incident.
func regionalReader(t *testing.T, reg *regional) backend.Backend {
	t.Helper()
	be, err := location.OpenWith(t.Context(), reg.location(repoName), location.Credentials{Token: reg.adminSecret})
	if err != nil {
		t.Fatalf("the province opens its copy: %v", err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

// prepareOtherRepo makes another kabupaten's repository on the server (with
// the admin token), for the cross-repository attacks.
func prepareOtherRepo(t *testing.T, reg *regional, sample objects) {
	t.Helper()
	if code, msg := reg.call(t, reg.adminSecret, http.MethodPost, "/v1/repos/"+otherRepo, nil, nil); code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", otherRepo, code, msg)
	}
	h := sample.oneOfEach()[0]
	if code, msg := reg.call(t, reg.adminSecret, http.MethodPut, objectPath(otherRepo, h), sample[h], nil); code != http.StatusCreated {
		t.Fatalf("store %v in %s: %d %s", h, otherRepo, code, msg)
	}
}

// lockByAnotherWriter has a second host of the dataset (its own append
// token) hold a shared lock on the regional repository while the attack
// runs: the stolen token may remove only locks it wrote itself.
func lockByAnotherWriter(t *testing.T, reg *regional) {
	t.Helper()
	ctx := t.Context()
	secret := reg.createToken(t, "opd-siak-db", string(reposerver.ScopeAppend), repoName)
	be, err := location.OpenWith(ctx, reg.location(repoName), location.Credentials{Token: secret})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := repository.Open(ctx, be, []byte(password), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := repo.Lock(ctx, false)
	if err != nil {
		t.Fatalf("the other host locks the regional repository: %v", err)
	}
	t.Cleanup(func() {
		if err := lock.Unlock(context.Background()); err != nil {
			t.Errorf("the other host's unlock: %v", err)
		}
		be.Close()
	})
}

// String counts the files by type, for the test log.
func (o objects) String() string {
	n := map[backend.FileType]int{}
	for h := range o {
		n[h.Type]++
	}
	var parts []string
	for _, ft := range backend.AllTypes {
		parts = append(parts, fmt.Sprintf("%d %v", n[ft], ft))
	}
	return strings.Join(parts, ", ")
}
