// Command lumbung is the one Lumbung binary: backup, restore and check of
// encrypted, deduplicated repositories. This package only parses flags,
// calls the internal packages and prints; it holds no business logic.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/dump"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/zstdenc"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes (docs/cli.md). They are a public contract: scripts rely on them.
const (
	exitOK            = 0
	exitFailed        = 1
	exitUsage         = 2
	exitPartial       = 3 // snapshot saved, some files unreadable
	exitLayers        = 4 // snapshot saved in the first layer, some other layers did not receive it
	exitUnprotected   = 5 // status: a dataset does not meet 3-2-1-1-0
	exitNoRepository  = 10
	exitWrongPassword = 11
	exitLocked        = 12
	exitInterrupted   = 130
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

func commands() []command {
	return []command{
		{"init", "create a new repository", runInit},
		{"backup", "save files or standard input as a new snapshot", runBackup},
		{"snapshots", "list snapshots", runSnapshots},
		{"ls", "list the files in a snapshot", runLs},
		{"diff", "show what changed between two snapshots", runDiff},
		{"find", "find files by name or path in every snapshot", runFind},
		{"restore", "restore a snapshot into a directory", runRestore},
		{"dump", "write a file of a snapshot, or a directory as a tar archive, to standard output", runDump},
		{"check", "verify the repository's structure and, optionally, every byte", runCheck},
		{"copy", "copy snapshots of a dataset from one layer to another", runCopy},
		{"export", "write or verify the offline copy of a dataset (removable disk)", runExport},
		{"status", "show every dataset's layers and its 3-2-1-1-0 verdict", runStatus},
		{"retention", "extend the Object Lock retention of every object of s3: layers", runRetention},
		{"key", "add, list or remove passwords (key slots)", runKey},
		{"cat", "print the config or a snapshot as JSON", runCat},
		{"unlock", "remove locks left by crashed processes", runUnlock},
		{"serve", "run the append-only repository server (the regional layer)", runServe},
		{"token", "create, list or revoke repository server tokens", runToken},
		{"demo", "make sample data, back it up, change it, back it up again, restore and verify", runDemo},
		{"version", "print the version", runVersion},
	}
}

// env is what commands share: output streams and the process environment.
type env struct {
	stdin          io.Reader
	stdout, stderr *os.File
	getenv         func(string) string
}

func main() {
	if os.Getenv("GOGC") == "" {
		// Backups hold a few large, long-lived buffers and little garbage;
		// a tighter GC goal keeps peak memory low at almost no CPU cost.
		debug.SetGCPercent(50)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfiling := startProfiling(os.Getenv)
	code := runMain(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stopProfiling()
	stop()
	os.Exit(code)
}

func runMain(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			return report(e, c.name, err)
		}
	}
	fmt.Fprintf(e.stderr, "lumbung: unknown command %q; run `lumbung help` for the list\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "lumbung — encrypted, deduplicated backups that outlast ransomware")
	fmt.Fprintln(w, "\nUsage: lumbung COMMAND [flags] [args]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `lumbung COMMAND --help` for a command's flags. Exit codes: 0 ok, 1 failed, 2 usage,")
	fmt.Fprintln(w, "3 snapshot saved but some files unreadable, 10 no repository, 11 wrong password, 12 locked.")
	fmt.Fprintln(w, "4 backup saved but some layers did not receive it, 5 a dataset does not meet 3-2-1-1-0 (status).")
}

// usageError marks mistakes in how the command was called.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// report prints err as one clear line and maps it to an exit code.
func report(e *env, cmd string, err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	code := exitFailed
	switch {
	case errors.Is(err, errHelp):
		var h helpShown
		if errors.As(err, &h) {
			fmt.Fprint(e.stdout, h.usage)
		}
		return exitOK
	case errors.As(err, &ue):
		code = exitUsage
	case errors.Is(err, archiver.ErrSomeUnreadable), errors.Is(err, dump.ErrSomeLeftOut):
		code = exitPartial
	case errors.Is(err, errLayersFailed):
		code = exitLayers
	case errors.Is(err, errUnprotected):
		code = exitUnprotected
	case errors.Is(err, context.Canceled):
		code = exitInterrupted
		if cmd == "backup" {
			err = errors.New("interrupted; nothing half-written is visible: the next backup reuses what was stored")
		} else {
			err = fmt.Errorf("interrupted: %w", err)
		}
	case errors.Is(err, crypto.ErrWrongPassword):
		code = exitWrongPassword
	case errors.Is(err, repository.ErrLocked):
		code = exitLocked
	case errors.Is(err, backend.ErrNotExist) && isOpenError(err):
		code = exitNoRepository
	}
	if code == exitPartial {
		fmt.Fprintf(e.stderr, "lumbung %s: warning: %v\n", cmd, err)
	} else {
		fmt.Fprintf(e.stderr, "lumbung %s: %v\n", cmd, err)
	}
	return code
}

// openError marks errors from opening a repository.
type openError struct{ err error }

func (o openError) Error() string { return o.err.Error() }
func (o openError) Unwrap() error { return o.err }

func isOpenError(err error) bool {
	var oe openError
	return errors.As(err, &oe)
}

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlags("version")
	if err := fs.parse(args); err != nil {
		return err
	}
	p := fs.printer(e)
	return p.Result(map[string]string{"version": version, "format_version": fmt.Sprint(repository.FormatVersion), "zstd": zstdenc.Implementation}, func(w io.Writer) {
		fmt.Fprintf(w, "lumbung %s (repository format %d; compression: %s)\n", version, repository.FormatVersion, zstdenc.Implementation)
	})
}
