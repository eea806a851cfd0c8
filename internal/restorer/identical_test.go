package restorer_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/restorer"
)

// TestSkipIdentical: restoring again into a target that holds part of the
// snapshot keeps the files whose content is the snapshot's (same inode,
// metadata set again) and rewrites the rest, including a file tampered
// with in place with its size and mtime kept, as ransomware may.
func TestSkipIdentical(t *testing.T) {
	src := t.TempDir()
	old := time.Date(2024, 6, 20, 8, 0, 0, 0, time.UTC)
	files := map[string][]byte{
		"siak.sql":           randBytes(1, 9<<20), // several blobs
		"arsip/surat.txt":    []byte("Kepada Yth. Bupati\n"),
		"arsip/nota.txt":     []byte("nota dinas\n"),
		"arsip/kosong.txt":   nil,
		"keuangan/dana.xlsx": randBytes(2, 200<<10),
	}
	for rel, data := range files {
		writeFile(t, filepath.Join(src, rel), data, 0o640)
		setTime(t, filepath.Join(src, rel), old)
	}
	if err := os.Link(filepath.Join(src, "arsip", "surat.txt"), filepath.Join(src, "surat-link.txt")); err != nil {
		t.Fatal(err)
	}
	root, repo, _ := backup(t, src)
	target := newTarget(t)
	first := restore(t, repo, root, restorer.Options{Target: target})
	in := func(rel string) string { return filepath.Join(target, src, rel) }
	inode := func(rel string) uint64 {
		m, err := fsmeta.Lstat(in(rel))
		if err != nil {
			t.Fatal(err)
		}
		return m.Inode
	}

	// Tampered in place: same size, same mtime, other bytes.
	tampered := append([]byte(nil), files["keuangan/dana.xlsx"]...)
	tampered[100<<10] ^= 0xff
	writeFile(t, in("keuangan/dana.xlsx"), tampered, 0o640)
	setTime(t, in("keuangan/dana.xlsx"), old)
	if err := os.Remove(in("arsip/nota.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(in("siak.sql"), 0o666); err != nil {
		t.Fatal(err)
	}
	keptInodes := map[string]uint64{"siak.sql": inode("siak.sql"), "arsip/surat.txt": inode("arsip/surat.txt"), "arsip/kosong.txt": inode("arsip/kosong.txt")}
	rewritten := inode("keuangan/dana.xlsx")

	again := restore(t, repo, root, restorer.Options{Target: target, SkipIdentical: true})
	compareTrees(t, src, filepath.Join(target, src))
	if again.Files != first.Files || again.Kept != 3 {
		t.Errorf("second restore: %d files, %d kept; want %d files, 3 kept (siak.sql, surat.txt, kosong.txt)", again.Files, again.Kept, first.Files)
	}
	for rel, ino := range keptInodes {
		if got := inode(rel); got != ino {
			t.Errorf("%s was rewritten (inode %d, was %d), want it kept", rel, got, ino)
		}
	}
	if inode("keuangan/dana.xlsx") == rewritten {
		t.Error("the tampered file was kept: its content differs from the snapshot's")
	}
	if without := restore(t, repo, root, restorer.Options{Target: target}); without.Kept != 0 {
		t.Errorf("without SkipIdentical %d files were kept", without.Kept)
	}
}
