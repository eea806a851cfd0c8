package attacktest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/s3"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/testservers"
)

// s3Key is the object key of h in the offsite bucket (docs/format.md,
// "Layout", below the prefix; packs are fanned out by their first byte).
func s3Key(h backend.Handle) string {
	switch h.Type {
	case backend.ConfigFile:
		return s3Prefix + "/config"
	case backend.PackFile:
		return s3Prefix + "/" + h.Type.Dir() + "/" + h.Name[:2] + "/" + h.Name
	}
	return s3Prefix + "/" + h.Type.Dir() + "/" + h.Name
}

// version is the true (oldest) version of a key and its retention.
type version struct {
	id    string
	until time.Time // zero without retention
}

// trueVersions returns the one version each real key has before the
// attacks, read with the owner's keys; each must be under COMPLIANCE
// retention (locks excepted).
func trueVersions(t *testing.T, owner *minio.Client, bucket string, before objects) map[string]version {
	t.Helper()
	out := map[string]version{}
	for h := range before {
		key := s3Key(h)
		vs := versionsOf(t, owner, bucket, key)
		if len(vs) != 1 || vs[0].IsDeleteMarker {
			t.Fatalf("%s has %d versions before the attacks, want 1", key, len(vs))
		}
		v := version{id: vs[0].VersionID}
		if h.Type != backend.LockFile {
			mode, until, err := owner.GetObjectRetention(t.Context(), bucket, key, v.id)
			if err != nil || mode == nil || *mode != minio.Compliance || until == nil {
				t.Fatalf("%s: retention %v %v %v, want COMPLIANCE (retention=1d)", key, mode, until, err)
			}
			v.until = *until
		}
		out[key] = v
	}
	return out
}

// versionsOf lists the versions of key, newest first.
func versionsOf(t *testing.T, c *minio.Client, bucket, key string) []minio.ObjectInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), requestWait)
	defer cancel()
	var vs []minio.ObjectInfo
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: key, Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			t.Fatalf("list versions of %s: %v", key, o.Err)
		}
		if o.Key == key {
			vs = append(vs, o)
		}
	}
	return vs
}

// s3Attack is one way to destroy or replace an object with the agent's
// keys. Attacks marked newVersion are accepted by S3 in a versioned bucket
// (they add a version) and must change nothing a reader sees.
type s3Attack struct {
	name       string
	newVersion bool
	retention  bool // skipped for keys without retention (locks)
	do         func(ctx context.Context, key, versionID string) error
}

// attackOffsiteRaw speaks S3 directly with the agent's keys (taken from
// the host's environment, as the config names them) on every real key.
func attackOffsiteRaw(t *testing.T, srv *testservers.S3Server, bucket string, h *host, truth map[string]version, f *forged) {
	raw := srv.Client(t, h.s3Keys)
	forgedIndex, _ := f.forgedOf(backend.IndexFile)
	forgedKey := s3Key(backend.Handle{Type: backend.IndexFile, Name: f.wrongIndex.String()})
	put := func(data []byte) func(ctx context.Context, key, _ string) error {
		return func(ctx context.Context, key, _ string) error {
			_, err := raw.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
			return err
		}
	}
	attacks := []s3Attack{
		{name: "RemoveObject", do: func(ctx context.Context, key, _ string) error {
			return raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{})
		}},
		{name: "RemoveObject version", do: func(ctx context.Context, key, v string) error {
			return raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: v})
		}},
		{name: "RemoveObject version bypassing governance", do: func(ctx context.Context, key, v string) error {
			return raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: v, GovernanceBypass: true})
		}},
		{name: "RemoveObjects (multi-delete) version", do: func(ctx context.Context, key, v string) error {
			ch := make(chan minio.ObjectInfo, 1)
			ch <- minio.ObjectInfo{Key: key, VersionID: v}
			close(ch)
			for e := range raw.RemoveObjects(ctx, bucket, ch, minio.RemoveObjectsOptions{GovernanceBypass: true}) {
				return e.Err
			}
			return nil
		}},
		{name: "shorten retention", retention: true, do: func(ctx context.Context, key, v string) error {
			mode, until := minio.Compliance, time.Now().Add(time.Minute)
			return raw.PutObjectRetention(ctx, bucket, key, minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &until, VersionID: v})
		}},
		{name: "switch retention to GOVERNANCE", retention: true, do: func(ctx context.Context, key, v string) error {
			mode, until := minio.Governance, time.Now().Add(48*time.Hour)
			return raw.PutObjectRetention(ctx, bucket, key, minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &until, VersionID: v})
		}},
		{name: "shorten retention bypassing governance", retention: true, do: func(ctx context.Context, key, v string) error {
			mode, until := minio.Governance, time.Now().Add(time.Minute)
			return raw.PutObjectRetention(ctx, bucket, key, minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &until, VersionID: v, GovernanceBypass: true})
		}},
		{name: "PutObject garbage", newVersion: true, do: put([]byte("data kalian sudah kami enkripsi"))},
		{name: "PutObject a validly encrypted forged index", newVersion: true, do: put(forgedIndex)},
		{name: "CopyObject a forged object over it", newVersion: true, do: func(ctx context.Context, key, _ string) error {
			_, err := raw.CopyObject(ctx, minio.CopyDestOptions{Bucket: bucket, Object: key}, minio.CopySrcOptions{Bucket: bucket, Object: forgedKey})
			return err
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			for key, v := range truth {
				if a.retention && v.until.IsZero() {
					continue
				}
				ctx, cancel := context.WithTimeout(t.Context(), requestWait)
				err := a.do(ctx, key, v.id)
				cancel()
				switch {
				case err == nil && !a.newVersion:
					t.Errorf("the agent's S3 keys could %s on %s (version %s): the copy is destroyable", a.name, key, v.id)
				case err != nil && a.newVersion:
					t.Logf("%s on %s was refused: %v", a.name, key, err)
				}
			}
		})
	}
	bucketAttacks := []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"RemoveBucket", func(ctx context.Context) error { return raw.RemoveBucket(ctx, bucket) }},
		{"RemoveBucket force", func(ctx context.Context) error {
			return raw.RemoveBucketWithOptions(ctx, bucket, minio.RemoveBucketOptions{ForceDelete: true})
		}},
		{"suspend versioning", func(ctx context.Context) error { return raw.SuspendVersioning(ctx, bucket) }},
		{"default retention GOVERNANCE 1 day", func(ctx context.Context) error {
			mode, days, unit := minio.Governance, uint(1), minio.Days
			return raw.SetObjectLockConfig(ctx, bucket, &mode, &days, &unit)
		}},
		{"lifecycle rule expiring everything", func(ctx context.Context) error {
			cfg := lifecycle.NewConfiguration()
			cfg.Rules = []lifecycle.Rule{{
				ID: "hapus-semua", Status: "Enabled",
				Expiration:                  lifecycle.Expiration{Days: 1},
				NoncurrentVersionExpiration: lifecycle.NoncurrentVersionExpiration{NoncurrentDays: 1},
			}}
			return raw.SetBucketLifecycle(ctx, bucket, cfg)
		}},
		{"bucket policy granting delete", func(ctx context.Context) error {
			return raw.SetBucketPolicy(ctx, bucket, fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:DeleteObject","s3:DeleteObjectVersion","s3:BypassGovernanceRetention"],"Resource":["arn:aws:s3:::%s/*"]}]}`, bucket))
		}},
	}
	for _, a := range bucketAttacks {
		t.Run(a.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), requestWait)
			defer cancel()
			if err := a.do(ctx); err == nil {
				t.Errorf("the agent's S3 keys could %s on bucket %s: the copy is destroyable", a.name, bucket)
			}
		})
	}
}

// attackOffsiteBackend uses the agent's own s3: backend, opened from the
// agent's config, on every stored file.
func attackOffsiteBackend(t *testing.T, l *layers.Layer, before objects) {
	ctx := t.Context()
	be, err := l.Open(ctx)
	if err != nil {
		t.Fatalf("the attacker opens layer %s: %v", l.Name, err)
	}
	defer be.Close()
	for h := range before {
		if err := be.Remove(ctx, h); err == nil {
			t.Errorf("the agent's S3 keys could Remove %v through the s3 backend: the copy is destroyable", h)
		}
		if err := be.Save(ctx, h, []byte("data kalian sudah kami enkripsi")); err == nil {
			t.Errorf("the agent's S3 keys could Save other bytes over %v: the copy is changeable", h)
		}
	}
}

// checkTrueVersions: every real key still has its original version as the
// oldest, under a retention no shorter than before and still COMPLIANCE.
func checkTrueVersions(t *testing.T, owner *minio.Client, bucket string, truth map[string]version) {
	t.Helper()
	for key, v := range truth {
		vs := versionsOf(t, owner, bucket, key)
		if len(vs) == 0 || vs[len(vs)-1].VersionID != v.id || vs[len(vs)-1].IsDeleteMarker {
			t.Errorf("%s: the original version %s is no longer the oldest: the copy is destroyable", key, v.id)
			continue
		}
		if v.until.IsZero() {
			continue
		}
		mode, until, err := owner.GetObjectRetention(t.Context(), bucket, key, v.id)
		if err != nil || mode == nil || *mode != minio.Compliance || until == nil || until.Before(v.until) {
			t.Errorf("%s: retention after the attacks %v until %v (%v), was COMPLIANCE until %v: retention was shortened", key, mode, until, err, v.until)
		}
	}
}

// offsiteReader opens the offsite layer with the bucket owner's keys, as
// the province would after the incident.
func offsiteReader(t *testing.T, srv *testservers.S3Server, bucket string) backend.Backend {
	t.Helper()
	be, err := s3.Open(t.Context(), s3.Config{Endpoint: srv.Endpoint, Bucket: bucket, Prefix: s3Prefix,
		AccessKey: srv.RootAccessKey, SecretKey: srv.RootSecretKey})
	if err != nil {
		t.Fatalf("the owner opens the offsite copy: %v", err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

// plantGarbage stores garbage with the agent's keys under new names of
// every kind a reader lists (snapshots, two index files, packs) — names
// that are not the hash of the bytes, which only S3 accepts. Readers must
// pass over them; check must name them; a re-encrypting copy must report
// the index files and copy without them.
func plantGarbage(t *testing.T, srv *testservers.S3Server, bucket string, h *host, f *forged) {
	t.Helper()
	raw := srv.Client(t, h.s3Keys)
	for i, ft := range []backend.FileType{backend.SnapshotFile, backend.IndexFile, backend.IndexFile, backend.PackFile} {
		id := crypto.Hash([]byte(fmt.Sprintf("planted %d", i)))
		data := []byte("data kalian sudah kami enkripsi; bayar 10 BTC")
		ctx, cancel := context.WithTimeout(t.Context(), requestWait)
		_, err := raw.PutObject(ctx, bucket, s3Key(backend.Handle{Type: ft, Name: id.String()}), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
		cancel()
		if err != nil {
			t.Fatalf("the attacker plants a garbage %v: %v", ft, err)
		}
		f.planted = append(f.planted, id)
		if ft == backend.IndexFile {
			f.plantedIndex = append(f.plantedIndex, id)
		}
	}
}
