// Package location turns a repository location string ("/srv/repo",
// "local:/srv/repo") into a backend. It is the one place where backends are
// registered; later kinds (rest:, s3:) are added here.
package location

import (
	"context"
	"fmt"
	"strings"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
)

// Parsed is a location split into its scheme and the rest.
type Parsed struct {
	Scheme string // "local"
	Path   string
}

// Parse splits s. A string without a known scheme is a local path.
func Parse(s string) (Parsed, error) {
	if s == "" {
		return Parsed{}, fmt.Errorf("no repository given: use --repo or set LUMBUNG_REPOSITORY")
	}
	if rest, ok := strings.CutPrefix(s, "local:"); ok {
		if rest == "" {
			return Parsed{}, fmt.Errorf("repository %q: empty path", s)
		}
		return Parsed{Scheme: "local", Path: rest}, nil
	}
	for _, scheme := range []string{"rest:", "s3:", "sftp:"} {
		if strings.HasPrefix(s, scheme) {
			return Parsed{}, fmt.Errorf("repository %q: the %s backend is not available in this version", s, strings.TrimSuffix(scheme, ":"))
		}
	}
	return Parsed{Scheme: "local", Path: s}, nil
}

// Open opens the backend of an existing repository.
func Open(ctx context.Context, s string) (backend.Backend, error) {
	p, err := Parse(s)
	if err != nil {
		return nil, err
	}
	return local.Open(ctx, p.Path)
}

// Create makes the storage for a new repository.
func Create(ctx context.Context, s string) (backend.Backend, error) {
	p, err := Parse(s)
	if err != nil {
		return nil, err
	}
	return local.Create(ctx, p.Path)
}
