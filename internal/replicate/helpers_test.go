package replicate_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/checker"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
	"github.com/lumbung-id/lumbung/internal/testutil"
)

var (
	pwA = []byte("kata-sandi-kabupaten")
	pwB = []byte("kata-sandi-provinsi")
	// Small packs and chunks so a few hundred KiB make many objects to
	// interrupt between.
	testOpts = repository.Options{
		KDF:      crypto.TestKDF,
		PackSize: 1 << 20,
		Chunker:  repository.ChunkerParams{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10},
	}
)

func initRepo(t *testing.T, be backend.Backend, pw []byte) *repository.Repository {
	t.Helper()
	repo, err := repository.Init(context.Background(), be, pw, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func openRepo(t *testing.T, be backend.Backend, pw []byte) *repository.Repository {
	t.Helper()
	repo, err := repository.Open(context.Background(), be, pw, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.LoadIndex(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return repo
}

// source is a source repository with snapshots of one directory, as a
// dataset's backups are.
type source struct {
	be    backend.Backend
	repo  *repository.Repository
	dir   string
	files map[crypto.ID]map[string][]byte // snapshot -> what it holds
	snaps []crypto.ID
	sums  []*repository.Summary
}

func newSource(t *testing.T, be backend.Backend) *source {
	return &source{be: be, repo: initRepo(t, be, pwA), dir: filepath.Join(t.TempDir(), "siak"), files: map[crypto.ID]map[string][]byte{}}
}

// backup makes the directory hold exactly files (name -> content) and backs
// it up as one snapshot of dataset "siak".
func (s *source) backup(t *testing.T, files map[string][]byte) crypto.ID {
	t.Helper()
	// Only what changed is touched, so unchanged directories keep their
	// trees, as between a dataset's real backups.
	if len(s.snaps) > 0 {
		for name := range s.files[s.snaps[len(s.snaps)-1]] {
			if _, keep := files[name]; !keep {
				if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	snap := map[string][]byte{}
	for name, data := range files {
		p := filepath.Join(s.dir, name)
		if old, err := os.ReadFile(p); err != nil || !bytes.Equal(old, data) {
			testutil.WriteFile(t, p, data)
		}
		snap[name] = append([]byte(nil), data...)
	}
	opts := archiver.Options{Dataset: "siak", Hostname: "srv-siak", Time: time.Date(2026, 1, 1+len(s.snaps), 1, 0, 0, 0, time.UTC)}
	if n := len(s.snaps); n > 0 {
		parent, err := s.repo.LoadSnapshot(context.Background(), s.snaps[n-1])
		if err != nil {
			t.Fatal(err)
		}
		opts.Parent, opts.ParentID = parent, s.snaps[n-1]
	}
	res, err := archiver.Backup(context.Background(), s.repo, []string{s.dir}, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.files[res.ID] = snap
	s.snaps = append(s.snaps, res.ID)
	s.sums = append(s.sums, res.Snapshot.Summary)
	return res.ID
}

// checkRepo fails unless be holds a repository that check (with read-data)
// passes.
func checkRepo(t *testing.T, be backend.Backend, pw []byte) {
	t.Helper()
	rep, err := checker.Check(context.Background(), openRepo(t, be, pw), checker.Options{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Errors {
		t.Errorf("check %s: %s %s: %s", be.Location(), p.Kind, p.Object, p.Message)
	}
}

// restoresAs restores snapshot id of repo (a copy of source snapshot
// srcID) and compares it with what that snapshot held.
func (s *source) restoresAs(t *testing.T, repo *repository.Repository, id, srcID crypto.ID) {
	t.Helper()
	ctx := context.Background()
	sn, err := repo.LoadSnapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if _, err := restorer.Restore(ctx, repo, sn.Tree, restorer.Options{Target: target}); err != nil {
		t.Fatalf("restore %s: %v", id.Short(), err)
	}
	want := s.files[srcID]
	n := 0
	err = filepath.WalkDir(filepath.Join(target, s.dir), func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		n++
		rel, _ := filepath.Rel(filepath.Join(target, s.dir), p)
		got, _ := os.ReadFile(p)
		if w, ok := want[filepath.ToSlash(rel)]; !ok || !bytes.Equal(got, w) {
			t.Errorf("restored %s of snapshot %s differs from the original", rel, id.Short())
		}
		return nil
	})
	if err != nil || n != len(want) {
		t.Fatalf("compare: %v (%d files restored, want %d)", err, n, len(want))
	}
}

func names(t *testing.T, be backend.Backend, ft backend.FileType) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if err := be.List(context.Background(), ft, func(fi backend.FileInfo) error {
		out[fi.Name] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// newDataPack returns a data pack of be that is not in before (a pack of a
// later backup).
func newDataPack(t *testing.T, be backend.Backend, pw []byte, before map[string]bool) string {
	t.Helper()
	ctx := context.Background()
	repo := openRepo(t, be, pw)
	for name := range names(t, be, backend.PackFile) {
		if before[name] {
			continue
		}
		fi, err := be.Stat(ctx, backend.Handle{Type: backend.PackFile, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		blobs, err := repo.ReadPackHeader(ctx, mustID(t, name), fi.Size)
		if err == nil && blobs[0].Type == repository.DataBlob {
			return name
		}
	}
	t.Fatal("no data pack of the later backup")
	return ""
}

// rewritePack replaces pack name with its bytes changed by damage.
func rewritePack(t *testing.T, be backend.Backend, name string, damage func([]byte)) {
	t.Helper()
	ctx := context.Background()
	h := backend.Handle{Type: backend.PackFile, Name: name}
	data, err := be.Load(ctx, h, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	damage(data)
	if err := be.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, h, data); err != nil {
		t.Fatal(err)
	}
}
