package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path"

	"github.com/lumbung-id/lumbung/internal/dump"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// runDump writes one file of a snapshot to standard output, or a directory
// (or the whole snapshot, "/") as a tar archive: a database dump goes
// straight back into the database without a restore target, and an archive
// can be carried or piped elsewhere.
func runDump(ctx context.Context, e *env, args []string) error {
	f := newFlags("dump")
	var rd readFlags
	rd.register(f, "read")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) != 2 {
		return usagef("usage: lumbung dump --repo R SNAPSHOT PATH > OUT (a file's content, or a tar archive of a directory), " +
			"e.g. lumbung dump latest /siak.sql | psql siak")
	}
	p := path.Clean("/" + f.args[1])
	src, err := rd.open(ctx, e, f.args[0])
	if err != nil {
		return err
	}
	defer src.unlock()
	n, err := dump.Lookup(ctx, src.repo, src.sn.Tree, p)
	if err != nil {
		return fmt.Errorf("%w (snapshot %s; `lumbung ls %s` lists what it holds)", err, src.sn.ID.Short(), src.sn.ID.Short())
	}
	if n != nil && n.Type == repository.NodeSymlink {
		return fmt.Errorf("%s is a symbolic link to %q: dump the path it points to", p, n.LinkTarget)
	}
	isFile := n != nil && n.Type == repository.NodeFile
	if !isFile && ui.IsTerminal(e.stdout) {
		return usagef("%s is a directory: its tar archive would go to the terminal; redirect it (> arsip.tar) or pipe it (| tar x)", p)
	}
	// Progress goes to standard error, and only when it is a terminal:
	// standard output carries the data.
	prog := ui.Choose(false, nil, e.stderr)
	var total ui.Counts
	if isFile {
		total = ui.Counts{Files: 1, Bytes: int64(n.Size)}
	}
	prog.Start("dump", total)
	defer prog.Finish()
	out := bufio.NewWriterSize(progressWriter{e.stdout, prog}, 1<<20)
	if isFile {
		if err = dump.File(ctx, src.repo, n, out); err == nil {
			prog.Add(ui.Counts{Files: 1})
		}
	} else {
		skip := func(p string, err error) { prog.Warn(p, fmt.Errorf("left out: %w", err)) }
		if n == nil {
			err = dump.TarTree(ctx, src.repo, src.sn.Tree, out, skip)
		} else {
			err = dump.Tar(ctx, src.repo, p, n, out, skip)
		}
	}
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write standard output: %w", ferr)
	}
	if err != nil {
		return fmt.Errorf("dump %s of snapshot %s: %w", p, src.sn.ID.Short(), err)
	}
	return nil
}

// progressWriter counts what passes through it as progress.
type progressWriter struct {
	w    io.Writer
	prog ui.Progress
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.prog.Add(ui.Counts{Bytes: int64(n)})
	return n, err
}
