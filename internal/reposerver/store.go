package reposerver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
)

// Store gives the server the storage of each named repository. The default
// is LocalStore; any backend.Backend works behind it (an S3 bucket with a
// prefix per repository, for instance). Names are validated before a Store
// sees them.
type Store interface {
	// Open returns the storage of an existing repository, or an error
	// matching backend.ErrNotExist when there is none.
	Open(ctx context.Context, name string) (backend.Backend, error)
	// Create makes the storage of a new repository; an error matching
	// backend.ErrExists when a complete one (with a config) exists.
	Create(ctx context.Context, name string) (backend.Backend, error)
	// OpenUnfinished returns the storage Create made for name before the
	// repository's config was stored, so the writer creating it can go on
	// after a server restart; backend.ErrNotExist when there is none.
	OpenUnfinished(ctx context.Context, name string) (backend.Backend, error)
}

// LocalStore keeps each repository in DIR/<name> with the local backend.
type LocalStore struct{ Dir string }

// Open opens DIR/name.
func (l LocalStore) Open(ctx context.Context, name string) (backend.Backend, error) {
	be, err := local.Open(ctx, filepath.Join(l.Dir, name))
	if err != nil {
		return nil, err
	}
	return be, nil
}

// OpenUnfinished opens DIR/name whether or not it has a config yet.
func (l LocalStore) OpenUnfinished(ctx context.Context, name string) (backend.Backend, error) {
	be, err := local.OpenUnfinished(ctx, filepath.Join(l.Dir, name))
	if err != nil {
		return nil, err
	}
	return be, nil
}

// Create makes DIR/name. A directory left without a config by an
// interrupted init (its keys were written, its config never) is moved
// aside to DIR/.abandoned-<name>-<time>, never deleted: it holds nothing a
// snapshot needs, but the server does not destroy data on a writer's word.
func (l LocalStore) Create(ctx context.Context, name string) (backend.Backend, error) {
	dir := filepath.Join(l.Dir, name)
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create repository %s: %w", name, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
		return nil, fmt.Errorf("repository %s already exists: %w", name, backend.ErrExists)
	}
	be, err := local.Create(ctx, dir)
	if errors.Is(err, fs.ErrExist) {
		aside := filepath.Join(l.Dir, ".abandoned-"+name+"-"+strconv.FormatInt(time.Now().UnixNano(), 10))
		if rerr := os.Rename(dir, aside); rerr != nil {
			return nil, fmt.Errorf("create repository %s: %w (moving the incomplete one aside failed: %v)", name, err, rerr)
		}
		be, err = local.Create(ctx, dir)
	}
	if err != nil {
		return nil, err
	}
	return be, nil
}
