package attacktest

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/testutil"
)

// tree is a copy of the dataset's directory at one backup: path relative
// to the directory (slash-separated) -> content.
type tree map[string][]byte

// history is what the agent backed up: each snapshot's id (the same in
// every layer: they are mirrors) and the tree it holds.
type history struct {
	ids   []crypto.ID
	trees []tree
	// key is the key slot the agent's repository was made with (every
	// layer holds it: they are mirrors).
	key crypto.ID
}

// textBytes is compressible, like the office files of a dinas.
func textBytes(seed uint64, n int) []byte {
	var b bytes.Buffer
	r := rand.New(rand.NewPCG(seed, 7))
	for b.Len() < n {
		b.WriteString("NIK 3201")
		for range 8 {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		b.WriteString(";Kabupaten Bogor;Jawa Barat;status=aktif\n")
	}
	return b.Bytes()[:n]
}

// generations are the changes between backups: generation g writes or
// removes files of the dataset's directory (nil content: remove).
var generations = []map[string][]byte{
	{
		"README.txt":          []byte("Data kependudukan SIAK, jangan dihapus.\n"),
		"dokumen/ktp-001.pdf": testutil.RandBytes(1, 600<<10),
		"dokumen/kk-002.txt":  textBytes(2, 300<<10),
		"db/siak.dump":        testutil.RandBytes(3, 1<<20),
	},
	{
		"db/siak.dump":         patched(testutil.RandBytes(3, 1<<20), 300<<10, testutil.RandBytes(4, 64<<10)),
		"dokumen/akta-003.pdf": testutil.RandBytes(5, 300<<10),
	},
	{
		"dokumen/kk-002.txt":  nil,
		"README.txt":          []byte("Data kependudukan SIAK, jangan dihapus.\nDiperbarui.\n"),
		"laporan/2026/q1.csv": textBytes(6, 100<<10),
		"db/siak.dump":        append(patched(testutil.RandBytes(3, 1<<20), 300<<10, testutil.RandBytes(4, 64<<10)), testutil.RandBytes(7, 128<<10)...),
	},
}

func patched(b []byte, off int, p []byte) []byte {
	copy(b[off:], p)
	return b
}

// backUpAndReplicate does what `lumbung backup --config ... --dataset siak`
// does on the agent: one backup per generation into the first layer, then
// replication to every other layer. It returns the history.
func backUpAndReplicate(t *testing.T, h *host, d *layers.Dataset) *history {
	t.Helper()
	hist := &history{key: h.keyID}
	for g, changes := range generations {
		for rel, data := range changes {
			p := filepath.Join(h.src, filepath.FromSlash(rel))
			if data == nil {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		id := backUp(t, d, hist, time.Now().Add(time.Duration(g-len(generations))*time.Hour))
		hist.ids = append(hist.ids, id)
		hist.trees = append(hist.trees, readTree(t, h.src))
		for _, lc := range layers.ReplicateDataset(t.Context(), d, layers.CopyOptions{}) {
			if !lc.OK() {
				t.Fatalf("replicate backup %d to layer %s: %s %+v", g+1, lc.Layer, lc.Error, lc.Result)
			}
		}
	}
	return hist
}

// backUp makes one snapshot in the first layer, with the previous one as
// parent (unchanged files are not read again, as in daily backups).
func backUp(t *testing.T, d *layers.Dataset, hist *history, at time.Time) crypto.ID {
	t.Helper()
	ctx := t.Context()
	be, err := d.Layers[0].Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	repo, err := repository.Open(ctx, be, []byte(password), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.LoadIndex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	opts := archiver.Options{Dataset: dataset, Hostname: hostname, Time: at}
	if n := len(hist.ids); n > 0 {
		if opts.Parent, err = repo.LoadSnapshot(ctx, hist.ids[n-1]); err != nil {
			t.Fatal(err)
		}
		opts.ParentID = hist.ids[n-1]
	}
	res, err := archiver.Backup(ctx, repo, d.Paths, opts)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return res.ID
}

// readTree copies the regular files below dir.
func readTree(t *testing.T, dir string) tree {
	t.Helper()
	out := tree{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	return out
}
