// Package demo runs Lumbung's main job end to end on generated sample data:
// it makes a small Pemda-like data set, backs it up, changes it, backs it up
// again, restores the latest snapshot and verifies every byte. It exists so a
// new user sees the product work in one command with no set-up.
//
// It only ever writes inside its own work directory.
package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/checker"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// Options configure the demo.
type Options struct {
	Dir     string // work directory; empty means a new temporary one
	SizeMiB int
	Out     io.Writer
	Stderr  io.Writer
	JSON    bool
}

// Step is one line of the demo's --json output.
type Step struct {
	MessageType string         `json:"message_type"`
	Step        string         `json:"step"`
	Detail      string         `json:"detail"`
	Data        map[string]any `json:"data,omitempty"`
}

// ErrVerifyFailed means the restored data differs from the source.
var ErrVerifyFailed = errors.New("restored data differs from the source")

// demoPassword protects the demo repository; it is printed so the user can
// explore the repository with the CLI afterwards.
const demoPassword = "demo-lumbung"

// Run executes the demo.
func Run(ctx context.Context, o Options) error {
	if o.SizeMiB <= 0 {
		o.SizeMiB = 64
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "lumbung-demo-")
		if err != nil {
			return fmt.Errorf("make work directory: %w", err)
		}
		o.Dir = d
	}
	p := ui.NewPrinter(o.Out, o.JSON)
	say := func(step, detail string, data map[string]any) {
		_ = p.Result(Step{MessageType: "demo", Step: step, Detail: detail, Data: data}, func(w io.Writer) {
			fmt.Fprintf(w, "» %s\n", detail)
		})
	}
	src := filepath.Join(o.Dir, "data", "pemda-contoh")
	repoDir := filepath.Join(o.Dir, "repo")
	target := filepath.Join(o.Dir, "restore")
	for _, d := range []string{repoDir, target} {
		if _, err := os.Stat(d); err == nil {
			return fmt.Errorf("%s already exists: give an empty --dir or remove it", d)
		}
	}

	say("generate", fmt.Sprintf("Membuat data contoh Pemda (~%d MiB) / making sample Pemda data in %s", o.SizeMiB, src), nil)
	if err := generate(src, o.SizeMiB, 1); err != nil {
		return err
	}

	be, err := local.Create(ctx, repoDir)
	if err != nil {
		return err
	}
	repo, err := repository.Init(ctx, be, []byte(demoPassword), repository.Options{})
	if err != nil {
		return err
	}
	say("init", fmt.Sprintf("Repositori terenkripsi dibuat / encrypted repository created at %s (password %q)", repoDir, demoPassword), map[string]any{"repository": repoDir})

	first, err := backup(ctx, repo, src, nil, o)
	if err != nil {
		return err
	}
	s := first.Snapshot.Summary
	say("backup-1", fmt.Sprintf("Backup pertama / first backup: snapshot %s, %d files, %s read, %s stored after dedup+compression, %s",
		first.ID.Short(), s.TotalFiles, ui.FormatBytes(s.TotalBytes), ui.FormatBytes(s.DataAddedPack), s.End.Sub(s.Start).Round(time.Millisecond)),
		map[string]any{"snapshot": first.ID.String(), "summary": s})

	say("change", "Mengubah data / changing data: editing the population dump, adding letters, deleting a file", nil)
	if err := mutate(src); err != nil {
		return err
	}

	second, err := backup(ctx, repo, src, first, o)
	if err != nil {
		return err
	}
	s = second.Snapshot.Summary
	say("backup-2", fmt.Sprintf("Backup kedua / second backup: snapshot %s, %d new, %d changed, %d unchanged files (not re-read), %s new data stored, %s",
		second.ID.Short(), s.FilesNew, s.FilesChanged, s.FilesUnchanged, ui.FormatBytes(s.DataAddedPack), s.End.Sub(s.Start).Round(time.Millisecond)),
		map[string]any{"snapshot": second.ID.String(), "summary": s})

	res, err := restorer.Restore(ctx, repo, second.Snapshot.Tree, restorer.Options{Target: target})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	restored := filepath.Join(target, strings.TrimPrefix(filepath.ToSlash(src), "/"))
	say("restore", fmt.Sprintf("Dipulihkan / restored %d files (%s) to %s", res.Files, ui.FormatBytes(res.Bytes), target), nil)

	n, err := compareTrees(src, restored)
	if err != nil {
		return err
	}
	say("verify", fmt.Sprintf("Terverifikasi / verified: %d files identical byte for byte", n), map[string]any{"files": n})

	rep, err := checker.Check(ctx, repo, checker.Options{ReadData: true})
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("check found %d errors", len(rep.Errors))
	}
	say("check", fmt.Sprintf("Pemeriksaan repositori / repository check: %d packs read and verified, no errors", rep.Packs), nil)
	say("done", fmt.Sprintf("Selesai / done. Try: LUMBUNG_PASSWORD=%s go run ./cmd/lumbung snapshots --repo %s", demoPassword, repoDir), map[string]any{"dir": o.Dir})
	return nil
}

func backup(ctx context.Context, repo *repository.Repository, src string, parent *archiver.Result, o Options) (*archiver.Result, error) {
	opts := archiver.Options{Tags: []string{"demo"}, ProgramVersion: "lumbung demo"}
	if parent != nil {
		opts.Parent, opts.ParentID = parent.Snapshot, parent.ID
	}
	if !o.JSON {
		if f, ok := o.Stderr.(*os.File); ok {
			opts.Progress = ui.Choose(false, nil, f)
		}
	}
	res, err := archiver.Backup(ctx, repo, []string{src}, opts)
	if opts.Progress != nil {
		opts.Progress.Finish()
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return res, nil
}

// compareTrees checks that every file under a exists under b with the same
// bytes and mode, and that b has nothing extra. It returns the file count.
func compareTrees(a, b string) (int, error) {
	seen := map[string]bool{}
	n := 0
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		seen[rel] = true
		if !d.Type().IsRegular() {
			return nil
		}
		ha, err := fileHash(p)
		if err != nil {
			return err
		}
		hb, err := fileHash(filepath.Join(b, rel))
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrVerifyFailed, rel, err)
		}
		if ha != hb {
			return fmt.Errorf("%w: %s", ErrVerifyFailed, rel)
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	err = filepath.WalkDir(b, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b, p)
		if !seen[rel] {
			return fmt.Errorf("%w: unexpected %s", ErrVerifyFailed, rel)
		}
		return nil
	})
	return n, err
}

func fileHash(p string) ([32]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, err
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

var (
	firstNames = []string{"Budi", "Siti", "Agus", "Dewi", "Eko", "Sri", "Ahmad", "Nur", "Wahyu", "Rina", "Made", "Ketut", "Putu", "Yohanes", "Maria", "Fajar", "Indah", "Rudi", "Lestari", "Hendra"}
	lastNames  = []string{"Santoso", "Wijaya", "Saputra", "Lestari", "Hidayat", "Siregar", "Nasution", "Pratama", "Kusuma", "Simanjuntak", "Wibowo", "Sulistyo", "Harahap", "Gultom", "Rahmawati"}
	villages   = []string{"Sukamaju", "Sukajadi", "Mekarsari", "Cibeureum", "Karangasem", "Tanjungsari", "Sidorejo", "Margamulya"}
	opds       = []string{"dukcapil", "bappeda", "dinkes", "disdik", "bpkad", "dinsos"}
)

// generate writes a sample resembling a kabupaten's file server: a
// population database dump, letters and reports per OPD, and scanned
// documents (incompressible).
func generate(dir string, sizeMiB int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 2024))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	total := int64(sizeMiB) << 20
	// 40%: the SIAK dump.
	if err := writeDump(filepath.Join(dir, "dukcapil", "siak.sql"), total*4/10, r); err != nil {
		return err
	}
	// 25%: letters and reports.
	var written int64
	for i := 0; written < total/4; i++ {
		opd := opds[i%len(opds)]
		name := filepath.Join(dir, opd, fmt.Sprintf("surat/%d/surat-%04d.txt", 2020+i%5, i))
		var b bytes.Buffer
		fmt.Fprintf(&b, "PEMERINTAH KABUPATEN CONTOH\n%s\nNomor: %d/%s/%d\nPerihal: Laporan kegiatan\n\n", strings.ToUpper(opd), i, opd, 2020+i%5)
		for j := 0; j < 20+r.IntN(200); j++ {
			fmt.Fprintf(&b, "Bahwa warga %s %s dari Desa %s telah menerima layanan pada tanggal %d-%02d-%02d.\n",
				firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))], villages[r.IntN(len(villages))], 2020+r.IntN(5), 1+r.IntN(12), 1+r.IntN(28))
		}
		if err := writeFile(name, b.Bytes()); err != nil {
			return err
		}
		written += int64(b.Len())
	}
	// The rest: scanned documents.
	for i := 0; written < total*6/10; i++ {
		n := 256<<10 + r.IntN(2<<20)
		data := make([]byte, n)
		for k := range data {
			data[k] = byte(r.Uint32())
		}
		copy(data, "%PDF-1.7\n")
		if err := writeFile(filepath.Join(dir, "arsip", fmt.Sprintf("scan-%03d.pdf", i)), data); err != nil {
			return err
		}
		written += int64(n)
	}
	return os.MkdirAll(filepath.Join(dir, "kosong"), 0o755) // an empty directory is kept too
}

func writeDump(name string, size int64, r *rand.Rand) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("-- PostgreSQL database dump\nCOPY penduduk (nik, nama, desa, tgl_lahir) FROM stdin;\n")
	for int64(b.Len()) < size {
		fmt.Fprintf(&b, "32%014d\t%s %s\t%s\t%d-%02d-%02d\n", r.Int64N(1e14), firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))],
			villages[r.IntN(len(villages))], 1940+r.IntN(80), 1+r.IntN(12), 1+r.IntN(28))
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, data, 0o644)
}

// mutate changes the sample like a working day would.
func mutate(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "dukcapil", "siak.sql"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	for i := range 5000 {
		fmt.Fprintf(f, "3299%012d\tWarga Baru %d\tSukamaju\t2024-06-20\n", i, i)
	}
	if err := f.Close(); err != nil {
		return err
	}
	for i := range 10 {
		if err := writeFile(filepath.Join(dir, "bappeda", "surat", "2025", fmt.Sprintf("baru-%d.txt", i)), []byte(fmt.Sprintf("Surat baru %d\n", i))); err != nil {
			return err
		}
	}
	return os.Remove(filepath.Join(dir, "arsip", "scan-000.pdf"))
}
