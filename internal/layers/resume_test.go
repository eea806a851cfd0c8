package layers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/replicate"
)

// mirrorDataset is dataset siak with a local first layer (made by
// makeLayer1) and a new mirror layer "nas" without a password.
func mirrorDataset(t *testing.T) (d *Dataset, src *local.Local, nasDir string) {
	t.Helper()
	base := t.TempDir()
	src = makeLayer1(t, filepath.Join(base, "lokal"))
	pw := filepath.Join(base, "pass")
	if err := os.WriteFile(pw, testPassword, 0o600); err != nil {
		t.Fatal(err)
	}
	nasDir = filepath.Join(base, "nas")
	d = &Dataset{Name: "siak", Layers: []*Layer{
		{Name: "lokal", Repository: src.Dir(), Role: RoleLocal, Media: MediaDisk, Password: &Secret{File: pw}},
		{Name: "nas", Repository: nasDir, Role: RoleRegional, Media: MediaServer},
	}}
	return d, src, nasDir
}

// saveKeys copies the source's key files to dst, as a first copy killed
// after the keys would have.
func saveKeys(t *testing.T, src, dst backend.Backend) {
	t.Helper()
	ctx := context.Background()
	err := src.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
		b, err := src.Load(ctx, backend.Handle{Type: backend.KeyFile, Name: fi.Name}, 0, fi.Size)
		if err != nil {
			return err
		}
		return dst.Save(ctx, backend.Handle{Type: backend.KeyFile, Name: fi.Name}, b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A first copy to a new mirror layer that stopped before the config was
// written (window closed, copy killed or failed) must not block the layer
// for ever: the next copy continues into what it left.
func TestCopyToNewMirrorResumes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// leave makes what an interrupted first copy left at dir.
		leave func(t *testing.T, src backend.Backend, dir string)
	}{
		{"empty layout", func(t *testing.T, _ backend.Backend, dir string) {
			if _, err := local.Create(ctx, dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"keys only", func(t *testing.T, src backend.Backend, dir string) {
			be, err := local.Create(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			saveKeys(t, src, be)
		}},
		{"keys and a temporary file, part of the layout", func(t *testing.T, src backend.Backend, dir string) {
			be, err := local.Create(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			saveKeys(t, src, be)
			for _, sub := range []string{"data", "index", "locks"} {
				if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "tmp", "save-123"), []byte("half"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"window closed on the first copy", func(t *testing.T, src backend.Backend, dir string) {
			// Not a leftover: a real first copy outside the window.
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, src, dir := mirrorDataset(t)
			tc.leave(t, src, dir)
			if tc.name == "window closed on the first copy" {
				w, err := replicate.ParseWindow("01:00-02:00")
				if err != nil {
					t.Fatal(err)
				}
				d.Layers[1].ReplicationWindow = &w
				at := func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.Local) }
				for range 2 {
					res, err := CopyBetween(ctx, d, d.Layers[0], d.Layers[1], CopyOptions{Now: at})
					if err != nil || res == nil || !res.Paused {
						t.Fatalf("copy outside the window: %+v, %v; want paused", res, err)
					}
				}
				d.Layers[1].ReplicationWindow = nil
			}
			res, err := CopyBetween(ctx, d, d.Layers[0], d.Layers[1], CopyOptions{})
			if err != nil {
				t.Fatalf("resumed copy: %v", err)
			}
			if !res.OK() || res.Counts()[replicate.Copied] != 1 {
				t.Fatalf("resumed copy: %+v", res)
			}
			// The layer is now a whole mirror: it opens, holds the
			// snapshot and every key, and a further copy has nothing to do.
			dst, err := local.Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, ty := range []backend.FileType{backend.KeyFile, backend.SnapshotFile} {
				want, got := count(t, src, ty), count(t, dst, ty)
				if ty == backend.SnapshotFile {
					want = 1 // siak only
				}
				if got != want {
					t.Errorf("%v: %d files at the mirror, want %d", ty, got, want)
				}
			}
			res, err = CopyBetween(ctx, d, d.Layers[0], d.Layers[1], CopyOptions{})
			if err != nil || res.Objects != 0 || res.Counts()[replicate.Skipped] != 1 {
				t.Errorf("copy again: %+v, %v", res, err)
			}
		})
	}
}

// A non-empty directory that is not an interrupted copy of the source is
// refused, and nothing in it is touched.
func TestCopyToNewMirrorRefusesForeignDirectory(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		leave func(t *testing.T, dir string)
	}{
		{"someone's files", func(t *testing.T, dir string) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "laporan.xlsx"), []byte("penting"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"another repository's key", func(t *testing.T, dir string) {
			be, err := local.Create(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := be.Save(ctx, backend.Handle{Type: backend.KeyFile, Name: "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff"}, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _, dir := mirrorDataset(t)
			tc.leave(t, dir)
			before := listTree(t, dir)
			_, err := CopyBetween(ctx, d, d.Layers[0], d.Layers[1], CopyOptions{})
			if !errors.Is(err, backend.ErrExists) {
				t.Fatalf("err = %v, want ErrExists", err)
			}
			if after := listTree(t, dir); after != before {
				t.Errorf("the directory changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func count(t *testing.T, be backend.Backend, ty backend.FileType) int {
	t.Helper()
	n := 0
	if err := be.List(context.Background(), ty, func(backend.FileInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// listTree names every file and directory under dir, one string.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var out string
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out += p + ";"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A layer with a password of its own is a repository of its own: a copy to
// it before it exists says how to create it instead of only "no repository".
func TestCopyToMissingLayerWithOwnPassword(t *testing.T) {
	d, _, nasDir := mirrorDataset(t)
	d.Layers[1].Password = d.Layers[0].Password
	_, err := CopyBetween(context.Background(), d, d.Layers[0], d.Layers[1], CopyOptions{})
	if !errors.Is(err, backend.ErrNotExist) || !strings.Contains(err.Error(), "lumbung init --repo "+nasDir) {
		t.Fatalf("copy to a missing layer with its own password: %v, want advice to init it", err)
	}
	if _, statErr := os.Stat(nasDir); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("the copy made something at %s (%v); it must not create a repository with its own keys", nasDir, statErr)
	}
}

// When the first layer is lost (the host fell), status still reads the
// mirror layers with the first layer's password, as restore does.
func TestStatusReadsMirrorsWithoutTheFirstLayer(t *testing.T) {
	ctx := context.Background()
	d, src, _ := mirrorDataset(t)
	if _, err := CopyBetween(ctx, d, d.Layers[0], d.Layers[1], CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(src.Dir()); err != nil {
		t.Fatal(err)
	}
	st := DatasetStatusOf(ctx, d, StatusOptions{})
	nas := st.Layers[1]
	if nas.Error != "" || nas.Snapshots == 0 || nas.Newest == nil {
		t.Fatalf("mirror layer after the first is gone: %+v", nas)
	}
}
