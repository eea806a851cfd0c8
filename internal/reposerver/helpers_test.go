package reposerver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/lumbung-id/lumbung/internal/reposerver"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a real server behind real TLS (httptest's certificate).
type testServer struct {
	t     *testing.T
	srv   *reposerver.Server
	ts    *httptest.Server
	data  string
	audit *syncBuffer
	fp    string
}

func newTestServer(t *testing.T, opts reposerver.Options) *testServer {
	t.Helper()
	return newTestServerWith(t, opts, nil)
}

// newTestServerWith is newTestServer with a hook that runs before the
// server's jobs start (to add pull jobs, say).
func newTestServerWith(t *testing.T, opts reposerver.Options, before func(*reposerver.Server)) *testServer {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	audit := &syncBuffer{}
	opts.AuditCopy = audit
	srv, err := reposerver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv.Handler())
	if before != nil {
		before(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.RunJobs(ctx); close(done) }()
	t.Cleanup(func() {
		ts.Close()
		cancel()
		<-done
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testServer{t: t, srv: srv, ts: ts, data: opts.DataDir, audit: audit, fp: reposerver.Fingerprint(ts.Certificate().Raw)}
}

// token creates a token and returns its secret.
func (s *testServer) token(name string, scope reposerver.Scope, repo string, quota int64) string {
	s.t.Helper()
	secret, _, err := s.srv.Tokens().Create(reposerver.TokenSpec{Name: name, Scope: scope, Repo: repo, Quota: quota}, time.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	return secret
}

type response struct {
	status int
	body   string
	header http.Header
}

// do sends one request with token and body (nil: none).
func (s *testServer) do(method, path, token string, body []byte, hdr ...string) response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.ts.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// must checks the status of r.
func (s *testServer) must(r response, status int, what string) response {
	s.t.Helper()
	if r.status != status {
		s.t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	return r
}

// object returns content-named bytes for label.
func object(label string) (name string, data []byte) {
	data = []byte("ciphertext stand-in " + label)
	sum := blake3.Sum256(data)
	return fmt.Sprintf("%x", sum[:]), data
}

// auditHas reports whether an audit line names token and contains every
// part.
func (s *testServer) auditHas(token string, parts ...string) bool {
	for _, line := range strings.Split(s.audit.String(), "\n") {
		if !strings.Contains(line, `"token":"`+token+`"`) {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return true
		}
	}
	return false
}
