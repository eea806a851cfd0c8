package dump

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/testutil"
)

// backedUp backs up a small tree: a file of many blobs (more than the load
// window), small files, a hard link, a symlink, an empty directory and,
// where the file system keeps them, an extended attribute.
func backedUp(t *testing.T) (repo *repository.Repository, src string, sn *repository.Snapshot, xattr bool) {
	t.Helper()
	ctx := context.Background()
	src = t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "db", "siak.sql"), testutil.RandBytes(1, 12<<20))
	testutil.WriteFile(t, filepath.Join(src, "docs", "surat.txt"), []byte("Kepada Yth. Bupati\n"))
	testutil.WriteFile(t, filepath.Join(src, "docs", "kosong.txt"), nil)
	if err := os.Link(filepath.Join(src, "docs", "surat.txt"), filepath.Join(src, "surat-link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("docs/surat.txt", filepath.Join(src, "pintasan")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(src, "arsip"), 0o750); err != nil {
		t.Fatal(err)
	}
	xattr = fsmeta.SetXattrsPath(filepath.Join(src, "docs", "surat.txt"), []fsmeta.Xattr{{Name: "user.kategori", Value: []byte("rahasia")}}, fsmeta.IsRoot()) == nil
	repo, err := repository.Init(ctx, mem.New(), []byte("pw"), repository.Options{KDF: crypto.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	res, err := archiver.Backup(ctx, repo, []string{src}, archiver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return repo, src, res.Snapshot, xattr
}

func TestFileAndTarRoundTrip(t *testing.T) {
	ctx := context.Background()
	repo, src, sn, xattr := backedUp(t)

	big := filepath.Join(src, "db", "siak.sql")
	n, err := Lookup(ctx, repo, sn.Tree, big)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Content) <= 8 {
		t.Fatalf("the big file has %d blobs; the test needs more than the load window", len(n.Content))
	}
	var out bytes.Buffer
	if err := File(ctx, repo, n, &out); err != nil {
		t.Fatal(err)
	}
	if want, _ := os.ReadFile(big); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("File wrote %d bytes that differ from the %d of the source", out.Len(), len(want))
	}

	dir, err := Lookup(ctx, repo, sn.Tree, src)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Tar(ctx, repo, src, dir, &out, func(p string, err error) { t.Errorf("left out %s: %v", p, err) }); err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimPrefix(src, "/")
	got := map[string]*tar.Header{}
	contents := map[string][]byte{}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		contents[h.Name], _ = io.ReadAll(tr)
	}
	for name, check := range map[string]func(h *tar.Header) error{
		rel + "/": func(h *tar.Header) error { return want(h.Typeflag == tar.TypeDir, "a directory") },
		rel + "/arsip/": func(h *tar.Header) error {
			return want(h.Typeflag == tar.TypeDir && h.Mode == 0o750, "a directory of mode 750")
		},
		rel + "/db/siak.sql": func(h *tar.Header) error {
			data, _ := os.ReadFile(big)
			return want(h.Typeflag == tar.TypeReg && bytes.Equal(contents[h.Name], data), "the big file's content")
		},
		rel + "/docs/kosong.txt": func(h *tar.Header) error { return want(h.Typeflag == tar.TypeReg && h.Size == 0, "an empty file") },
		rel + "/pintasan": func(h *tar.Header) error {
			return want(h.Typeflag == tar.TypeSymlink && h.Linkname == "docs/surat.txt", "the symlink")
		},
		rel + "/docs/surat.txt": func(h *tar.Header) error {
			fi, _ := os.Stat(filepath.Join(src, "docs", "surat.txt"))
			ok := h.Typeflag == tar.TypeReg && string(contents[h.Name]) == "Kepada Yth. Bupati\n" && h.ModTime.Equal(fi.ModTime())
			if xattr {
				ok = ok && h.PAXRecords["SCHILY.xattr.user.kategori"] == "rahasia"
			}
			return want(ok, "the letter with its content, mtime (to the nanosecond) and attribute")
		},
		rel + "/surat-link.txt": func(h *tar.Header) error {
			return want(h.Typeflag == tar.TypeLink && h.Linkname == rel+"/docs/surat.txt", "a hard link to docs/surat.txt")
		},
	} {
		h, ok := got[name]
		if !ok {
			t.Errorf("%s missing from the archive", name)
			continue
		}
		if err := check(h); err != nil {
			t.Errorf("%s: %v (header %+v)", name, err, *h)
		}
	}
	if len(got) != 9 {
		t.Errorf("the archive has %d entries, want 9: %v", len(got), keys(got))
	}
}

func want(ok bool, what string) error {
	if !ok {
		return fmt.Errorf("want %s", what)
	}
	return nil
}

func keys(m map[string]*tar.Header) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// failingRepo fails LoadBlob for one blob, as a damaged pack does.
type failingRepo struct {
	Repo
	bad crypto.ID
}

func (r failingRepo) LoadBlob(ctx context.Context, id crypto.ID, buf []byte) ([]byte, error) {
	if id == r.bad {
		return nil, repository.ErrDamagedBlob
	}
	return r.Repo.LoadBlob(ctx, id, buf)
}

// TestDamagedBlobStops: a blob that fails verification stops the file and
// the archive with an error naming the file and the part.
func TestDamagedBlobStops(t *testing.T) {
	ctx := context.Background()
	repo, src, sn, _ := backedUp(t)
	big := filepath.Join(src, "db", "siak.sql")
	n, err := Lookup(ctx, repo, sn.Tree, big)
	if err != nil {
		t.Fatal(err)
	}
	bad := failingRepo{Repo: repo, bad: n.Content[5]}
	err = File(ctx, bad, n, io.Discard)
	if !errors.Is(err, repository.ErrDamagedBlob) || !strings.Contains(err.Error(), fmt.Sprintf("part 6 of %d", len(n.Content))) {
		t.Errorf("File: %v, want the damaged blob as part 6", err)
	}
	if err := TarTree(ctx, bad, sn.Tree, io.Discard, nil); !errors.Is(err, repository.ErrDamagedBlob) || !strings.Contains(err.Error(), big) {
		t.Errorf("TarTree: %v, want the damaged blob naming %s", err, big)
	}
}

// fakeRepo serves hand-made trees: what a backup that could not read a
// file, or a forged repository, leaves.
type fakeRepo map[crypto.ID]*repository.Tree

func (f fakeRepo) LoadTree(_ context.Context, id crypto.ID) (*repository.Tree, error) {
	if t, ok := f[id]; ok {
		return t, nil
	}
	return nil, repository.ErrBlobNotFound
}

func (f fakeRepo) LoadBlob(_ context.Context, id crypto.ID, buf []byte) ([]byte, error) {
	return append(buf, id[:]...), nil // every blob is its id's 32 bytes
}

func TestUnreadableAndForged(t *testing.T) {
	ctx := context.Background()
	root := crypto.ID{1}
	blob := crypto.ID{2}
	now := time.Now()
	repo := fakeRepo{root: {Nodes: []*repository.Node{
		{Name: "a.txt", Type: repository.NodeFile, Size: 32, Content: []crypto.ID{blob}, ModTime: now},
		{Name: "bohong.txt", Type: repository.NodeFile, Size: 1 << 20, Content: []crypto.ID{blob}, ModTime: now},
		{Name: "terkunci.db", Type: repository.NodeFile, Error: "permission denied", ModTime: now},
	}}}
	tr := repo[root]

	if err := File(ctx, repo, tr.Nodes[2], io.Discard); !errors.Is(err, ErrNoContent) {
		t.Errorf("File of an unreadable file: %v, want ErrNoContent", err)
	}
	if err := File(ctx, repo, tr.Nodes[1], io.Discard); err == nil || !strings.Contains(err.Error(), "the snapshot says 1048576") {
		t.Errorf("File of a node whose blobs do not add up to its size: %v, want an error", err)
	}
	var skipped []string
	withoutForged := fakeRepo{root: {Nodes: []*repository.Node{tr.Nodes[0], tr.Nodes[2]}}}
	var out bytes.Buffer
	err := TarTree(ctx, withoutForged, root, &out, func(p string, _ error) { skipped = append(skipped, p) })
	if !errors.Is(err, ErrSomeLeftOut) || len(skipped) != 1 || skipped[0] != "/terkunci.db" {
		t.Fatalf("TarTree: %v, skipped %q; want ErrSomeLeftOut for /terkunci.db", err, skipped)
	}
	r := tar.NewReader(&out)
	if h, err := r.Next(); err != nil || h.Name != "a.txt" {
		t.Fatalf("first entry %v %v, want a.txt", h, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after a.txt: %v, want the end of a complete archive", err)
	}
	if _, err := Lookup(ctx, repo, root, "/tidak/ada"); !errors.Is(err, ErrNotInSnapshot) {
		t.Errorf("Lookup of a missing path: %v, want ErrNotInSnapshot", err)
	}
	if _, err := Lookup(ctx, repo, root, "/a.txt/x"); !errors.Is(err, ErrNotInSnapshot) {
		t.Errorf("Lookup below a file: %v, want ErrNotInSnapshot", err)
	}
}
