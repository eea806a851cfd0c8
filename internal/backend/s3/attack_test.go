package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/backendtest"
	"github.com/lumbung-id/lumbung/internal/testservers"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

// expireEverything is a lifecycle rule that would expire every object
// after a day, an attacker's slow delete.
func expireEverything() *lifecycle.Configuration {
	cfg := lifecycle.NewConfiguration()
	cfg.Rules = []lifecycle.Rule{{
		ID:                          "hapus-semua",
		Status:                      "Enabled",
		Expiration:                  lifecycle.Expiration{Days: 1},
		NoncurrentVersionExpiration: lifecycle.NoncurrentVersionExpiration{NoncurrentDays: 1},
	}}
	return cfg
}

func testConfig(srv *testservers.S3Server, bucket, prefix string, k testservers.Keys, retention time.Duration) Config {
	return Config{Endpoint: srv.Endpoint, Bucket: bucket, Prefix: prefix, Retention: retention,
		AccessKey: k.AccessKey, SecretKey: k.SecretKey, SessionToken: k.SessionToken}
}

// stored is what a test saved, to check after the attacks.
type stored map[backend.Handle][]byte

func saveAll(t *testing.T, b *Backend) stored {
	t.Helper()
	files := stored{{Type: backend.ConfigFile}: backendtest.Data(1, 300)}
	for i, ft := range []backend.FileType{backend.KeyFile, backend.PackFile, backend.IndexFile, backend.SnapshotFile} {
		files[backend.Handle{Type: ft, Name: backendtest.Name(ft.String())}] = backendtest.Data(uint64(10+i), 1000+i)
	}
	for h, data := range files {
		if err := b.Save(t.Context(), h, data); err != nil {
			t.Fatalf("Save(%v): %v", h, err)
		}
	}
	return files
}

// checkIntact opens the repository afresh (no cached versions) and checks
// that every file loads byte-identical and List shows exactly the files.
func checkIntact(t *testing.T, cfg Config, files stored) {
	t.Helper()
	b, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open after the attacks: %v", err)
	}
	defer b.Close()
	for h, want := range files {
		got, err := b.Load(t.Context(), h, 0, 0)
		if err != nil {
			t.Errorf("Load(%v) after the attacks: %v", h, err)
		} else if !bytes.Equal(got, want) {
			t.Errorf("Load(%v) after the attacks: %d bytes, not the %d saved", h, len(got), len(want))
		}
		fi, err := b.Stat(t.Context(), h)
		if err != nil || fi.Size != int64(len(want)) {
			t.Errorf("Stat(%v) after the attacks = %+v, %v; want size %d", h, fi, err, len(want))
		}
	}
	for _, ft := range backend.AllTypes {
		want := map[string]int64{}
		for h, data := range files {
			if h.Type == ft {
				want[infoName(h)] = int64(len(data))
			}
		}
		got := map[string]int64{}
		if err := b.List(t.Context(), ft, func(fi backend.FileInfo) error { got[fi.Name] = fi.Size; return nil }); err != nil {
			t.Fatalf("List(%v): %v", ft, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("List(%v) after the attacks = %v, want %v", ft, got, want)
		}
	}
}

// TestAgentCannotDestroy is the offsite half of the attacker test: holding
// only the agent's S3 keys (what a compromised host gives away), every way
// to destroy or replace the stored repository fails, and afterwards every
// file still loads byte-identical.
func TestAgentCannotDestroy(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	bucket := srv.Bucket(t, true)
	agentKeys := srv.AgentKeys(t, bucket)
	cfg := testConfig(srv, bucket, "kab/siak", agentKeys, 24*time.Hour)
	agent, err := Create(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Create with the agent's keys: %v", err)
	}
	defer agent.Close()
	files := saveAll(t, agent)
	lock := backend.Handle{Type: backend.LockFile, Name: backendtest.Name("lock")}
	if err := agent.Save(t.Context(), lock, []byte("lock")); err != nil {
		t.Fatal(err)
	}
	files[lock] = []byte("lock")

	raw := srv.Client(t, agentKeys) // the attacker speaks S3 directly
	ctx := t.Context()
	versionsOf := func(key string) []minio.ObjectInfo {
		t.Helper()
		vs, err := agent.keyVersions(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	for h := range files {
		key, err := agent.key(h)
		if err != nil {
			t.Fatal(err)
		}
		vs := versionsOf(key)
		if len(vs) != 1 {
			t.Fatalf("%v has %d versions before the attacks", h, len(vs))
		}
		orig := vs[0].VersionID
		attacks := []struct {
			name string
			do   func() error
			// succeeds marks attacks S3 lets through but that must not
			// change what the repository reads.
			succeeds bool
			// retention marks attacks on an object's retention.
			retention bool
		}{
			{name: "DeleteObject", do: func() error {
				return raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{})
			}},
			{name: "DeleteVersion", do: func() error {
				return raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: orig})
			}},
			{name: "DeleteVersionBypassGovernance", do: func() error {
				return raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: orig, GovernanceBypass: true})
			}},
			{name: "ShortenRetention", retention: true, do: func() error {
				mode, until := minio.Compliance, time.Now().Add(time.Minute)
				return raw.PutObjectRetention(ctx, bucket, key, minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &until, VersionID: orig})
			}},
			{name: "ToGovernance", retention: true, do: func() error {
				mode, until := minio.Governance, time.Now().Add(48*time.Hour)
				return raw.PutObjectRetention(ctx, bucket, key, minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &until, VersionID: orig, GovernanceBypass: true})
			}},
			{name: "BackendRemove", do: func() error {
				err := agent.Remove(ctx, h)
				if err != nil && !errors.Is(err, backend.ErrPermission) {
					t.Errorf("Remove(%v) with the agent's keys: %v, want ErrPermission", h, err)
				}
				return err
			}},
			{name: "OverwriteWithPut", succeeds: true, do: func() error {
				evil := []byte("data kalian sudah kami enkripsi")
				_, err := raw.PutObject(ctx, bucket, key, bytes.NewReader(evil), int64(len(evil)), minio.PutObjectOptions{})
				return err
			}},
			{name: "BackendSaveOver", do: func() error {
				err := agent.Save(ctx, h, []byte("evil"))
				if err != nil && !errors.Is(err, backend.ErrExists) {
					t.Errorf("Save over %v: %v, want ErrExists", h, err)
				}
				return err
			}},
		}
		for _, a := range attacks {
			if h.Type == backend.LockFile && a.retention {
				// A lock has no retention to shorten; setting one only
				// keeps maintenance from removing it for a while.
				continue
			}
			err := a.do()
			switch {
			case a.succeeds && err != nil:
				t.Logf("%s on %v was refused: %v", a.name, h, err)
			case !a.succeeds && err == nil:
				t.Errorf("%s on %v with the agent's keys succeeded", a.name, h)
			}
		}
		if vs := versionsOf(key); vs[len(vs)-1].VersionID != orig || vs[len(vs)-1].IsDeleteMarker {
			t.Errorf("%v: the original version %s is no longer the oldest: %+v", h, orig, vs)
		}
	}
	for _, a := range []struct {
		name string
		do   func() error
	}{
		{"DeleteBucket", func() error { return raw.RemoveBucket(ctx, bucket) }},
		{"SuspendVersioning", func() error { return raw.SuspendVersioning(ctx, bucket) }},
		{"SetBucketPolicy", func() error { return raw.SetBucketPolicy(ctx, bucket, testservers.AgentPolicy(bucket)) }},
		{"SetObjectLockConfig", func() error {
			mode, days, unit := minio.Governance, uint(1), minio.Days
			return raw.SetObjectLockConfig(ctx, bucket, &mode, &days, &unit)
		}},
		{"SetLifecycleExpiry", func() error {
			return raw.SetBucketLifecycle(ctx, bucket, expireEverything())
		}},
	} {
		if err := a.do(); err == nil {
			t.Errorf("%s with the agent's keys succeeded", a.name)
		}
	}
	checkIntact(t, cfg, files)
	// Not even the owner can remove what is still under retention.
	rootCfg := cfg
	rootCfg.AccessKey, rootCfg.SecretKey, rootCfg.SessionToken = srv.RootAccessKey, srv.RootSecretKey, ""
	owner, err := Open(ctx, rootCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	for h := range files {
		if h.Type == backend.LockFile {
			continue
		}
		if err := owner.Remove(ctx, h); !errors.Is(err, backend.ErrPermission) {
			t.Errorf("Remove(%v) by the owner under retention: %v, want ErrPermission", h, err)
		}
	}
	checkIntact(t, cfg, files)
	// A lock has no retention: the owner (maintenance) can remove it.
	if err := owner.Remove(ctx, lock); err != nil {
		t.Errorf("Remove(lock) by the owner: %v", err)
	}
}

// TestOldestVersionWins: whatever is PUT over a key later (and delete
// markers) never changes what Load, Stat and List return.
func TestOldestVersionWins(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	bucket := srv.Bucket(t, true)
	cfg := testConfig(srv, bucket, "", srv.Root(), 0)
	b, err := Create(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	files := saveAll(t, b)
	raw := srv.Client(t, srv.Root())
	for h := range files {
		key, _ := b.key(h)
		for i := range 3 {
			evil := bytes.Repeat([]byte{byte(i)}, 10+i)
			if _, err := raw.PutObject(t.Context(), bucket, key, bytes.NewReader(evil), int64(len(evil)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// A delete marker on top (what DeleteObject without a version does).
		if err := raw.RemoveObject(t.Context(), bucket, key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	checkIntact(t, cfg, files)
	// The same backend, with its cache, agrees.
	for h, want := range files {
		if got, err := b.Load(t.Context(), h, 0, 0); err != nil || !bytes.Equal(got, want) {
			t.Errorf("cached Load(%v): %d bytes, %v", h, len(got), err)
		}
	}
	// Remove takes every version, so the name is free again.
	for h := range files {
		if err := b.Remove(t.Context(), h); err != nil {
			t.Fatalf("Remove(%v): %v", h, err)
		}
		key, _ := b.key(h)
		if vs, err := b.keyVersions(t.Context(), key); err != nil || len(vs) != 0 {
			t.Errorf("%v after Remove: %d versions left, %v", h, len(vs), err)
		}
	}
}

// TestRetention checks the Object Lock retention written with each object
// and that ExtendRetention only ever extends.
func TestRetention(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	bucket := srv.Bucket(t, true)
	now := time.Now().UTC().Truncate(time.Second)
	cfg := testConfig(srv, bucket, "r", srv.Root(), 48*time.Hour)
	cfg.Now = func() time.Time { return now }
	b, err := Create(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	files := saveAll(t, b)
	lock := backend.Handle{Type: backend.LockFile, Name: backendtest.Name("lock")}
	if err := b.Save(t.Context(), lock, []byte("l")); err != nil {
		t.Fatal(err)
	}
	raw := srv.Client(t, srv.Root())
	var hs []backend.Handle
	for h := range files {
		hs = append(hs, h)
		r, err := b.ObjectRetention(t.Context(), h)
		if err != nil {
			t.Fatal(err)
		}
		if r.Mode != "COMPLIANCE" || !r.Until.Equal(now.Add(48*time.Hour)) {
			t.Errorf("%v: retention %+v, want COMPLIANCE until %v", h, r, now.Add(48*time.Hour))
		}
		// And as the server reports it directly.
		key, _ := b.key(h)
		mode, until, err := raw.GetObjectRetention(t.Context(), bucket, key, "")
		if err != nil || mode == nil || *mode != minio.Compliance || until == nil || !until.Equal(now.Add(48*time.Hour)) {
			t.Errorf("%v: GetObjectRetention = %v, %v, %v", h, mode, until, err)
		}
	}
	if r, err := b.ObjectRetention(t.Context(), lock); err != nil || r.Mode != "" {
		t.Errorf("lock retention = %+v, %v; want none", r, err)
	}
	later := now.Add(72 * time.Hour)
	if err := b.ExtendRetention(t.Context(), hs, later); err != nil {
		t.Fatalf("ExtendRetention: %v", err)
	}
	// Asking for less than is set changes nothing.
	if err := b.ExtendRetention(t.Context(), hs, now.Add(time.Hour)); err != nil {
		t.Fatalf("ExtendRetention to an earlier date: %v", err)
	}
	for _, h := range hs {
		r, err := b.ObjectRetention(t.Context(), h)
		if err != nil {
			t.Fatal(err)
		}
		if r.Mode != "COMPLIANCE" || r.Until.Before(later) || r.Until.After(later.Add(2*time.Second)) {
			t.Errorf("%v after extending to %v: %+v", h, later, r)
		}
	}
	// Extending the lock puts it under retention too (maintenance's call).
	if err := b.ExtendRetention(t.Context(), []backend.Handle{lock}, later); err != nil {
		t.Fatal(err)
	}
	if r, err := b.ObjectRetention(t.Context(), lock); err != nil || r.Mode != "COMPLIANCE" {
		t.Errorf("lock after ExtendRetention: %+v, %v", r, err)
	}
	missing := backend.Handle{Type: backend.PackFile, Name: backendtest.Name("missing")}
	if err := b.ExtendRetention(t.Context(), []backend.Handle{missing}, later); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("ExtendRetention of a missing file: %v, want ErrNotExist", err)
	}
}

// TestLoadHonoursContext: an expired context stops Load and Save.
func TestLoadHonoursContext(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	bucket := srv.Bucket(t, false)
	b, err := Create(t.Context(), testConfig(srv, bucket, "", srv.Root(), 0))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := backend.Handle{Type: backend.PackFile, Name: backendtest.Name("ctx")}
	if err := b.Save(t.Context(), h, backendtest.Data(3, 1<<20)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := b.Load(ctx, h, 0, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load with an expired context: %v", err)
	}
	if err := b.Save(ctx, backend.Handle{Type: backend.PackFile, Name: backendtest.Name("ctx2")}, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Save with an expired context: %v", err)
	}
	if !strings.Contains(b.Location(), bucket) {
		t.Errorf("Location() = %q", b.Location())
	}
}
