package reposerver_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/zeebo/blake3"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/backendtest"
	"github.com/lumbung-id/lumbung/internal/backend/rest"
	"github.com/lumbung-id/lumbung/internal/reposerver"
	"github.com/lumbung-id/lumbung/internal/testservers"
)

func s3Store(t *testing.T, s3 *testservers.S3Server, bucket, query string) reposerver.S3Store {
	t.Helper()
	loc := strings.TrimPrefix(s3.Location(bucket, "lumbung", query), "s3:")
	st, err := reposerver.NewS3Store(loc, s3.Root().AccessKey, s3.Root().SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func restOpts(s *testServer, repo, token string) rest.Options {
	return rest.Options{URL: s.ts.URL, Repo: repo, Token: token, Fingerprint: s.fp, RetryBase: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond}
}

// TestS3StoreConformance runs the backend suite through the server with
// its repositories in an S3 bucket (a real MinIO).
func TestS3StoreConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the S3 test server")
	}
	s3 := testservers.S3(t)
	s := newTestServer(t, reposerver.Options{SkipNameCheck: true, Store: s3Store(t, s3, s3.Bucket(t, false), "")})
	admin := s.token("admin", reposerver.ScopeAdmin, "*", 0)
	var n atomic.Int64
	backendtest.RunTests(t, func(t *testing.T) backend.Backend {
		b, err := rest.Create(t.Context(), restOpts(s, fmt.Sprintf("conf%d", n.Add(1)), admin))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// TestS3StoreObjectLock: objects an agent appends through the server land
// under COMPLIANCE retention in the bucket, and a repository whose init was
// cut off after its key slot can be initialised again in the same place
// (nothing under Object Lock can be moved aside).
func TestS3StoreObjectLock(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the S3 test server")
	}
	ctx := context.Background()
	s3 := testservers.S3(t)
	bucket := s3.Bucket(t, true)
	s := newTestServer(t, reposerver.Options{Store: s3Store(t, s3, bucket, "retention=1d")})
	agent := s.token("agent", reposerver.ScopeAppend, "siak", 0)

	b, err := rest.Create(ctx, restOpts(s, "siak", agent))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	key := []byte("key slot of an init that was cut off")
	sum := blake3.Sum256(key)
	keyH := backend.Handle{Type: backend.KeyFile, Name: fmt.Sprintf("%x", sum[:])}
	if err := b.Save(ctx, keyH, key); err != nil {
		t.Fatal(err)
	}

	// A new server process (nothing cached) sees the prefix with a key
	// but no config: the init is taken up again there.
	s2 := newTestServer(t, reposerver.Options{Store: s3Store(t, s3, bucket, "retention=1d")})
	agent2 := s2.token("agent", reposerver.ScopeAppend, "siak", 0)
	b2, err := rest.Create(ctx, restOpts(s2, "siak", agent2))
	if err != nil {
		t.Fatalf("an interrupted init blocks the repository for good: %v", err)
	}
	defer b2.Close()
	pack := bytes.Repeat([]byte("ciphertext "), 1000)
	psum := blake3.Sum256(pack)
	packH := backend.Handle{Type: backend.PackFile, Name: fmt.Sprintf("%x", psum[:])}
	if err := b2.Save(ctx, packH, pack); err != nil {
		t.Fatal(err)
	}
	if err := b2.Save(ctx, backend.Handle{Type: backend.ConfigFile}, []byte("config")); err != nil {
		t.Fatal(err)
	}
	if _, err := rest.Create(ctx, restOpts(s2, "siak", agent2)); err == nil {
		t.Error("a repository with a config was created again")
	}

	root := s3.Client(t, s3.Root())
	found := 0
	for obj := range root.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "lumbung/siak/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		found++
		if strings.HasPrefix(obj.Key, "lumbung/siak/locks/") {
			continue
		}
		mode, until, err := root.GetObjectRetention(ctx, bucket, obj.Key, "")
		switch {
		case err != nil || mode == nil || until == nil:
			t.Errorf("%s: no retention (%v), want COMPLIANCE for a day", obj.Key, err)
		case *mode != minio.Compliance:
			t.Errorf("%s: retention mode %s, want COMPLIANCE", obj.Key, *mode)
		case until.Before(time.Now().Add(23 * time.Hour)):
			t.Errorf("%s: retained until %v, want a day from now", obj.Key, until)
		}
	}
	if found < 3 {
		t.Errorf("%d objects in the bucket, want the key, the pack and the config", found)
	}
	// The agent cannot remove what it wrote; the server refuses before S3 would.
	if err := b2.Remove(ctx, packH); err == nil {
		t.Error("an append token removed a pack")
	}
}

// TestS3StoreRestartDuringCreate: with repositories in S3, too, a server
// restarted between a create and the config goes on serving the writer.
func TestS3StoreRestartDuringCreate(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the S3 test server")
	}
	ctx := context.Background()
	s3 := testservers.S3(t)
	bucket := s3.Bucket(t, true)
	data := t.TempDir()
	s := newTestServer(t, reposerver.Options{DataDir: data, Store: s3Store(t, s3, bucket, "retention=1d")})
	agent := s.token("agent", reposerver.ScopeAppend, "siak", 0)
	b, err := rest.Create(ctx, restOpts(s, "siak", agent))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	key := []byte("key slot written before the restart")
	sum := blake3.Sum256(key)
	if err := b.Save(ctx, backend.Handle{Type: backend.KeyFile, Name: fmt.Sprintf("%x", sum[:])}, key); err != nil {
		t.Fatal(err)
	}

	s2 := newTestServer(t, reposerver.Options{DataDir: data, Store: s3Store(t, s3, bucket, "retention=1d")})
	b2, err := rest.Open(ctx, restOpts(s2, "siak", agent))
	if err == nil {
		b2.Close()
		t.Fatal("a repository without a config opened as complete")
	}
	// The writer does not open again: it goes on with what it was doing.
	b2, err = rest.New(restOpts(s2, "siak", agent))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	n := 0
	if err := b2.List(ctx, backend.KeyFile, func(backend.FileInfo) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("keys after the restart: %d, %v", n, err)
	}
	if err := b2.Save(ctx, backend.Handle{Type: backend.ConfigFile}, []byte("config")); err != nil {
		t.Fatalf("config after the restart: %v", err)
	}
	if b3, err := rest.Open(ctx, restOpts(s2, "siak", agent)); err != nil {
		t.Errorf("the completed repository does not open: %v", err)
	} else {
		b3.Close()
	}
}
