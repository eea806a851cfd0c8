package restorer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
)

// posixACL encodes an access ACL as Linux stores it in
// system.posix_acl_access: user::rw-, user:1234:r--, group::r--,
// mask::r--, other::---.
func posixACL() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range [][3]uint32{{0x01, 6, ^uint32(0)}, {0x02, 4, 1234}, {0x04, 4, ^uint32(0)}, {0x10, 4, ^uint32(0)}, {0x20, 0, ^uint32(0)}} {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return b
}

func setXattr(t *testing.T, path, name string, value []byte) {
	t.Helper()
	if err := unix.Lsetxattr(path, name, value, 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			t.Fatalf("the test directory's file system holds no extended attributes (%s): run the tests on ext4, xfs or btrfs", path)
		}
		t.Fatalf("set %s on %s: %v", name, path, err)
	}
}

func xattrsOf(t *testing.T, path string) map[string]string {
	t.Helper()
	xs, err := fsmeta.XattrsPath(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, x := range xs {
		m[x.Name] = string(x.Value)
	}
	return m
}

// Extended attributes — user attributes, POSIX ACLs (what Samba and
// setfacl keep there), and as root file capabilities and trusted ones —
// are backed up with files, directories and symlinks and restored, and a
// re-backup of an unchanged file keeps them without reading the file.
func TestExtendedAttributes(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "data", "warga.csv"), []byte("nik,nama\n"), 0o640)
	writeFile(t, filepath.Join(src, "data", "sk.pdf"), randBytes(3, 2<<20), 0o644)
	if err := os.Symlink("warga.csv", filepath.Join(src, "data", "terbaru")); err != nil {
		t.Fatal(err)
	}
	csv, pdf, dir := filepath.Join(src, "data", "warga.csv"), filepath.Join(src, "data", "sk.pdf"), filepath.Join(src, "data")
	setXattr(t, csv, "user.klasifikasi", []byte("rahasia"))
	setXattr(t, csv, "user.kosong", nil)
	setXattr(t, csv, "system.posix_acl_access", posixACL())
	setXattr(t, pdf, "user.DOSATTRIB", bytes.Repeat([]byte{7}, 300))
	setXattr(t, dir, "system.posix_acl_default", posixACL())
	setXattr(t, dir, "user.dinas", []byte("dukcapil"))
	if fsmeta.IsRoot() {
		// VFS_CAP_REVISION_2 with CAP_NET_RAW permitted.
		capNetRaw := binary.LittleEndian.AppendUint32(nil, 0x02000001)
		for _, v := range []uint32{1 << 13, 0, 0, 0} {
			capNetRaw = binary.LittleEndian.AppendUint32(capNetRaw, v)
		}
		setXattr(t, pdf, "security.capability", capNetRaw)
		setXattr(t, filepath.Join(src, "data", "terbaru"), "trusted.catatan", []byte("link"))
	}
	old := time.Date(2024, 6, 20, 8, 0, 0, 0, time.UTC)
	for _, p := range []string{csv, pdf} {
		setTime(t, p, old)
	}
	want := map[string]map[string]string{}
	for _, p := range []string{csv, pdf, dir, filepath.Join(src, "data", "terbaru")} {
		want[p] = xattrsOf(t, p)
	}

	repo, be := newRepo(t)
	ctx := context.Background()
	first, err := archiver.Backup(ctx, repo, []string{src}, archiver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := archiver.Backup(ctx, reopen(t, be), []string{src}, archiver.Options{Parent: first.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if got := second.Snapshot.Summary.FilesUnchanged; got != 2 {
		t.Fatalf("re-backup: %d files unchanged, want 2", got)
	}
	for i, snap := range []*repository.Snapshot{first.Snapshot, second.Snapshot} {
		target := newTarget(t)
		restore(t, reopen(t, be), snap.Tree, restorer.Options{Target: target})
		compareTrees(t, src, filepath.Join(target, src))
		for p, w := range want {
			got := xattrsOf(t, filepath.Join(target, p))
			if len(got) != len(w) {
				t.Errorf("snapshot %d: %s: extended attributes %q, want %q", i+1, p, got, w)
			}
			for k, v := range w {
				if got[k] != v {
					t.Errorf("snapshot %d: %s: %s = %q, want %q", i+1, p, k, got[k], v)
				}
			}
		}
	}
}

// Files are restored with their own mode bits whatever would decide the
// mode of a new file there: a default ACL on the target (it would give
// 0640 here) or a umask that takes bits away. Files created with their
// final mode skip the fchmod only where neither applies.
func TestModeDespiteDefaultACLAndUmask(t *testing.T) {
	src := t.TempDir()
	modes := map[string]os.FileMode{"a.txt": 0o644, "sub/b.txt": 0o666, "sub/c.sh": 0o755, "d.txt": 0o600}
	for name, mode := range modes {
		writeFile(t, filepath.Join(src, name), []byte(name), mode)
	}
	root, repo, _ := backup(t, src)
	for _, tc := range []struct {
		name       string
		defaultACL bool
		umask      int
	}{
		{"default ACL", true, 0o022},
		{"umask 077", false, 0o077},
		{"umask 022", false, 0o022},
		{"umask 0", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := newTarget(t)
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.defaultACL {
				setXattr(t, target, "system.posix_acl_default", posixACL())
			}
			old := unix.Umask(tc.umask)
			_, err := restorer.Restore(context.Background(), repo, root, restorer.Options{Target: target})
			unix.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			for name, mode := range modes {
				fi, err := os.Lstat(filepath.Join(target, src, name))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != mode {
					t.Errorf("%s: mode %o, want %o", name, fi.Mode().Perm(), mode)
				}
			}
		})
	}
}
