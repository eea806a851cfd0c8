package archiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend/faulty"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/testutil"
	"github.com/lumbung-id/lumbung/internal/ui"
)

func newRepo(t *testing.T) *repository.Repository {
	t.Helper()
	repo, err := repository.Init(context.Background(), mem.New(), []byte("pw"), repository.Options{KDF: crypto.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func randomData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func makeSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "empty"), nil)
	testutil.WriteFile(t, filepath.Join(dir, "small.txt"), []byte("halo dunia\n"))
	testutil.WriteFile(t, filepath.Join(dir, "big.bin"), randomData(1, 9<<20+123))
	testutil.WriteFile(t, filepath.Join(dir, "sql", "dump.sql"), bytes.Repeat([]byte("INSERT INTO penduduk VALUES (1,'Budi');\n"), 200000))
	for i := range 50 {
		testutil.WriteFile(t, filepath.Join(dir, "surat", strings.Repeat("x", i%7+1)+string(rune('a'+i%26))+".txt"), randomData(uint64(i), i*100))
	}
	if err := os.MkdirAll(filepath.Join(dir, "kosong", "dalam"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("small.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "small.txt"), filepath.Join(dir, "hardlink.txt")); err != nil {
		t.Fatal(err)
	}
	// A large file (read by the large-file worker) with a hard link in
	// another directory, listed before it.
	if err := os.Link(filepath.Join(dir, "big.bin"), filepath.Join(dir, "kosong", "big-link.bin")); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(dir, "caf\xe9 \n odd.tmp"), []byte("odd name"))
	return dir
}

// readBack reconstructs every regular file of a snapshot from the repository.
func readBack(t *testing.T, repo *repository.Repository, tree crypto.ID, dir string, out map[string][]byte) {
	t.Helper()
	tr, err := repo.LoadTree(context.Background(), tree)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tr.Nodes {
		p := dir + "/" + n.Name
		switch n.Type {
		case repository.NodeDir:
			out[p+"/"] = nil
			readBack(t, repo, n.Subtree, p, out)
		case repository.NodeFile:
			if n.Error != "" {
				continue
			}
			var data []byte
			for _, id := range n.Content {
				data, err = repo.LoadBlob(context.Background(), id, data)
				if err != nil {
					t.Fatal(err)
				}
			}
			if uint64(len(data)) != n.Size {
				t.Fatalf("%s: %d bytes, node says %d", p, len(data), n.Size)
			}
			out[p] = data
		case repository.NodeSymlink:
			out[p] = []byte("-> " + n.LinkTarget)
		}
	}
}

// readSource reads the source tree in the same shape as readBack.
func readSource(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		key := filepath.ToSlash(p)
		switch {
		case d.IsDir():
			out[key+"/"] = nil
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[key] = []byte("-> " + target)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[key] = data
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBackupContentAndRebackup(t *testing.T) {
	ctx := context.Background()
	repo := newRepo(t)
	src := makeSource(t)
	res, err := Backup(ctx, repo, []string{src}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	readBack(t, repo, res.Snapshot.Tree, "", got)
	want := readSource(t, src)
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("missing %q", p)
			continue
		}
		if !bytes.Equal(g, w) {
			t.Errorf("%q differs", p)
		}
	}
	// Only the ancestors of src are extra.
	for p := range got {
		if _, ok := want[p]; !ok && !strings.HasPrefix(src, strings.TrimSuffix(p, "/")) {
			t.Errorf("unexpected %q", p)
		}
	}
	s := res.Snapshot.Summary
	if s.FilesNew == 0 || s.FilesUnchanged != 0 || s.DataAdded == 0 {
		t.Fatalf("first backup summary: %+v", s)
	}

	// Unchanged tree: nothing read, nothing added, same root.
	res2, err := Backup(ctx, repo, []string{src}, Options{Parent: res.Snapshot, ParentID: res.ID})
	if err != nil {
		t.Fatal(err)
	}
	s2 := res2.Snapshot.Summary
	// Ancestors of src (/tmp...) may change under other processes; src's
	// own trees must not.
	if s2.FilesNew != 0 || s2.FilesChanged != 0 || s2.DataBlobs != 0 || s2.TreeBlobs > int64(len(splitPath(src))+1) || s2.FilesUnchanged != s.FilesNew {
		t.Fatalf("unchanged re-backup: %+v", s2)
	}
	if s2.DirsChanged+s2.DirsNew != 0 {
		t.Fatalf("directories below src changed: %+v", s2)
	}
	if res2.Snapshot.Parent == nil || *res2.Snapshot.Parent != res.ID {
		t.Fatal("parent not recorded")
	}

	// One changed file: read again; its unchanged neighbours not.
	testutil.WriteFile(t, filepath.Join(src, "small.txt"), []byte("halo dunia, berubah\n"))
	res3, err := Backup(ctx, repo, []string{src}, Options{Parent: res2.Snapshot, ParentID: res2.ID})
	if err != nil {
		t.Fatal(err)
	}
	s3 := res3.Snapshot.Summary
	// small.txt and its hard link share an inode: both changed.
	if s3.FilesChanged != 2 || s3.FilesNew != 0 || s3.DataBlobs != 1 {
		t.Fatalf("one-file change: %+v", s3)
	}
}

func TestExcludes(t *testing.T) {
	ctx := context.Background()
	repo := newRepo(t)
	src := makeSource(t)
	res, err := Backup(ctx, repo, []string{src}, Options{Excludes: []string{"*.tmp", filepath.Join(src, "surat")}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	readBack(t, repo, res.Snapshot.Tree, "", got)
	for p := range got {
		if strings.HasSuffix(p, ".tmp") || strings.Contains(p, "/surat") {
			t.Errorf("excluded %q was saved", p)
		}
	}
	if _, ok := got[filepath.ToSlash(src)+"/small.txt"]; !ok {
		t.Error("small.txt missing")
	}
}

func TestUnreadableFileRecorded(t *testing.T) {
	ctx := context.Background()
	repo := newRepo(t)
	src := makeSource(t)
	bad := filepath.Join(src, "sql", "dump.sql")
	testOpenHook = func(p string) (*fsmeta.File, error) {
		if p == bad {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
		}
		return fsmeta.OpenNoFollow(p)
	}
	defer func() { testOpenHook = nil }()
	res, err := Backup(ctx, repo, []string{src}, Options{})
	if !errors.Is(err, ErrSomeUnreadable) || res == nil {
		t.Fatalf("got %v, want ErrSomeUnreadable with a snapshot", err)
	}
	if len(res.Snapshot.Unreadable) != 1 || res.Snapshot.Unreadable[0].Path != bad {
		t.Fatalf("unreadable list: %+v", res.Snapshot.Unreadable)
	}
	got := map[string][]byte{}
	readBack(t, repo, res.Snapshot.Tree, "", got)
	if _, ok := got[filepath.ToSlash(src)+"/big.bin"]; !ok {
		t.Fatal("other files missing after an unreadable one")
	}
}

func TestConcurrentBackupsShareRepository(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	if _, err := repository.Init(ctx, be, []byte("pw"), repository.Options{KDF: crypto.TestKDF}); err != nil {
		t.Fatal(err)
	}
	src := makeSource(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repo, err := repository.Open(ctx, be, []byte("pw"), repository.Options{})
			if err == nil {
				err = repo.LoadIndex(ctx, nil)
			}
			if err == nil {
				_, err = Backup(ctx, repo, []string{src}, Options{Hostname: "host" + string(rune('a'+i))})
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	repo, _ := repository.Open(ctx, be, []byte("pw"), repository.Options{})
	if err := repo.LoadIndex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	sns, err := repo.Snapshots(ctx, nil)
	if err != nil || len(sns) != 2 {
		t.Fatalf("snapshots: %d, %v", len(sns), err)
	}
	for _, sn := range sns {
		got := map[string][]byte{}
		readBack(t, repo, sn.Tree, "", got)
	}
}

func TestBackupReader(t *testing.T) {
	ctx := context.Background()
	repo := newRepo(t)
	dump := bytes.Repeat([]byte("COPY penduduk FROM stdin;\n"), 100000)
	res, err := BackupReader(ctx, repo, bytes.NewReader(dump), "siak.sql", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	readBack(t, repo, res.Snapshot.Tree, "", got)
	if !bytes.Equal(got["/siak.sql"], dump) {
		t.Fatal("stdin content differs")
	}
	if _, err := BackupReader(ctx, repo, bytes.NewReader(nil), "../x", Options{}); err == nil {
		t.Fatal("hostile stdin filename accepted")
	}
}

// recorder is a ui.Progress that keeps the last totals and the sum of what
// was added.
type recorder struct {
	mu          sync.Mutex
	total, done ui.Counts
}

func (r *recorder) Start(_ string, total ui.Counts) { r.mu.Lock(); r.total = total; r.mu.Unlock() }
func (r *recorder) Add(c ui.Counts) {
	r.mu.Lock()
	r.done.Files += c.Files
	r.done.Dirs += c.Dirs
	r.done.Bytes += c.Bytes
	r.mu.Unlock()
}
func (r *recorder) Item(string)        {}
func (r *recorder) Warn(string, error) {}
func (r *recorder) Finish()            {}

// Progress ends at 100%: what the pre-scan counts (regular files and their
// bytes, hard links and unreadable files included, symlinks not) is what
// the backup adds, and it matches the snapshot summary.
func TestProgressMatchesScan(t *testing.T) {
	src := makeSource(t)
	testutil.WriteFile(t, filepath.Join(src, "rahasia.txt"), []byte("tidak terbaca"))
	prevHook := testOpenHook
	testOpenHook = func(p string) (*fsmeta.File, error) {
		if filepath.Base(p) == "rahasia.txt" {
			return nil, fs.ErrPermission
		}
		return fsmeta.OpenNoFollow(p)
	}
	t.Cleanup(func() { testOpenHook = prevHook })
	rec := &recorder{}
	res, err := Backup(context.Background(), newRepo(t), []string{src}, Options{Progress: rec, Scan: true})
	if !errors.Is(err, ErrSomeUnreadable) {
		t.Fatalf("backup: %v, want ErrSomeUnreadable", err)
	}
	if rec.total.Files == 0 || rec.done.Files != rec.total.Files || rec.done.Bytes != rec.total.Bytes {
		t.Fatalf("progress ends at %d files %d bytes of %d files %d bytes", rec.done.Files, rec.done.Bytes, rec.total.Files, rec.total.Bytes)
	}
	if s := res.Snapshot.Summary; s.TotalFiles != rec.total.Files {
		t.Errorf("summary counts %d files, scan %d", s.TotalFiles, rec.total.Files)
	}
}

// A file replaced by a rename between the listing and the open (an
// editor's save, a log rotation) is saved with the metadata of what was
// read, not the listed file's size and inode with the new content.
func TestFileReplacedAfterListing(t *testing.T) {
	src := t.TempDir()
	target := filepath.Join(src, "laporan.txt")
	testutil.WriteFile(t, target, []byte("versi lama"))
	newer := []byte("versi baru, lebih panjang dari yang lama")
	prevHook := testOpenHook
	testOpenHook = func(p string) (*fsmeta.File, error) {
		if p == target {
			tmp := filepath.Join(t.TempDir(), "baru")
			testutil.WriteFile(t, tmp, newer)
			if err := os.Rename(tmp, target); err != nil {
				return nil, err
			}
		}
		return fsmeta.OpenNoFollow(p)
	}
	t.Cleanup(func() { testOpenHook = prevHook })
	repo := newRepo(t)
	res, err := Backup(context.Background(), repo, []string{src}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	readBack(t, repo, res.Snapshot.Tree, "", got) // fails if size and content disagree
	if data := got[filepath.ToSlash(target)]; !bytes.Equal(data, newer) {
		t.Fatalf("saved %q, want the content that was read %q", data, newer)
	}
	m, err := fsmeta.Lstat(target)
	if err != nil {
		t.Fatal(err)
	}
	node := findNode(t, repo, res.Snapshot.Tree, target)
	if node.Inode != m.Inode {
		t.Errorf("node keeps the listed inode %d, the file read is %d", node.Inode, m.Inode)
	}
}

// findNode looks up the node of an absolute path in a snapshot tree.
func findNode(t *testing.T, repo *repository.Repository, tree crypto.ID, path string) *repository.Node {
	t.Helper()
	var node *repository.Node
	for _, name := range strings.Split(strings.Trim(filepath.ToSlash(path), "/"), "/") {
		tr, err := repo.LoadTree(context.Background(), tree)
		if err != nil {
			t.Fatal(err)
		}
		if node = tr.Find(name); node == nil {
			t.Fatalf("%s: no node %q", path, name)
		}
		tree = node.Subtree
	}
	return node
}

// A repository that fails while files are being read fails the backup
// with its error; it does not turn the files into "unreadable" entries of
// a snapshot. Large files' chunks go through the blob workers, small
// files are saved by their readers (inlineMax): both paths.
func TestRepositoryFailureDuringBackup(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]int // name: size
	}{
		{"large files", map[string]int{"media/a.mp4": 12 << 20, "media/b.mp4": 12 << 20, "media/c.mp4": 12 << 20, "media/d.mp4": 12 << 20}},
		{"small files", func() map[string]int {
			m := map[string]int{}
			for i := range 600 {
				m[fmt.Sprintf("surat/%03d/%d.pdf", i/50, i)] = 40 << 10
			}
			return m
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			be := faulty.Wrap(mem.New())
			repo, err := repository.Init(ctx, be, []byte("pw"), repository.Options{KDF: crypto.TestKDF})
			if err != nil {
				t.Fatal(err)
			}
			src := t.TempDir()
			i := 0
			for name, size := range tc.files {
				testutil.WriteFile(t, filepath.Join(src, name), randomData(uint64(i), size))
				i++
			}
			// Slow pack saves: the readers soon wait for the backlog or
			// the blob workers, and are waiting when the first save fails.
			be.Delay(300 * time.Millisecond)
			be.FailNthSave(1)
			var warned []string
			rec := &warnRecorder{warn: func(p string) { warned = append(warned, p) }}
			res, err := Backup(ctx, repo, []string{src}, Options{Progress: rec})
			if err == nil || errors.Is(err, ErrSomeUnreadable) || res != nil {
				t.Fatalf("Backup = %v, %v; want the repository's error and no snapshot", res, err)
			}
			if !errors.Is(err, faulty.ErrInjected) {
				t.Errorf("Backup error %v does not carry the backend's failure", err)
			}
			if len(warned) > 0 {
				t.Errorf("files reported unreadable for a repository failure: %v", warned)
			}
		})
	}
}

type warnRecorder struct {
	mu   sync.Mutex
	warn func(string)
}

func (r *warnRecorder) Start(string, ui.Counts) {}
func (r *warnRecorder) Add(ui.Counts)           {}
func (r *warnRecorder) Item(string)             {}
func (r *warnRecorder) Warn(p string, _ error)  { r.mu.Lock(); r.warn(p); r.mu.Unlock() }
func (r *warnRecorder) Finish()                 {}

// TestFileChangedWhileRead: a file written to between the open and the end
// of its read is saved as read, warned about, counted and listed in the
// snapshot; files left alone are not; the next backup reads it again
// without a warning.
func TestFileChangedWhileRead(t *testing.T) {
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name   string
		change func(t *testing.T, path string) // runs right after the open
	}{
		{"appended", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte("INSERT INTO penduduk VALUES (2);\n")); err != nil {
				t.Fatal(err)
			}
		}},
		{"rewritten in place", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("UPDATE"), 0); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			live := filepath.Join(src, "siak.db")
			quiet := filepath.Join(src, "quiet.txt")
			testutil.WriteFile(t, live, bytes.Repeat([]byte("INSERT INTO penduduk VALUES (1);\n"), 1000))
			testutil.WriteFile(t, quiet, []byte("tidak berubah"))
			for _, p := range []string{live, quiet} {
				// Old times, so the change moves them even within the
				// file system's timestamp granularity.
				if err := os.Chtimes(p, old, old); err != nil {
					t.Fatal(err)
				}
			}
			prevHook := testOpenHook
			testOpenHook = func(p string) (*fsmeta.File, error) {
				f, err := fsmeta.OpenNoFollow(p)
				if err == nil && p == live {
					tc.change(t, p)
				}
				return f, err
			}
			t.Cleanup(func() { testOpenHook = prevHook })
			var warned []string
			prog := &warnRecorder{warn: func(p string) { warned = append(warned, p) }}
			repo := newRepo(t)
			res, err := Backup(context.Background(), repo, []string{src}, Options{Progress: prog})
			if err != nil {
				t.Fatal(err)
			}
			sn := res.Snapshot
			if len(sn.ChangedWhileRead) != 1 || sn.ChangedWhileRead[0] != live || sn.Summary.FilesChangedWhileRead != 1 {
				t.Fatalf("changed while read: %q (count %d), want only %s", sn.ChangedWhileRead, sn.Summary.FilesChangedWhileRead, live)
			}
			if len(warned) != 1 || warned[0] != live {
				t.Errorf("warnings for %q, want one for %s", warned, live)
			}
			want, err := os.ReadFile(live)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]byte{}
			readBack(t, repo, sn.Tree, "", got)
			if !bytes.Equal(got[filepath.ToSlash(live)], want) {
				t.Errorf("saved %d bytes, want the %d read", len(got[filepath.ToSlash(live)]), len(want))
			}

			testOpenHook = prevHook
			warned = nil
			again, err := Backup(context.Background(), repo, []string{src}, Options{Progress: prog, Parent: sn, ParentID: res.ID})
			if err != nil {
				t.Fatal(err)
			}
			if s := again.Snapshot.Summary; s.FilesChanged != 1 || s.FilesUnchanged != 1 || s.FilesChangedWhileRead != 0 || len(warned) != 0 {
				t.Errorf("next backup: %d changed, %d unchanged, %d changed while read, warnings %q; want 1, 1, 0, none",
					s.FilesChanged, s.FilesUnchanged, s.FilesChangedWhileRead, warned)
			}
		})
	}
}
