package main

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// treeDigest returns path -> sha256 for every regular file under dir.
func treeDigest(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalTrees(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDeterministicGenerateAndMutate(t *testing.T) {
	const size = 8 * MiB
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if _, err := generate(d, 42, size); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := generate(c, 43, size); err != nil {
		t.Fatal(err)
	}
	da := treeDigest(t, a)
	if !equalTrees(da, treeDigest(t, b)) {
		t.Fatal("same seed produced different corpora")
	}
	if equalTrees(da, treeDigest(t, c)) {
		t.Fatal("different seeds produced the same corpus")
	}

	var total int64
	var small, media int
	for rel := range da {
		fi, err := os.Stat(filepath.Join(a, rel))
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
		switch {
		case strings.HasPrefix(rel, "docs/"):
			small++
			if fi.Size() < 1024 || fi.Size() > 64*1024 {
				t.Errorf("small file %s has size %d", rel, fi.Size())
			}
		case strings.HasPrefix(rel, "media/"):
			media++
		}
	}
	if total < size*98/100 || total > size*103/100 {
		t.Errorf("corpus is %d bytes, want ~%d", total, size)
	}
	if small < 100 || media < 1 {
		t.Errorf("unexpected mix: %d small files, %d media files", small, media)
	}

	for step := 1; step <= 3; step++ {
		for _, d := range []string{a, b} {
			if _, err := mutate(d, 42, size, step); err != nil {
				t.Fatal(err)
			}
		}
	}
	ma := treeDigest(t, a)
	if !equalTrees(ma, treeDigest(t, b)) {
		t.Fatal("same mutation steps produced different corpora")
	}
	changed, added := 0, 0
	for rel, h := range ma {
		old, ok := da[rel]
		switch {
		case !ok:
			added++
		case old != h:
			changed++
		}
	}
	if added != 3*6 {
		t.Errorf("added %d files after 3 steps, want 18", added)
	}
	if changed < 3 {
		t.Errorf("only %d files changed after 3 steps", changed)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1G": GiB, "256M": 256 * MiB, "200MiB": 200 * MiB, "1.5g": 3 * GiB / 2, "4096": 4096, "64k": 64 * KiB} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSize("lots"); err == nil {
		t.Error("parseSize(lots) succeeded")
	}
}
