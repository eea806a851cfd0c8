package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/backendtest"
	"github.com/lumbung-id/lumbung/internal/crypto"
)

func newLocal(t *testing.T) *Local {
	t.Helper()
	l, err := Create(t.Context(), filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestConformance(t *testing.T) {
	backendtest.RunTests(t, func(t *testing.T) backend.Backend { return newLocal(t) })
}

// The rename fallback for filesystems without hard links must conform too
// (within one process it is race-free).
func TestConformanceRenameFallback(t *testing.T) {
	backendtest.RunTests(t, func(t *testing.T) backend.Backend {
		l := newLocal(t)
		l.noLinks.Store(true)
		return l
	})
}

// Reads through the page cache (file systems that refuse O_DIRECT, and
// systems other than Linux) must conform too.
func TestConformanceBufferedReads(t *testing.T) {
	backendtest.RunTests(t, func(t *testing.T) backend.Backend {
		l := newLocal(t)
		l.noDirectRead.Store(true)
		return l
	})
}

func pack(label string) backend.Handle {
	return backend.Handle{Type: backend.PackFile, Name: backendtest.Name(label)}
}

func tmpEntries(t *testing.T, l *Local) []string {
	t.Helper()
	names, err := os.ReadDir(filepath.Join(l.dir, tmpDir))
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, e := range names {
		s = append(s, e.Name())
	}
	return s
}

func TestLayout(t *testing.T) {
	l := newLocal(t)
	for _, d := range []string{"keys", "data", "data/00", "data/7f", "data/ff", "index", "snapshots", "locks", "tmp"} {
		fi, err := os.Stat(filepath.Join(l.dir, d))
		if err != nil || !fi.IsDir() {
			t.Fatalf("layout directory %s: %v", d, err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != dirMode {
			t.Errorf("%s has mode %v, want %v", d, fi.Mode().Perm(), os.FileMode(dirMode))
		}
	}
	name := "abcdef0123"
	want := map[backend.Handle]string{
		{Type: backend.ConfigFile}:               "config",
		{Type: backend.KeyFile, Name: name}:      "keys/" + name,
		{Type: backend.PackFile, Name: name}:     "data/ab/" + name,
		{Type: backend.IndexFile, Name: name}:    "index/" + name,
		{Type: backend.SnapshotFile, Name: name}: "snapshots/" + name,
		{Type: backend.LockFile, Name: name}:     "locks/" + name,
	}
	for h, rel := range want {
		if err := l.Save(t.Context(), h, []byte(h.String())); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(l.dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatalf("%v not at %s: %v", h, rel, err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != fileMode {
			t.Errorf("%s has mode %v, want %v", rel, fi.Mode().Perm(), os.FileMode(fileMode))
		}
	}
	if got := tmpEntries(t, l); len(got) != 0 {
		t.Errorf("temporary files left after successful saves: %v", got)
	}
	if loc := l.Location(); loc != "local:"+l.dir || !filepath.IsAbs(l.dir) {
		t.Errorf("Location = %q", loc)
	}
}

func TestShortPackName(t *testing.T) {
	l := newLocal(t)
	h := backend.Handle{Type: backend.PackFile, Name: "a"}
	if err := l.Save(t.Context(), h, nil); err == nil {
		t.Fatal("Save of a 1-character pack name succeeded")
	}
}

func TestNoTempFilesAfterFailures(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprint("fallback=", fallback), func(t *testing.T) {
			l := newLocal(t)
			l.noLinks.Store(fallback)
			h := pack("x")
			if err := l.Save(t.Context(), h, []byte("one")); err != nil {
				t.Fatal(err)
			}
			// Name taken.
			if err := l.Save(t.Context(), h, []byte("two")); !errors.Is(err, backend.ErrExists) {
				t.Fatalf("overwrite: %v", err)
			}
			// Cancelled.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := l.Save(ctx, pack("y"), []byte("y")); err == nil {
				t.Fatal("cancelled Save succeeded")
			}
			// The target directory is not a directory: the final step fails.
			h2 := pack("z")
			sub := filepath.Join(l.dir, "data", h2.Name[:2])
			if err := os.RemoveAll(sub); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(sub, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := l.Save(t.Context(), h2, []byte("z")); err == nil {
				t.Fatal("Save into a blocked directory succeeded")
			}
			if got := tmpEntries(t, l); len(got) != 0 {
				t.Errorf("temporary files left after failed saves: %v", got)
			}
		})
	}
}

// Copy tools may drop empty directories; Save recreates them.
func TestMissingDirectoriesRecreated(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprint("fallback=", fallback), func(t *testing.T) {
			l := newLocal(t)
			l.noLinks.Store(fallback)
			h := pack("dropped")
			for _, d := range []string{"tmp", filepath.Join("data", h.Name[:2]), "keys"} {
				if err := os.Remove(filepath.Join(l.dir, d)); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.List(t.Context(), backend.KeyFile, func(backend.FileInfo) error { return nil }); err != nil {
				t.Errorf("List of a missing directory: %v", err)
			}
			for _, h := range []backend.Handle{h, {Type: backend.KeyFile, Name: "abcd"}} {
				if err := l.Save(t.Context(), h, []byte("data")); err != nil {
					t.Fatalf("Save(%v): %v", h, err)
				}
				if _, err := l.Stat(t.Context(), h); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestListSkipsForeignFiles(t *testing.T) {
	l := newLocal(t)
	good := pack("good")
	if err := l.Save(t.Context(), good, []byte("g")); err != nil {
		t.Fatal(err)
	}
	key := backend.Handle{Type: backend.KeyFile, Name: "abcd"}
	if err := l.Save(t.Context(), key, []byte("k")); err != nil {
		t.Fatal(err)
	}
	junk := []string{
		"keys/README", "keys/ABCD", "keys/save-123", "data/README",
		"data/00/zz", "data/00/ff00", // invalid name; valid name in the wrong prefix
		"tmp/0123",
	}
	for _, j := range junk {
		if err := os.WriteFile(filepath.Join(l.dir, filepath.FromSlash(j)), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(l.dir, "keys", "abcdef"), 0o700); err != nil {
		t.Fatal(err)
	}
	check := func(ft backend.FileType, want string) {
		t.Helper()
		var got []string
		if err := l.List(t.Context(), ft, func(fi backend.FileInfo) error {
			got = append(got, fi.Name)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("List(%v) = %v, want [%s]", ft, got, want)
		}
	}
	check(backend.PackFile, good.Name)
	check(backend.KeyFile, key.Name)
}

func TestCreateRefusesNonEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(t.Context(), dir); !errors.Is(err, backend.ErrExists) || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Create on a non-empty directory: %v, want ErrExists", err)
	}
	if _, err := Create(t.Context(), filepath.Join(dir, "file")); !errors.Is(err, backend.ErrExists) {
		t.Errorf("Create on a file: %v, want ErrExists", err)
	}
	// An existing empty directory is fine, once.
	empty := t.TempDir()
	if _, err := Create(t.Context(), empty); err != nil {
		t.Fatalf("Create on an empty directory: %v", err)
	}
	if _, err := Create(t.Context(), empty); !errors.Is(err, backend.ErrExists) {
		t.Errorf("second Create: %v, want ErrExists", err)
	}
}

func TestOpen(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing")
	_, err := Open(t.Context(), missing)
	if !errors.Is(err, backend.ErrNotExist) || !strings.Contains(err.Error(), "no repository at "+missing) {
		t.Errorf("Open of a missing directory: %v", err)
	}

	l := newLocal(t)
	if _, err := Open(t.Context(), l.dir); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Open before the config is saved: %v, want ErrNotExist", err)
	}
	cfg := backend.Handle{Type: backend.ConfigFile}
	if err := l.Save(t.Context(), cfg, []byte("cfg")); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(t.Context(), l.dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := l2.Load(t.Context(), cfg, 0, 0)
	if err != nil || string(data) != "cfg" {
		t.Errorf("config through Open: %q, %v", data, err)
	}
}

func TestCleanTemp(t *testing.T) {
	l := newLocal(t)
	tmp := filepath.Join(l.dir, tmpDir)
	old, fresh := filepath.Join(tmp, "save-old"), filepath.Join(tmp, "save-fresh")
	for _, f := range []string{old, fresh} {
		if err := os.WriteFile(f, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if err := l.CleanTemp(time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file removed: %v", err)
	}
}

// TestSaveFile: a finished file becomes an object without a copy, under
// Save's rules: the name it gets is readable, an existing name is never
// replaced, and the file given is gone after success.
func TestSaveFile(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	h := pack("savefile")
	write := func(data string) string {
		p := filepath.Join(l.Dir(), tmpDir, "upload-"+data)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := write("first")
	if err := l.SaveFile(ctx, h, first); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the saved file is still there: %v", err)
	}
	second := write("second")
	if err := l.SaveFile(ctx, h, second); !errors.Is(err, backend.ErrExists) {
		t.Errorf("SaveFile over an existing name: %v, want ErrExists", err)
	}
	got, err := l.Load(ctx, h, 0, 0)
	if err != nil || string(got) != "first" {
		t.Errorf("after a refused SaveFile the object holds %q (%v), want %q", got, err, "first")
	}
	if err := l.SaveFile(ctx, pack("missing"), filepath.Join(l.Dir(), tmpDir, "nope")); err == nil {
		t.Error("SaveFile of a missing file succeeded")
	}
}

// An init killed before its config was saved leaves the layout and a key
// slot. Once that leftover is a minute old, Create takes the directory again
// and moves the dead key slot into tmp/ (never deletes it); a fresh leftover
// (an init perhaps still running) or one holding anything else is refused.
func TestCreateReclaimsInterruptedInit(t *testing.T) {
	ctx := t.Context()
	leftover := func(t *testing.T, age time.Duration, extra backend.Handle) (string, string) {
		dir := filepath.Join(t.TempDir(), "repo")
		be, err := Create(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		slot := []byte(`{"kdf":"argon2id"}`)
		key := crypto.Hash(slot).String()
		if err := be.Save(ctx, backend.Handle{Type: backend.KeyFile, Name: key}, slot); err != nil {
			t.Fatal(err)
		}
		if extra.Type != 0 {
			data := []byte("isi")
			extra.Name = crypto.Hash(data).String()
			if err := be.Save(ctx, extra, data); err != nil {
				t.Fatal(err)
			}
		}
		then := time.Now().Add(-age)
		err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Chtimes(p, then, then)
		})
		if err != nil {
			t.Fatal(err)
		}
		return dir, key
	}
	t.Run("old leftover is reclaimed", func(t *testing.T) {
		dir, key := leftover(t, 2*time.Minute, backend.Handle{})
		be, err := Create(ctx, dir)
		if err != nil {
			t.Fatalf("Create over an interrupted init: %v", err)
		}
		n := 0
		if err := be.List(ctx, backend.KeyFile, func(backend.FileInfo) error { n++; return nil }); err != nil || n != 0 {
			t.Errorf("%d key slots left in keys/ (%v), want the dead one moved aside", n, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "tmp", "abandoned-key-"+key)); err != nil {
			t.Errorf("the dead key slot is not kept in tmp/: %v", err)
		}
		data := []byte("config")
		if err := be.Save(ctx, backend.Handle{Type: backend.ConfigFile}, data); err != nil {
			t.Fatalf("save config into the reclaimed directory: %v", err)
		}
	})
	t.Run("fresh leftover is refused", func(t *testing.T) {
		dir, key := leftover(t, 0, backend.Handle{})
		if _, err := Create(ctx, dir); !errors.Is(err, backend.ErrExists) || !strings.Contains(err.Error(), "another init may be running") {
			t.Errorf("Create over a fresh leftover: %v, want ErrExists naming a running init", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "keys", key)); err != nil {
			t.Errorf("the key slot of a possibly running init was touched: %v", err)
		}
	})
	for _, ft := range []backend.FileType{backend.PackFile, backend.IndexFile, backend.SnapshotFile, backend.LockFile} {
		t.Run("leftover with a "+ft.String()+" file is refused", func(t *testing.T) {
			dir, key := leftover(t, 2*time.Minute, backend.Handle{Type: ft})
			if _, err := Create(ctx, dir); !errors.Is(err, backend.ErrExists) {
				t.Errorf("Create: %v, want ErrExists", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "keys", key)); err != nil {
				t.Errorf("a key slot was moved out of a directory that is not an interrupted init: %v", err)
			}
		})
	}
}
