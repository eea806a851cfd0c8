package rest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/backendtest"
	"github.com/lumbung-id/lumbung/internal/backend/rest"
	"github.com/lumbung-id/lumbung/internal/reposerver"
)

// server is a real repository server on real TLS.
type server struct {
	t   testing.TB
	srv *reposerver.Server
	ts  *httptest.Server
	fp  string
}

func newServer(t testing.TB, opts reposerver.Options) *server {
	t.Helper()
	opts.DataDir = t.TempDir()
	srv, err := reposerver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("server Close: %v", err)
		}
	})
	return &server{t: t, srv: srv, ts: ts, fp: reposerver.Fingerprint(ts.Certificate().Raw)}
}

func (s *server) token(name string, scope reposerver.Scope, repo string, quota int64) string {
	s.t.Helper()
	secret, _, err := s.srv.Tokens().Create(reposerver.TokenSpec{Name: name, Scope: scope, Repo: repo, Quota: quota}, time.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	return secret
}

func (s *server) opts(repo, token string) rest.Options {
	return rest.Options{URL: s.ts.URL, Repo: repo, Token: token, Fingerprint: s.fp, RetryBase: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond}
}

func (s *server) create(repo, token string) *rest.Backend {
	s.t.Helper()
	b, err := rest.Create(s.t.Context(), s.opts(repo, token))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { b.Close() })
	return b
}

func named(data []byte) backend.Handle {
	sum := blake3.Sum256(data)
	return backend.Handle{Type: backend.PackFile, Name: fmt.Sprintf("%x", sum[:])}
}

// TestConformance runs the backend suite against the client talking to a
// real server. The suite's names are not content hashes, so this server
// skips the name check (tested on its own in reposerver).
func TestConformance(t *testing.T) {
	s := newServer(t, reposerver.Options{SkipNameCheck: true})
	admin := s.token("admin", reposerver.ScopeAdmin, "*", 0)
	var n atomic.Int64
	backendtest.RunTests(t, func(t *testing.T) backend.Backend {
		b, err := rest.Create(t.Context(), s.opts(fmt.Sprintf("conf%d", n.Add(1)), admin))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// TestConformanceSessions runs the suite with every object going through
// upload sessions in small chunks.
func TestConformanceSessions(t *testing.T) {
	s := newServer(t, reposerver.Options{SkipNameCheck: true})
	admin := s.token("admin", reposerver.ScopeAdmin, "*", 0)
	var n atomic.Int64
	backendtest.RunTests(t, func(t *testing.T) backend.Backend {
		o := s.opts(fmt.Sprintf("sess%d", n.Add(1)), admin)
		o.SessionThreshold, o.ChunkSize = 1, 7<<20
		b, err := rest.Create(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestErrors(t *testing.T) {
	s := newServer(t, reposerver.Options{})
	writer := s.token("opd", reposerver.ScopeAppend, "r", 0)
	reader := s.token("ro", reposerver.ScopeRead, "r", 0)
	b := s.create("r", writer)
	ctx := t.Context()
	data := []byte("pack bytes")
	h := named(data)
	if err := b.Save(ctx, h, data); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(ctx, h, data); err != nil {
		t.Errorf("repeated Save of the same bytes: %v, want success", err)
	}
	if err := b.Remove(ctx, h); !errors.Is(err, backend.ErrPermission) {
		t.Errorf("Remove with an append token: %v, want ErrPermission", err)
	}
	bad := backend.Handle{Type: backend.SnapshotFile, Name: h.Name}
	if err := b.Save(ctx, bad, []byte("other")); err == nil || !strings.Contains(err.Error(), "BLAKE3") {
		t.Errorf("Save under a wrong name: %v, want the hash refusal", err)
	}
	ro, err := rest.Open(ctx, s.opts("r", reader))
	if !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Open of a repository without config: %v, want ErrNotExist", err)
	}
	if err := b.Save(ctx, backend.Handle{Type: backend.ConfigFile}, []byte("cfg")); err != nil {
		t.Fatal(err)
	}
	ro, err = rest.Open(ctx, s.opts("r", reader))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	d2 := []byte("x")
	if err := ro.Save(ctx, named(d2), d2); !errors.Is(err, backend.ErrPermission) {
		t.Errorf("Save with a read token: %v, want ErrPermission", err)
	}

	// Wrong token: a clear error.
	_, err = rest.Open(ctx, s.opts("r", "lbg_nonsense"))
	if !errors.Is(err, backend.ErrPermission) || !strings.Contains(err.Error(), "does not know this token") {
		t.Errorf("Open with a wrong token: %v", err)
	}
	// No token.
	if _, err := rest.Open(ctx, s.opts("r", "")); err == nil || !strings.Contains(err.Error(), "LUMBUNG_TOKEN") {
		t.Errorf("Open without a token: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	s := newServer(t, reposerver.Options{})
	tok := s.token("opd", reposerver.ScopeAppend, "r", 0)
	ctx := t.Context()
	o := s.opts("r", tok)
	o.Fingerprint = "sha256:" + strings.Repeat("ab", 32)
	_, err := rest.Create(ctx, o)
	var fe *rest.FingerprintError
	if !errors.As(err, &fe) {
		t.Fatalf("Create with a wrong pin: %v, want a FingerprintError", err)
	}
	if !strings.Contains(err.Error(), s.fp) || !strings.Contains(err.Error(), o.Fingerprint) {
		t.Errorf("the error does not name both fingerprints: %v", err)
	}
	// Without a pin the self-signed certificate is not trusted.
	o.Fingerprint = ""
	if _, err := rest.Create(ctx, o); err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Errorf("Create without a pin to a self-signed server: %v, want a certificate error mentioning the fingerprint", err)
	}
	// With the right pin it works.
	s.create("r", tok)
}

func TestQuota(t *testing.T) {
	s := newServer(t, reposerver.Options{})
	tok := s.token("small", reposerver.ScopeAppend, "r", 1000)
	b := s.create("r", tok)
	ctx := t.Context()
	first := bytes.Repeat([]byte("a"), 600)
	if err := b.Save(ctx, named(first), first); err != nil {
		t.Fatal(err)
	}
	second := bytes.Repeat([]byte("b"), 600)
	err := b.Save(ctx, named(second), second)
	if !errors.Is(err, backend.ErrNoSpace) || !strings.Contains(err.Error(), "quota") {
		t.Fatalf("Save past the quota: %v, want ErrNoSpace naming the quota", err)
	}
	// Also through an upload session.
	o := s.opts("r", tok)
	o.SessionThreshold = 1
	b2, err := rest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if err := b2.Save(ctx, named(second), second); !errors.Is(err, backend.ErrNoSpace) {
		t.Fatalf("session Save past the quota: %v, want ErrNoSpace", err)
	}
	if _, err := b.Stat(ctx, named(second)); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("the refused object exists: %v", err)
	}
}

// cutTransport cuts the body of the first chunk it sees after cut bytes,
// like a dropped connection, and records the offsets of every chunk.
type cutTransport struct {
	rt      http.RoundTripper
	cut     int
	mu      sync.Mutex
	cutDone bool
	offsets []int64
	sent    int64
}

func (c *cutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPatch {
		return c.rt.RoundTrip(req)
	}
	off, _ := strconv.ParseInt(req.Header.Get("Upload-Offset"), 10, 64)
	c.mu.Lock()
	c.offsets = append(c.offsets, off)
	first := !c.cutDone
	if first {
		c.sent += int64(c.cut)
	} else {
		c.sent += req.ContentLength
	}
	c.cutDone = true
	c.mu.Unlock()
	if first {
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(io.MultiReader(io.LimitReader(req.Body, int64(c.cut)), failReader{}))
		req.GetBody = nil
	}
	return c.rt.RoundTrip(req)
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("connection cut by the test") }

func TestResumeUpload(t *testing.T) {
	s := newServer(t, reposerver.Options{})
	tok := s.token("opd", reposerver.ScopeAppend, "r", 0)
	s.create("r", tok)
	data := backendtest.Data(1, 12<<20+5)
	ct := &cutTransport{cut: 5 << 20}
	o := s.opts("r", tok)
	o.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { ct.rt = rt; return ct }
	b, err := rest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := named(data)
	if err := b.Save(t.Context(), h, data); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load(t.Context(), h, 0, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Load after a resumed upload: %d bytes, %v", len(got), err)
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if len(ct.offsets) < 2 || ct.offsets[0] != 0 || ct.offsets[1] == 0 {
		t.Fatalf("chunk offsets %v: want a first chunk at 0, then a resume after the bytes the server kept", ct.offsets)
	}
	if ct.offsets[1] > int64(ct.cut) {
		t.Errorf("resumed at %d, but only %d bytes were sent before the cut", ct.offsets[1], ct.cut)
	}
	// Resuming sends about the object once; restarting would send the
	// cut part twice.
	if ct.sent > int64(len(data))+int64(ct.cut)/2 {
		t.Errorf("sent %d bytes in chunks for a %d-byte object: the upload restarted instead of resuming", ct.sent, len(data))
	}
}

// flakyTransport fails the first n requests with a network error.
type flakyTransport struct {
	rt http.RoundTripper
	n  atomic.Int64
}

func (f *flakyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.n.Add(-1) >= 0 {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errors.New("network down (test)")
	}
	return f.rt.RoundTrip(req)
}

func TestRetries(t *testing.T) {
	s := newServer(t, reposerver.Options{})
	tok := s.token("opd", reposerver.ScopeAppend, "r", 0)
	s.create("r", tok)
	ft := &flakyTransport{}
	o := s.opts("r", tok)
	o.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { ft.rt = rt; return ft }
	b, err := rest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := t.Context()
	data := []byte("retried")
	ft.n.Store(3)
	if err := b.Save(ctx, named(data), data); err != nil {
		t.Fatalf("Save after 3 network errors: %v", err)
	}
	ft.n.Store(100)
	start := time.Now()
	if _, err := b.Stat(ctx, named(data)); err == nil || !strings.Contains(err.Error(), "gave up") {
		t.Errorf("Stat with the network down: %v, want it to give up", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("giving up took %v", time.Since(start))
	}
	// Cancellation stops the retries.
	ft.n.Store(1000)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	o.RetryBase, o.RetryMax = time.Second, time.Second
	slow, _ := rest.New(o)
	defer slow.Close()
	if _, err := slow.Stat(cctx, named(data)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stat with an expiring context: %v, want DeadlineExceeded", err)
	}
}

func TestParseLocation(t *testing.T) {
	fp := "sha256:" + strings.Repeat("0f", 32)
	for _, c := range []struct {
		in, url, repo, fp, err string
	}{
		{in: "https://prov.example:8443/dukcapil?fingerprint=" + fp, url: "https://prov.example:8443", repo: "dukcapil", fp: fp},
		{in: "https://prov.example/lumbung/siak", url: "https://prov.example/lumbung", repo: "siak"},
		{in: "http://127.0.0.1:8080/r", url: "http://127.0.0.1:8080", repo: "r"},
		{in: "http://prov.example/r", err: "only to localhost"},
		{in: "https://prov.example/", err: "repository name"},
		{in: "https://prov.example/Bad", err: "repository name"},
		{in: "https://u:p@prov.example/r", err: "credentials"},
		{in: "https://prov.example/r?fingerprint=sha256:12", err: "invalid fingerprint"},
		{in: "https://prov.example/r?token=x", err: "only query parameter"},
		{in: "ftp://prov.example/r", err: "unsupported scheme"},
	} {
		o, err := rest.ParseLocation(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseLocation(%q) = %v, want an error containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || o.URL != c.url || o.Repo != c.repo || o.Fingerprint != c.fp {
			t.Errorf("ParseLocation(%q) = %+v, %v", c.in, o, err)
		}
		if o.Location() != "rest:"+c.in {
			t.Errorf("Location() = %q, want %q", o.Location(), "rest:"+c.in)
		}
	}
}

func TestAdmin(t *testing.T) {
	s := newServer(t, reposerver.Options{})
	root := s.token("root", reposerver.ScopeAdmin, "*", 0)
	ctx := t.Context()
	a, err := rest.NewAdmin(s.ts.URL, s.fp, root)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	secret, info, err := a.CreateToken(ctx, rest.TokenRequest{Name: "opd", Scope: "append", Repo: "r", Quota: 1 << 30})
	if err != nil || !strings.HasPrefix(secret, "lbg_") || info.Name != "opd" || info.Quota != 1<<30 {
		t.Fatalf("CreateToken = %q, %+v, %v", secret, info, err)
	}
	if _, _, err := a.CreateToken(ctx, rest.TokenRequest{Name: "opd", Scope: "append", Repo: "r"}); !errors.Is(err, backend.ErrExists) {
		t.Errorf("duplicate name: %v, want ErrExists", err)
	}
	list, err := a.Tokens(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("Tokens = %+v, %v", list, err)
	}
	s.create("r", secret)
	if _, err := a.RevokeToken(ctx, "opd"); err != nil {
		t.Fatal(err)
	}
	if _, err := rest.Create(ctx, s.opts("r", secret)); !errors.Is(err, backend.ErrPermission) {
		t.Errorf("revoked token: %v, want ErrPermission", err)
	}
	// A non-admin token cannot manage tokens.
	ro := s.token("ro", reposerver.ScopeRead, "*", 0)
	a2, _ := rest.NewAdmin(s.ts.URL, s.fp, ro)
	defer a2.Close()
	if _, err := a2.Tokens(ctx); !errors.Is(err, backend.ErrPermission) {
		t.Errorf("Tokens with a read token: %v, want ErrPermission", err)
	}
}

// slowOnceTransport hangs the first request until its context ends.
type slowOnceTransport struct {
	rt   http.RoundTripper
	once sync.Once
}

func (s *slowOnceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	hung := false
	s.once.Do(func() { hung = true })
	if hung {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	return s.rt.RoundTrip(req)
}

// TestAttemptTimeoutRetried: an attempt that times out is retried; only the
// caller's context ends the retries.
func TestAttemptTimeoutRetried(t *testing.T) {
	s := newServer(t, reposerver.Options{})
	tok := s.token("opd", reposerver.ScopeAppend, "r", 0)
	s.create("r", tok)
	st := &slowOnceTransport{}
	o := s.opts("r", tok)
	o.AttemptTimeout = 200 * time.Millisecond
	o.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { st.rt = rt; return st }
	b, err := rest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data := []byte("after a hang")
	if err := b.Save(t.Context(), named(data), data); err != nil {
		t.Fatalf("Save after one hung attempt: %v", err)
	}
}
