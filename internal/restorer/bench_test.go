package restorer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
)

// countingRepo counts the backend Loads a restore makes.
type countingRepo struct {
	*repository.Repository
	be *countingBackend
}

func (r countingRepo) Backend() backend.Backend { return r.be }

type countingBackend struct {
	backend.Backend
	loads atomic.Int64
}

func (b *countingBackend) Load(ctx context.Context, h backend.Handle, off, n int64) ([]byte, error) {
	b.loads.Add(1)
	return b.Backend.Load(ctx, h, off, n)
}

// BenchmarkRestore restores data from a local backend in a temporary
// directory: random (incompressible, stored raw) and text-like
// (zstd-compressed) large files, and many small files.
//
//	go test -run '^$' -bench Restore -benchtime 3x ./internal/restorer/
func BenchmarkRestore(b *testing.B) {
	const total = 512 << 20
	cases := []struct {
		name  string
		files int
		gen   func(i, n int) []byte
	}{
		{"random-512MiB", 8, func(i, n int) []byte { return randBytes(uint64(i), n) }},
		{"text-512MiB", 8, textBytes},
		{"small-files-20000x8KiB", 20000, func(i, n int) []byte { return randBytes(uint64(i), 8<<10) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			src := filepath.Join(dir, "src")
			var size int64
			for i := range tc.files {
				data := tc.gen(i, total/tc.files)
				size += int64(len(data))
				writeFile(b, filepath.Join(src, fmt.Sprintf("d%02d", i%50), fmt.Sprintf("f%05d", i)), data, 0o644)
			}
			be, err := local.Create(ctx, filepath.Join(dir, "repo"))
			if err != nil {
				b.Fatal(err)
			}
			repo, err := repository.Init(ctx, be, password, repoOpts)
			if err != nil {
				b.Fatal(err)
			}
			res, err := archiver.Backup(ctx, repo, []string{src}, archiver.Options{})
			if err != nil {
				b.Fatal(err)
			}
			repo = reopen(b, be)
			cb := &countingBackend{Backend: be}
			b.SetBytes(size)
			b.ResetTimer()
			for i := range b.N {
				target := filepath.Join(dir, fmt.Sprintf("restore%d", i))
				out, err := restorer.Restore(ctx, countingRepo{repo, cb}, res.Snapshot.Tree, restorer.Options{Target: target})
				if err != nil || out.Bytes != size {
					b.Fatalf("restore: %v (%d of %d bytes)", err, out.Bytes, size)
				}
				b.StopTimer()
				os.RemoveAll(target)
				b.StartTimer()
			}
			b.ReportMetric(float64(cb.loads.Load())/float64(b.N), "loads/op")
		})
	}
}

// textBytes is compressible, text-like data (CSV rows of a population
// register).
func textBytes(i, n int) []byte {
	var sb strings.Builder
	sb.Grow(n + 200)
	r := randBytes(uint64(i), n/8)
	names := []string{"Budi", "Siti", "Agus", "Dewi", "Rudi", "Sri", "Joko", "Wati", "Andi", "Rina"}
	places := []string{"Bandung", "Bogor", "Depok", "Bekasi", "Cirebon", "Garut", "Tasikmalaya", "Sukabumi"}
	for k := 0; sb.Len() < n; k++ {
		x := r[k%len(r)]
		fmt.Fprintf(&sb, "32%02d%02d%010d;%s %s;%s;%04d-%02d-%02d\n", x%27, k%99, k*7919+int(x),
			names[int(x)%len(names)], names[(k+int(x))%len(names)], places[k%len(places)], 1940+int(x)%80, 1+k%12, 1+int(x)%28)
	}
	return []byte(sb.String()[:n])
}
