package repository_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden repository of the current format version")

const goldenPassword = "lumbung-golden"

// goldenFiles is the content of the golden snapshot, by path below the
// snapshot's single directory "golden". It must never change for a version
// already released: later versions must keep reading exactly this.
func goldenFiles() map[string][]byte {
	files := map[string][]byte{
		"siak.sql":            bytes.Repeat([]byte("3201010101010001\tBudi Santoso\tSukamaju\t1980-01-01\n"), 30000),
		"kosong.txt":          {},
		"surat/2024/a.txt":    []byte("Surat edaran nomor 1\n"),
		"surat/2024/caf\xe9":  []byte("non-UTF-8 name\n"),
		"arsip/scan-001.pdf":  pseudoRandom(3<<20 + 77),
		"arsip/nama spasi.md": []byte("# judul\n"),
	}
	return files
}

func pseudoRandom(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func goldenDir(version int) string {
	return filepath.Join("testdata", "golden", fmt.Sprintf("v%d", version))
}

// TestGoldenRepository opens the repository written by every format version
// and checks every file of its snapshot byte for byte. Run with -update to
// write the current version's repository (only when adding a new version).
func TestGoldenRepository(t *testing.T) {
	ctx := context.Background()
	if *updateGolden {
		writeGolden(t)
	}
	for v := 1; v <= repository.FormatVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			be, err := local.Open(ctx, goldenDir(v))
			if err != nil {
				t.Fatalf("golden repository of format %d is missing: %v", v, err)
			}
			repo, err := repository.Open(ctx, be, []byte(goldenPassword), repository.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := repo.LoadIndex(ctx, nil); err != nil {
				t.Fatal(err)
			}
			sn, err := repo.FindSnapshot(ctx, "latest", repository.SnapshotFilter{})
			if err != nil {
				t.Fatal(err)
			}
			root, err := repo.LoadTree(ctx, sn.Tree)
			if err != nil {
				t.Fatal(err)
			}
			// The root mirrors the absolute source path; descend to "golden".
			g := root.Find("golden")
			for depth := 0; g == nil && len(root.Nodes) == 1 && root.Nodes[0].Type == repository.NodeDir && depth < 10; depth++ {
				if root, err = repo.LoadTree(ctx, root.Nodes[0].Subtree); err != nil {
					t.Fatal(err)
				}
				g = root.Find("golden")
			}
			if g == nil || g.Type != repository.NodeDir {
				t.Fatal("golden directory missing")
			}
			got := map[string][]byte{}
			collectFiles(t, repo, g.Subtree, "", got)
			want := goldenFiles()
			for p, w := range want {
				if !bytes.Equal(got[p], w) {
					t.Errorf("%q differs or is missing", p)
				}
			}
			if len(got) != len(want) {
				t.Errorf("snapshot has %d files, want %d", len(got), len(want))
			}
		})
	}
}

func collectFiles(t *testing.T, repo *repository.Repository, tree crypto.ID, dir string, out map[string][]byte) {
	t.Helper()
	tr, err := repo.LoadTree(context.Background(), tree)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tr.Nodes {
		p := n.Name
		if dir != "" {
			p = dir + "/" + n.Name
		}
		switch n.Type {
		case repository.NodeDir:
			collectFiles(t, repo, n.Subtree, p, out)
		case repository.NodeFile:
			var data []byte
			for _, id := range n.Content {
				if data, err = repo.LoadBlob(context.Background(), id, data); err != nil {
					t.Fatal(err)
				}
			}
			out[p] = data
		}
	}
}

func writeGolden(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	dir := goldenDir(repository.FormatVersion)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "golden")
	for p, data := range goldenFiles() {
		full := filepath.Join(src, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, time.Unix(1700000000, 0), time.Unix(1700000000, 0)); err != nil {
			t.Fatal(err)
		}
	}
	be, err := local.Create(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := repository.Init(ctx, be, []byte(goldenPassword), repository.Options{KDF: crypto.TestKDF, PackSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archiver.Backup(ctx, repo, []string{src}, archiver.Options{Hostname: "golden", Time: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	// Keep only what git stores: drop empty directories and temp files.
	_ = os.RemoveAll(filepath.Join(dir, "tmp"))
	_ = os.RemoveAll(filepath.Join(dir, "locks"))
}
