package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/location"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// repoFlags are the flags of commands that open a repository.
type repoFlags struct {
	repo         string
	passwordFile string
}

func (r *repoFlags) register(f *flags) {
	f.StringVar(&r.repo, "repo", "", "repository location, e.g. /srv/lumbung/repo (or LUMBUNG_REPOSITORY)")
	f.StringVar(&r.passwordFile, "password-file", "", "read the password from this file (or LUMBUNG_PASSWORD_FILE, LUMBUNG_PASSWORD)")
}

func (r *repoFlags) location(e *env) (string, error) {
	if r.repo == "" {
		r.repo = e.getenv("LUMBUNG_REPOSITORY")
	}
	if r.repo == "" {
		return "", usagef("no repository given: use --repo DIR or set LUMBUNG_REPOSITORY")
	}
	return r.repo, nil
}

// options returns repository options; the insecure test KDF is only for the
// test suite, which sets LUMBUNG_INSECURE_TEST_KDF=1.
func repoOptions(e *env) repository.Options {
	if e.getenv("LUMBUNG_INSECURE_TEST_KDF") == "1" {
		return repository.Options{KDF: crypto.TestKDF}
	}
	return repository.Options{}
}

// password reads the password: --password-file, LUMBUNG_PASSWORD_FILE,
// LUMBUNG_PASSWORD, or a prompt on the terminal (twice when confirm).
func (r *repoFlags) password(e *env, prompt string, confirm bool) ([]byte, error) {
	file := r.passwordFile
	if file == "" {
		file = e.getenv("LUMBUNG_PASSWORD_FILE")
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read password file: %w", err)
		}
		pw := bytes.TrimRight(data, "\r\n")
		if len(pw) == 0 {
			return nil, fmt.Errorf("password file %s is empty", file)
		}
		return pw, nil
	}
	if pw := e.getenv("LUMBUNG_PASSWORD"); pw != "" {
		return []byte(pw), nil
	}
	return readPasswordTTY(e, prompt, confirm)
}

func readPasswordTTY(e *env, prompt string, confirm bool) ([]byte, error) {
	in, ok := e.stdin.(*os.File)
	if !ok || !ui.IsTerminal(in) {
		return nil, usagef("no password given: use --password-file, LUMBUNG_PASSWORD_FILE or LUMBUNG_PASSWORD (no terminal to ask on)")
	}
	fmt.Fprint(e.stderr, prompt)
	pw, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if len(pw) == 0 {
		return nil, errors.New("empty password")
	}
	if confirm {
		fmt.Fprint(e.stderr, "Ulangi kata sandi / repeat password: ")
		again, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		if !bytes.Equal(pw, again) {
			return nil, errors.New("the two passwords differ; nothing was created")
		}
	}
	return pw, nil
}

// open opens the repository and loads its index.
func (r *repoFlags) open(ctx context.Context, e *env, loadIndex bool) (*repository.Repository, error) {
	loc, err := r.location(e)
	if err != nil {
		return nil, err
	}
	be, err := openBackend(ctx, e, loc)
	if err != nil {
		return nil, openError{fmt.Errorf("open repository %s: %w", loc, err)}
	}
	if err := repository.CheckFormat(ctx, be); err != nil {
		return nil, openError{err}
	}
	pw, err := r.password(e, "Kata sandi repositori / repository password: ", false)
	if err != nil {
		return nil, err
	}
	repo, err := repository.Open(ctx, be, pw, repoOptions(e))
	if err != nil {
		if errors.Is(err, crypto.ErrWrongPassword) {
			return nil, fmt.Errorf("%w: the password does not open any key of %s; check the password file or LUMBUNG_PASSWORD", crypto.ErrWrongPassword, loc)
		}
		return nil, openError{fmt.Errorf("open repository %s: %w", loc, err)}
	}
	if loadIndex {
		if err := loadRepoIndex(ctx, e, repo); err != nil {
			return nil, err
		}
	}
	return repo, nil
}

// loadRepoIndex loads the index, warning about (and skipping) unreadable
// index files.
func loadRepoIndex(ctx context.Context, e *env, repo *repository.Repository) error {
	if err := repo.LoadIndex(ctx, func(id crypto.ID, err error) {
		fmt.Fprintf(e.stderr, "warning: index %s is unreadable (%v); run `lumbung check`\n", id.Short(), err)
	}); err != nil {
		return fmt.Errorf("load index: %w", err)
	}
	return nil
}

// lockShared takes the shared lock of backup, check and restore (see
// docs/format.md, "Locks") and returns the function that releases it; call
// it on every path out of the command, including errors and interrupts
// (Lock.Unlock removes the file even when ctx is cancelled).
//
// noLock is the command's --no-lock flag, nil for commands that write and so
// must lock. When it is set, nothing is locked: that is for repositories on
// read-only storage, where no lock file can be written.
//
// Callers take the lock before loading the index, so that maintenance (which
// takes an exclusive lock) cannot remove what the command then reads.
func lockShared(ctx context.Context, e *env, repo *repository.Repository, noLock *bool) (unlock func(), err error) {
	if noLock != nil && *noLock {
		return func() {}, nil
	}
	lock, err := repo.Lock(ctx, false)
	if err != nil && noLock != nil && errors.Is(err, backend.ErrPermission) {
		// A read-only credential (a server's read token, read-only S3
		// keys) may not write a lock: reading goes on without one, as
		// with --no-lock.
		fmt.Fprintf(e.stderr, "note: this credential may not write a lock file, so none is taken (as with --no-lock): %v\n", err)
		return func() {}, nil
	}
	if err != nil {
		if noLock != nil && !errors.Is(err, repository.ErrLocked) && ctx.Err() == nil {
			err = fmt.Errorf("%w (if the repository is on read-only storage, run again with --no-lock)", err)
		}
		return nil, err
	}
	return func() {
		if err := lock.Unlock(ctx); err != nil {
			fmt.Fprintf(e.stderr, "warning: %v; it is ignored after %v, or remove it with `lumbung unlock`\n", err, repository.LockStaleAfter)
		}
	}, nil
}

// openBackend opens the storage at loc with the credentials of the
// command's environment (LUMBUNG_TOKEN, AWS_ACCESS_KEY_ID, ...).
func openBackend(ctx context.Context, e *env, loc string) (backend.Backend, error) {
	cred, err := location.CredentialsFromEnv(e.getenv)
	if err != nil {
		return nil, err
	}
	return location.OpenWith(ctx, loc, cred)
}

// createBackend makes the storage for a new repository at loc.
func createBackend(ctx context.Context, e *env, loc string) (backend.Backend, error) {
	cred, err := location.CredentialsFromEnv(e.getenv)
	if err != nil {
		return nil, err
	}
	return location.CreateWith(ctx, loc, cred)
}
