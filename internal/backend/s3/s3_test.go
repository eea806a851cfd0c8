package s3_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/backendtest"
	"github.com/lumbung-id/lumbung/internal/backend/s3"
	"github.com/lumbung-id/lumbung/internal/testservers"
)

// config returns the Config of prefix in bucket on srv with keys k.
func config(srv *testservers.S3Server, bucket, prefix string, k testservers.Keys) s3.Config {
	return s3.Config{
		Endpoint:     srv.Endpoint,
		Bucket:       bucket,
		Prefix:       prefix,
		AccessKey:    k.AccessKey,
		SecretKey:    k.SecretKey,
		SessionToken: k.SessionToken,
	}
}

func create(t *testing.T, cfg s3.Config) *s3.Backend {
	t.Helper()
	b, err := s3.Create(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Create(%s): %v", cfg, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestConformance runs the backend suite against the real server: in a
// bucket with Object Lock (versioned; no retention, or Remove could not
// work), in a plain unversioned bucket, and with the agent's keys for
// everything but removal.
func TestConformance(t *testing.T) {
	srv := testservers.S3(t)
	for _, tc := range []struct {
		name       string
		objectLock bool
	}{
		{"ObjectLockBucket", true},
		{"PlainBucket", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bucket := srv.Bucket(t, tc.objectLock)
			var n atomic.Int64
			backendtest.RunTests(t, func(t *testing.T) backend.Backend {
				b, err := s3.Create(t.Context(), config(srv, bucket, fmt.Sprintf("repo-%d/x", n.Add(1)), srv.Root()))
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				return b
			})
		})
	}
}

// TestOpenErrors checks that each set-up mistake gives one clear line that
// says what to do.
func TestOpenErrors(t *testing.T) {
	srv := testservers.S3(t)
	locked := srv.Bucket(t, true)
	plain := srv.Bucket(t, false)
	root := srv.Root()
	closed := closedPort(t)
	tests := []struct {
		name   string
		cfg    s3.Config
		create bool
		want   []string // substrings of the message
		is     error    // class, or nil
	}{
		{name: "NoBucket", cfg: config(srv, "tidak-ada", "", root), want: []string{`bucket "tidak-ada" does not exist`, "docs/s3.md"}},
		{name: "WrongAccessKey", cfg: config(srv, locked, "", testservers.Keys{AccessKey: "salah", SecretKey: root.SecretKey}), want: []string{"AWS_ACCESS_KEY_ID"}, is: backend.ErrPermission},
		{name: "WrongSecret", cfg: config(srv, locked, "", testservers.Keys{AccessKey: root.AccessKey, SecretKey: "salah-salah-salah"}), want: []string{"AWS_SECRET_ACCESS_KEY"}, is: backend.ErrPermission},
		{name: "NoKeys", cfg: config(srv, locked, "", testservers.Keys{}), want: []string{"no S3 credentials", "AWS_ACCESS_KEY_ID"}},
		{name: "RetentionWithoutObjectLock", cfg: withRetention(config(srv, plain, "", root), 24*time.Hour), create: true, want: []string{"has no Object Lock", "docs/s3.md"}},
		{name: "Unreachable", cfg: s3.Config{Endpoint: closed, Bucket: locked, AccessKey: "a", SecretKey: "b", MaxRetries: 1}, want: []string{"cannot reach the S3 server", closed}},
		{name: "NoRepository", cfg: config(srv, locked, "kosong", root), want: []string{"no repository there", "lumbung init"}, is: backend.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			open := s3.Open
			if tt.create {
				open = s3.Create
			}
			b, err := open(ctx, tt.cfg)
			if err == nil {
				b.Close()
				t.Fatalf("open succeeded")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q is more than one line", msg)
			}
			if strings.Contains(msg, root.SecretKey) {
				t.Errorf("error %q shows the secret key", msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not match %v", msg, tt.is)
			}
		})
	}
}

func withRetention(cfg s3.Config, d time.Duration) s3.Config {
	cfg.Retention = d
	return cfg
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestCreateRefusesUsedPrefix: a new repository never mixes with objects
// already under its prefix.
func TestCreateRefusesUsedPrefix(t *testing.T) {
	srv := testservers.S3(t)
	bucket := srv.Bucket(t, true)
	b := create(t, config(srv, bucket, "dipakai", srv.Root()))
	if err := b.Save(t.Context(), backend.Handle{Type: backend.KeyFile, Name: "ab"}, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Create(t.Context(), config(srv, bucket, "dipakai", srv.Root())); !errors.Is(err, backend.ErrExists) {
		t.Errorf("Create on a used prefix: %v, want ErrExists", err)
	}
	// The config is what Open looks for.
	if _, err := s3.Open(t.Context(), config(srv, bucket, "dipakai", srv.Root())); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Open without a config: %v, want ErrNotExist", err)
	}
	if err := b.Save(t.Context(), backend.Handle{Type: backend.ConfigFile}, []byte("c")); err != nil {
		t.Fatal(err)
	}
	o, err := s3.Open(t.Context(), config(srv, bucket, "dipakai", srv.Root()))
	if err != nil {
		t.Fatalf("Open with a config: %v", err)
	}
	o.Close()
}
