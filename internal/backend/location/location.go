// Package location turns a repository location string ("/srv/repo",
// "local:/srv/repo", "rest:https://...", "s3:...") into a backend. It is the
// one place where backend kinds are registered.
package location

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
)

// Credentials are the secrets a remote backend needs. The layers config
// resolves them from its references; the CLI reads them from the
// environment (CredentialsFromEnv). They never appear in a location string,
// so locations can be logged and shown.
type Credentials struct {
	Token     string // rest: the bearer token of a repository server
	AccessKey string // s3: access key id
	SecretKey string // s3: secret access key
	// SessionToken goes with temporary (STS) keys; only ever taken from the
	// same place as the keys, so it never pairs with keys it was not
	// issued for.
	SessionToken string
}

// CredentialsFromEnv reads LUMBUNG_TOKEN (or the file named by
// LUMBUNG_TOKEN_FILE) and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN through getenv (os.Getenv, or a test's own environment).
func CredentialsFromEnv(getenv func(string) string) (Credentials, error) {
	c := Credentials{
		Token:     getenv("LUMBUNG_TOKEN"),
		AccessKey: getenv("AWS_ACCESS_KEY_ID"),
		SecretKey: getenv("AWS_SECRET_ACCESS_KEY"),

		SessionToken: getenv("AWS_SESSION_TOKEN"),
	}
	if f := getenv("LUMBUNG_TOKEN_FILE"); f != "" && c.Token == "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return c, fmt.Errorf("read token file (LUMBUNG_TOKEN_FILE): %w", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	return c, nil
}

// opener opens (create=false) or makes the storage for (create=true) the
// repository at rest, the part of the location after "scheme:".
type opener func(ctx context.Context, rest string, cred Credentials, create bool) (backend.Backend, error)

// openers holds every backend kind by scheme. Each kind adds one line.
var openers = map[string]opener{
	"local": openLocal,
	"rest":  openREST,
	"s3":    openS3,
}

func openLocal(ctx context.Context, path string, _ Credentials, create bool) (backend.Backend, error) {
	if create {
		return local.Create(ctx, path)
	}
	return local.Open(ctx, path)
}

// Parsed is a location split into its scheme and the rest.
type Parsed struct {
	Scheme string // "local", "rest", "s3"
	Path   string // everything after "scheme:"
}

// Parse splits s. A string without a known scheme is a local path (so
// "C:\backup" on Windows stays a path).
func Parse(s string) (Parsed, error) {
	if s == "" {
		return Parsed{}, fmt.Errorf("no repository given: use --repo or set LUMBUNG_REPOSITORY")
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || len(scheme) < 2 {
		return Parsed{Scheme: "local", Path: s}, nil
	}
	if _, known := openers[scheme]; !known {
		switch scheme {
		case "rest", "s3", "sftp":
			return Parsed{}, fmt.Errorf("repository %q: the %s backend is not available in this version", s, scheme)
		}
		return Parsed{Scheme: "local", Path: s}, nil
	}
	if rest == "" {
		return Parsed{}, fmt.Errorf("repository %q: nothing after %q", s, scheme+":")
	}
	return Parsed{Scheme: scheme, Path: rest}, nil
}

// Open opens the backend of an existing repository with credentials from
// the environment.
func Open(ctx context.Context, s string) (backend.Backend, error) {
	cred, err := CredentialsFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	return OpenWith(ctx, s, cred)
}

// Create makes the storage for a new repository with credentials from the
// environment.
func Create(ctx context.Context, s string) (backend.Backend, error) {
	cred, err := CredentialsFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	return CreateWith(ctx, s, cred)
}

// OpenWith opens the backend of an existing repository.
func OpenWith(ctx context.Context, s string, cred Credentials) (backend.Backend, error) {
	p, err := Parse(s)
	if err != nil {
		return nil, err
	}
	return openers[p.Scheme](ctx, p.Path, cred, false)
}

// CreateWith makes the storage for a new repository.
func CreateWith(ctx context.Context, s string, cred Credentials) (backend.Backend, error) {
	p, err := Parse(s)
	if err != nil {
		return nil, err
	}
	return openers[p.Scheme](ctx, p.Path, cred, true)
}

// ResumeCreateWith continues the creation of a repository at s that stopped
// before its config was saved: a first mirror copy that was killed, failed
// or paused by its time window after CreateWith made the storage, leaving
// it neither empty (so CreateWith refuses it) nor a repository (so OpenWith
// finds none). The storage may hold nothing but the layout, key files whose
// names are in keys (the source repository's: files are named by their
// hash, so these are the same repository's keys) and temporary files.
// ResumeCreateWith then saves config there (the same repository's config,
// byte for byte) and opens it; the copy goes on with whatever is missing.
// Anything else is refused with an error matching backend.ErrExists, and
// nothing there is ever deleted. Only local directories can be resumed so
// far; other kinds get the ErrExists error.
func ResumeCreateWith(ctx context.Context, s string, cred Credentials, keys map[string]bool, config []byte) (backend.Backend, error) {
	p, err := Parse(s)
	if err != nil {
		return nil, err
	}
	if p.Scheme != "local" {
		return nil, fmt.Errorf("resume creating the repository at %s: not supported for %s: locations yet; empty it or choose a new one: %w", s, p.Scheme, backend.ErrExists)
	}
	if err := finishLocal(ctx, p.Path, keys, config); err != nil {
		return nil, err
	}
	return local.Open(ctx, p.Path)
}

// finishLocal checks that dir holds an unfinished repository of keys,
// completes its layout and saves config without replacing one.
func finishLocal(ctx context.Context, dir string, keys map[string]bool, config []byte) error {
	refuse := func(why string) error {
		return fmt.Errorf("resume creating the repository at %s: %s, so it is not an interrupted copy of this repository; choose a new or empty directory: %w", dir, why, backend.ErrExists)
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
		return nil // finished meanwhile (by another copy): open it
	}
	found, ok, err := local.UnfinishedKeys(dir)
	if err != nil {
		return fmt.Errorf("resume creating the repository at %s: %w", dir, err)
	}
	if !ok {
		return refuse("it holds data files, or files that are not a repository's")
	}
	for _, k := range found {
		if !keys[k] {
			return refuse(fmt.Sprintf("it holds key %s, which the source does not have", k))
		}
	}
	// A creation killed early may have made only part of the layout.
	l, err := local.OpenUnfinished(ctx, dir)
	if err != nil {
		return fmt.Errorf("resume creating the repository at %s: %w", dir, err)
	}
	// Saved like every file: never replacing a config saved meanwhile.
	if err := l.Save(ctx, backend.Handle{Type: backend.ConfigFile}, config); err != nil && !errors.Is(err, backend.ErrExists) {
		return fmt.Errorf("resume creating the repository at %s: save config: %w", dir, err)
	}
	return nil
}
