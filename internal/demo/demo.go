// Package demo runs Lumbung's main job end to end on generated sample data,
// so a new user sees the product work in one command with no set-up.
//
// It makes a small Pemda-like data set, backs it up, changes it, backs it
// up again, restores the latest snapshot and verifies every byte (layer 1,
// the local repository). Then it shows the layered backup: it starts a real
// repository server (`lumbung serve`) in process on loopback with a
// self-signed certificate and an append token, replicates to it (layer 2),
// writes an offline export (layer 3), prints the 3-2-1-1-0 status, deletes
// the local repository as ransomware would and restores from the server.
//
// It only ever writes inside its own work directory, never listens beyond
// 127.0.0.1, and stops its server before it returns, also when interrupted.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/checker"
	"github.com/lumbung-id/lumbung/internal/dump"
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
	// Version is the lumbung version recorded in the export's manifest.
	Version string
}

// Step is one line of the demo's --json output.
type Step struct {
	MessageType string         `json:"message_type"`
	Step        string         `json:"step"`
	Detail      string         `json:"detail"`
	Data        map[string]any `json:"data,omitempty"`
}

// ErrVerifyFailed means the restored data differs from the source, or a
// layer's verification found damage.
var ErrVerifyFailed = errors.New("restored data differs from the source")

// demoPassword protects the demo repository; it is printed so the user can
// explore the repository with the CLI afterwards.
const demoPassword = "demo-lumbung"

// run is one demo run: its options, output and the places it works in.
type run struct {
	o Options
	p *ui.Printer
	// src is the sample data; repoDir layer 1; target the first restore.
	src, repoDir, target string
	// serverDir is the repository server's data; exportDir layer 3;
	// serverTarget the restore from the server.
	serverDir, exportDir, serverTarget string
}

// Run executes the demo.
func Run(ctx context.Context, o Options) error {
	if o.SizeMiB <= 0 {
		o.SizeMiB = 64
	}
	if o.Version == "" {
		o.Version = "demo"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "lumbung-demo-")
		if err != nil {
			return fmt.Errorf("make work directory: %w", err)
		}
		o.Dir = d
	}
	// The layers config wants absolute paths, and printed paths should
	// work from any directory.
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("work directory %s: %w", o.Dir, err)
	}
	o.Dir = dir
	r := &run{
		o: o, p: ui.NewPrinter(o.Out, o.JSON),
		src:       filepath.Join(dir, "data", "pemda-contoh"),
		repoDir:   filepath.Join(dir, "repo"),
		target:    filepath.Join(dir, "restore"),
		serverDir: filepath.Join(dir, "server"),
		exportDir: filepath.Join(dir, "export"),
		// Restored from the server after the local repository is gone.
		serverTarget: filepath.Join(dir, "restore-server"),
	}
	for _, d := range []string{r.repoDir, r.target, r.serverDir, r.exportDir, r.serverTarget} {
		if _, err := os.Stat(d); err == nil {
			return fmt.Errorf("%s already exists: give an empty --dir or remove it", d)
		}
	}
	l1, err := r.localLayer(ctx)
	if err != nil {
		return err
	}
	return r.layered(ctx, l1)
}

// say prints one step: a line of text, or one JSON object.
func (r *run) say(step, detail string, data map[string]any) {
	r.sayMore(step, detail, data, nil)
}

// sayMore is say with indented extra lines under the text.
func (r *run) sayMore(step, detail string, data map[string]any, more []string) {
	_ = r.p.Result(Step{MessageType: "demo", Step: step, Detail: detail, Data: data}, func(w io.Writer) {
		fmt.Fprintf(w, "» %s\n", detail)
		for _, m := range more {
			fmt.Fprintf(w, "    %s\n", m)
		}
	})
}

// localResult is what the first part of the demo leaves for the layers.
type localResult struct {
	latest *archiver.Result
	check  *checker.Report
}

// localLayer is the original demo: two backups into the local repository,
// a restore verified byte for byte and a full check.
func (r *run) localLayer(ctx context.Context) (*localResult, error) {
	r.say("generate", fmt.Sprintf("Membuat data contoh Pemda (~%d MiB) / making sample Pemda data in %s", r.o.SizeMiB, r.src), nil)
	if err := generate(r.src, r.o.SizeMiB, 1); err != nil {
		return nil, fmt.Errorf("make sample data: %w", err)
	}

	be, err := local.Create(ctx, r.repoDir)
	if err != nil {
		return nil, err
	}
	defer be.Close()
	repo, err := repository.Init(ctx, be, []byte(demoPassword), repository.Options{})
	if err != nil {
		return nil, err
	}
	r.say("init", fmt.Sprintf("Lapisan 1, repositori lokal terenkripsi dibuat / layer 1, the encrypted local repository, created at %s (password %q)", r.repoDir, demoPassword), map[string]any{"repository": r.repoDir})

	first, err := r.backup(ctx, repo, nil)
	if err != nil {
		return nil, err
	}
	s := first.Snapshot.Summary
	r.say("backup-1", fmt.Sprintf("Backup pertama / first backup: snapshot %s, %d files, %s read, %s stored after dedup+compression, %s",
		first.ID.Short(), s.TotalFiles, ui.FormatBytes(s.TotalBytes), ui.FormatBytes(s.DataAddedPack), s.End.Sub(s.Start).Round(time.Millisecond)),
		map[string]any{"snapshot": first.ID.String(), "summary": s})

	r.say("change", "Mengubah data / changing data: editing the population dump, adding letters, deleting a file", nil)
	deleted := filepath.Join(r.src, deletedFile)
	deletedData, err := os.ReadFile(deleted)
	if err != nil {
		return nil, fmt.Errorf("read sample data: %w", err)
	}
	if err := mutate(r.src); err != nil {
		return nil, fmt.Errorf("change sample data: %w", err)
	}

	second, err := r.backup(ctx, repo, first)
	if err != nil {
		return nil, err
	}
	s = second.Snapshot.Summary
	r.say("backup-2", fmt.Sprintf("Backup kedua / second backup: snapshot %s, %d new, %d changed, %d unchanged files (not re-read), %s new data stored, %s",
		second.ID.Short(), s.FilesNew, s.FilesChanged, s.FilesUnchanged, ui.FormatBytes(s.DataAddedPack), s.End.Sub(s.Start).Round(time.Millisecond)),
		map[string]any{"snapshot": second.ID.String(), "summary": s})

	res, err := restorer.Restore(ctx, repo, second.Snapshot.Tree, restorer.Options{Target: r.target})
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	r.say("restore", fmt.Sprintf("Dipulihkan / restored %d files (%s) to %s", res.Files, ui.FormatBytes(res.Bytes), r.target), nil)

	n, err := compareTrees(r.src, restoredPath(r.target, r.src))
	if err != nil {
		return nil, err
	}
	r.say("verify", fmt.Sprintf("Terverifikasi / verified: %d files identical byte for byte", n), map[string]any{"files": n})

	// The file deleted before the second backup is still in the first
	// snapshot: what `lumbung find` and `lumbung dump` give an admin.
	node, err := dump.Lookup(ctx, repo, first.Snapshot.Tree, filepath.ToSlash(deleted))
	if err != nil {
		return nil, fmt.Errorf("%w: the deleted file is not in the first snapshot: %v", ErrVerifyFailed, err)
	}
	var back bytes.Buffer
	if err := dump.File(ctx, repo, node, &back); err != nil {
		return nil, err
	}
	if !bytes.Equal(back.Bytes(), deletedData) {
		return nil, fmt.Errorf("%w: %s from the first snapshot differs from the deleted file", ErrVerifyFailed, deleted)
	}
	r.say("undelete", fmt.Sprintf("Berkas yang dihapus masih ada di snapshot pertama / the deleted %s is still in the first snapshot, identical (%s): lumbung find %s; lumbung dump %s %s > %s",
		deletedFile, ui.FormatBytes(int64(back.Len())), filepath.Base(deleted), first.ID.Short(), filepath.ToSlash(deleted), filepath.Base(deleted)),
		map[string]any{"snapshot": first.ID.String(), "path": filepath.ToSlash(deleted)})

	rep, err := checker.Check(ctx, repo, checker.Options{ReadData: true})
	if err != nil {
		return nil, err
	}
	if !rep.OK() {
		return nil, fmt.Errorf("%w: check of the local repository found %d errors", ErrVerifyFailed, len(rep.Errors))
	}
	r.say("check", fmt.Sprintf("Pemeriksaan repositori / repository check: %d packs read and verified, no errors", rep.Packs), nil)
	return &localResult{latest: second, check: rep}, nil
}

func (r *run) backup(ctx context.Context, repo *repository.Repository, parent *archiver.Result) (*archiver.Result, error) {
	opts := archiver.Options{Tags: []string{"demo"}, Dataset: datasetName, ProgramVersion: "lumbung demo"}
	if parent != nil {
		opts.Parent, opts.ParentID = parent.Snapshot, parent.ID
	}
	if !r.o.JSON {
		if f, ok := r.o.Stderr.(*os.File); ok {
			opts.Progress = ui.Choose(false, nil, f)
		}
	}
	res, err := archiver.Backup(ctx, repo, []string{r.src}, opts)
	if opts.Progress != nil {
		opts.Progress.Finish()
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return res, nil
}
