package s3_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/backendtest"
	"github.com/lumbung-id/lumbung/internal/backend/location"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
	"github.com/lumbung-id/lumbung/internal/testservers"
	"github.com/minio/minio-go/v7"
)

// TestRepositoryRoundTrip goes through an agent's life on an s3: location
// with the agent's own keys, as the CLI does (location.Create/Open with
// credentials from the environment): init, backup, restore; then an
// attacker overwrites every object with the same keys, and the snapshot
// still restores byte-identical.
func TestRepositoryRoundTrip(t *testing.T) {
	srv := testservers.S3(t)
	bucket := srv.Bucket(t, true)
	agent := srv.AgentKeys(t, bucket)
	t.Setenv("AWS_ACCESS_KEY_ID", agent.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", agent.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", agent.SessionToken)
	ctx := t.Context()
	loc := srv.Location(bucket, "kab/siak", "retention=1d")
	pw := []byte("kata sandi rahasia")
	opts := repository.Options{KDF: crypto.TestKDF}

	src := t.TempDir()
	files := map[string][]byte{
		"a.txt":             []byte("halo dunia\n"),
		"data/penduduk.csv": bytes.Repeat([]byte("3201010101900001;BUDI;SUKAMAJU\n"), 5000),
		"data/acak.bin":     backendtest.Data(42, 3<<20),
		"kosong.txt":        nil,
	}
	for rel, data := range files {
		p := filepath.Join(src, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// init, as `lumbung init` does it.
	if _, err := location.Open(ctx, loc); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Open before init: %v, want ErrNotExist", err)
	}
	be, err := location.Create(ctx, loc)
	if err != nil {
		t.Fatalf("Create(%s): %v", loc, err)
	}
	repo, err := repository.Init(ctx, be, pw, opts)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}

	// backup
	lock, err := repo.Lock(ctx, false)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if err := repo.LoadIndex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	res, err := archiver.Backup(ctx, repo, []string{src}, archiver.Options{Hostname: "uji"})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	// The agent may not delete, not even its own lock: it stays until it
	// is stale (the repository's rule) or maintenance removes it.
	if err := lock.Unlock(ctx); err != nil && !errors.Is(err, backend.ErrPermission) {
		t.Errorf("Unlock with the agent's keys: %v, want success or ErrPermission", err)
	} else if err != nil {
		t.Logf("Unlock with the agent's keys: %v", err)
	}
	be.Close()

	restore := func(t *testing.T) {
		t.Helper()
		be, err := location.Open(ctx, loc)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer be.Close()
		if err := repository.CheckFormat(ctx, be); err != nil {
			t.Fatal(err)
		}
		repo, err := repository.Open(ctx, be, pw, opts)
		if err != nil {
			t.Fatalf("repository.Open: %v", err)
		}
		if err := repo.LoadIndex(ctx, func(id crypto.ID, err error) { t.Errorf("index %v: %v", id, err) }); err != nil {
			t.Fatal(err)
		}
		sn, err := repo.FindSnapshot(ctx, "latest", repository.SnapshotFilter{})
		if err != nil {
			t.Fatalf("FindSnapshot: %v", err)
		}
		if sn.ID != res.ID {
			t.Errorf("latest snapshot is %v, want the backup's %v", sn.ID, res.ID)
		}
		dst := t.TempDir()
		rr, err := restorer.Restore(ctx, repo, sn.Tree, restorer.Options{Target: dst})
		if err != nil {
			t.Fatalf("Restore: %v (%+v)", err, rr)
		}
		compareTree(t, files, restoredRoot(dst, src))
	}
	restore(t)

	// The attacker, with the same keys, PUTs garbage over every object.
	raw := srv.Client(t, agent)
	var keys []string
	for obj := range raw.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Prefix: "kab/siak/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	if len(keys) < 5 {
		t.Fatalf("only %d objects stored: %v", len(keys), keys)
	}
	for _, key := range keys {
		evil := []byte("file anda telah dienkripsi; bayar tebusan")
		if _, err := raw.PutObject(ctx, bucket, key, bytes.NewReader(evil), int64(len(evil)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("attacker PUT %s: %v", key, err)
		}
		if err := raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}); err == nil {
			t.Errorf("attacker DELETE %s succeeded", key)
		}
	}
	restore(t)
}

// restoredRoot is where restorer puts the snapshot path src below dst.
func restoredRoot(dst, src string) string {
	abs, _ := filepath.Abs(src)
	if vol := filepath.VolumeName(abs); vol != "" {
		abs = strings.TrimSuffix(vol, ":") + abs[len(vol):]
	}
	return filepath.Join(dst, abs)
}

func compareTree(t *testing.T, want map[string][]byte, root string) {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		data, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatalf("walk the restored tree: %v", err)
	}
	for rel, data := range want {
		if g, ok := got[rel]; !ok {
			t.Errorf("%s was not restored", rel)
		} else if !bytes.Equal(g, data) {
			t.Errorf("%s restored with %d bytes, differing from the %d backed up", rel, len(g), len(data))
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("restore made %s, which was not backed up", rel)
		}
	}
}
