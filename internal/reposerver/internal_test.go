package reposerver

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestUploadExpiry: idle sessions go, with their temporary data; busy ones
// stay.
func TestUploadExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := New(Options{DataDir: t.TempDir(), Now: clock, UploadTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	secret, tok, err := s.tokens.Create(TokenSpec{Name: "a", Scope: ScopeAppend, Repo: "r"}, now)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(s.Handler())
	defer ts.Close()
	do := func(method, path string) int {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("POST", "/v1/repos/r"); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	old, err := s.uploads.create(tok, "r")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(50 * time.Minute)
	mu.Unlock()
	fresh, err := s.uploads.create(tok, "r")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(20 * time.Minute)
	mu.Unlock()
	s.uploads.expire()
	if code := do("HEAD", "/v1/repos/r/uploads/"+old.id); code != http.StatusNotFound {
		t.Errorf("expired session: %d, want 404", code)
	}
	if _, err := os.Stat(old.path); !os.IsNotExist(err) {
		t.Errorf("expired session's file: %v", err)
	}
	if code := do("HEAD", "/v1/repos/r/uploads/"+fresh.id); code != http.StatusOK {
		t.Errorf("live session: %d, want 200", code)
	}
	// Sessions are per token: another token does not see it.
	other, _, _ := s.tokens.Create(TokenSpec{Name: "b", Scope: ScopeAppend, Repo: "r"}, now)
	req, _ := http.NewRequest("HEAD", ts.URL+"/v1/repos/r/uploads/"+fresh.id, nil)
	req.Header.Set("Authorization", "Bearer "+other)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("another token's session: %d, want 404", resp.StatusCode)
	}
	// The per-token limit.
	for range s.opts.MaxSessions - 1 {
		if _, err := s.uploads.create(tok, "r"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.uploads.create(tok, "r"); err == nil {
		t.Error("more sessions than the limit were opened")
	}
}

func TestCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	cert, created, err := LoadOrCreateCertificate(dir, []string{"prov.example.go.id", "10.1.2.3"}, now)
	if err != nil || !created {
		t.Fatalf("first call: created %v, %v", created, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"prov.example.go.id", "localhost", "10.1.2.3", "127.0.0.1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("certificate not valid for %s: %v", h, err)
		}
	}
	if !slices.Contains(leaf.DNSNames, "localhost") || leaf.NotAfter.Before(now.AddDate(9, 0, 0)) {
		t.Errorf("certificate: names %v, valid until %v", leaf.DNSNames, leaf.NotAfter)
	}
	again, created, err := LoadOrCreateCertificate(dir, nil, now)
	if err != nil || created || Fingerprint(again.Certificate[0]) != Fingerprint(cert.Certificate[0]) {
		t.Errorf("second call: created %v, %v; the fingerprint must stay the same", created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "server", "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 && os.PathSeparator == '/' {
		t.Errorf("tls.key mode %v, want 0600", fi.Mode().Perm())
	}
}
