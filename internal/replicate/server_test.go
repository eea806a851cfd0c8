package replicate_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/location"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/replicate"
	"github.com/lumbung-id/lumbung/internal/reposerver"
	"github.com/lumbung-id/lumbung/internal/testutil"
)

// startServer runs a real repository server (lumbung serve) on loopback
// TLS and returns its base location for rest: and the server.
func startServer(t *testing.T) (string, *reposerver.Server) {
	t.Helper()
	srv, err := reposerver.New(reposerver.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.RunJobs(ctx); close(done) }()
	t.Cleanup(func() {
		ts.Close()
		cancel()
		<-done
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return "rest:" + ts.URL + "/kab-siak?fingerprint=" + reposerver.Fingerprint(ts.Certificate().Raw), srv
}

func token(t *testing.T, srv *reposerver.Server, name string, scope reposerver.Scope) location.Credentials {
	t.Helper()
	secret, _, err := srv.Tokens().Create(reposerver.TokenSpec{Name: name, Scope: scope, Repo: "kab-siak"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return location.Credentials{Token: secret}
}

// TestPushAndPullThroughServer: the protected host pushes to a kabupaten
// repository server with an append token; the province pulls from it with
// a read token and no repository key at all; the pulled copy checks and
// restores. A read token cannot push.
func TestPushAndPullThroughServer(t *testing.T) {
	ctx := context.Background()
	loc, srv := startServer(t)
	s := newSource(t, mem.New())
	twoSnapshots(t, s)

	kab, err := location.CreateWith(ctx, loc, token(t, srv, "agent-siak", reposerver.ScopeAppend))
	if err != nil {
		t.Fatal(err)
	}
	defer kab.Close()
	res, err := replicate.Copy(ctx, s.be, kab, replicate.Options{})
	if err != nil || !res.OK() || res.Counts()[replicate.Copied] != 2 {
		t.Fatalf("push: %v %+v", err, res)
	}
	res, err = replicate.Copy(ctx, s.be, kab, replicate.Options{})
	if err != nil || res.Objects != 0 || res.Counts()[replicate.Skipped] != 2 {
		t.Fatalf("second push stored %d objects: %v %+v", res.Objects, err, res.Snapshots)
	}

	reader, err := location.OpenWith(ctx, loc, token(t, srv, "provinsi-pull", reposerver.ScopeRead))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	province := mem.New()
	res, err = replicate.Copy(ctx, reader, province, replicate.Options{})
	if err != nil || !res.OK() || res.Counts()[replicate.Copied] != 2 {
		t.Fatalf("pull: %v %+v", err, res)
	}
	checkRepo(t, province, pwA)
	repo := openRepo(t, province, pwA)
	for _, id := range s.snaps {
		s.restoresAs(t, repo, id, id)
	}

	// A read token may not add anything.
	s.backup(t, map[string][]byte{"new.txt": testutil.RandBytes(8, 10<<10)})
	_, err = replicate.Copy(ctx, s.be, reader, replicate.Options{})
	if !errors.Is(err, backend.ErrPermission) {
		t.Errorf("push with a read token: %v, want a permission error", err)
	}
}
