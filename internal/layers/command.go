package layers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// CommandTailBytes is how much of a failing command's standard error is
// kept for the error message: enough for pg_dump's last message, not a
// flood.
const CommandTailBytes = 2000

// commandWaitDelay bounds the wait for a command's pipes after it exited
// or was killed: a child that keeps them open must not hang the backup.
const commandWaitDelay = 10 * time.Second

// ErrCommandFailed matches the error of a dataset command that could not
// start or exited non-zero.
var ErrCommandFailed = errors.New("dataset command failed")

// CommandSource is a running dataset command (run directly, no shell)
// whose standard output is read. At the end of the output it waits for the
// command and turns a non-zero exit into the read error, so that a reader
// such as the archiver never takes a cut-short dump for a whole one.
type CommandSource struct {
	dataset string
	cmd     *exec.Cmd
	out     io.ReadCloser
	stderr  *tailBuffer
	cancel  context.CancelFunc

	done bool  // the output ended and the command was waited for
	err  error // the command's failure, once done
}

// StartCommand starts the command of dataset d. The caller reads the
// source and must Close it.
func StartCommand(ctx context.Context, d *Dataset) (*CommandSource, error) {
	if len(d.Command) == 0 {
		return nil, fmt.Errorf("dataset %s has no command", d.Name)
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, d.Command[0], d.Command[1:]...)
	stderr := &tailBuffer{max: CommandTailBytes}
	cmd.Stderr = stderr
	cmd.WaitDelay = commandWaitDelay
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("dataset %s: command: %w", d.Name, err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("dataset %s: start command %q: %w (%w)", d.Name, d.Command[0], err, ErrCommandFailed)
	}
	return &CommandSource{dataset: d.Name, cmd: cmd, out: out, stderr: stderr, cancel: cancel}, nil
}

// Read reads the command's standard output. After the last byte it returns
// io.EOF if the command exited 0, else a *CommandError.
func (c *CommandSource) Read(p []byte) (int, error) {
	if c.done {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n, err := c.out.Read(p)
	if err != io.EOF {
		return n, err
	}
	c.finish()
	if c.err != nil {
		return n, c.err
	}
	return n, io.EOF
}

// finish waits for the command and records its failure.
func (c *CommandSource) finish() {
	c.done = true
	if werr := c.cmd.Wait(); werr != nil {
		tail := strings.Join(strings.Fields(c.stderr.String()), " ")
		if tail == "" {
			tail = "(nothing on its standard error)"
		}
		c.err = &CommandError{Dataset: c.dataset, Command: c.cmd.Args[0], Err: werr, StderrTail: tail}
	}
	c.cancel()
}

// Err is the command's failure once its output was read to the end (or
// the source closed); nil while it runs or when it exited 0.
func (c *CommandSource) Err() error { return c.err }

// Close stops a command whose output was not read to the end (killing it)
// and waits for it. It returns the command's failure; a command stopped
// this way counts as failed.
func (c *CommandSource) Close() error {
	if !c.done {
		c.cancel()
		c.finish()
	}
	return c.err
}

// CommandError is a dataset command that exited non-zero (or was killed).
type CommandError struct {
	Dataset, Command string
	Err              error
	// StderrTail is the end of its standard error, on one line.
	StderrTail string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("dataset %s: command %q failed (%v), no snapshot was saved; its standard error ends: %s", e.Dataset, e.Command, e.Err, e.StderrTail)
}

// Unwrap matches ErrCommandFailed and the exit error.
func (e *CommandError) Unwrap() []error { return []error{ErrCommandFailed, e.Err} }

// BackupCommand runs the command of dataset d and backs up its standard
// output as one file (d.StdinFilename, default the dataset name). A
// command that exits non-zero fails the backup before a snapshot is saved:
// its output may be cut short, and a truncated dump must not look like a
// whole one.
func BackupCommand(ctx context.Context, repo archiver.Repo, d *Dataset, opts archiver.Options) (*archiver.Result, error) {
	name := d.StdinFilename
	if name == "" {
		name = d.Name
	}
	src, err := StartCommand(ctx, d)
	if err != nil {
		return nil, err
	}
	// The failure is the command's error; the archiver's warning about
	// the same read would only repeat it.
	if opts.Progress != nil {
		opts.Progress = commandProgress{opts.Progress}
	}
	res, err := archiver.BackupReader(ctx, repo, src, name, opts)
	readAll := src.done
	cerr := src.Close()
	switch {
	case readAll && cerr != nil:
		return nil, cerr
	case err != nil:
		// The archiver stopped first (and Close stopped the command): its
		// error is the cause.
		return res, err
	case cerr != nil:
		return nil, cerr
	}
	return res, nil
}

// commandProgress passes progress on but drops the warning about the
// failed command's output, which the command's error says better.
type commandProgress struct{ ui.Progress }

func (p commandProgress) Warn(path string, err error) {
	if errors.Is(err, ErrCommandFailed) {
		return
	}
	p.Progress.Warn(path, err)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
