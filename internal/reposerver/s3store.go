package reposerver

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/s3"
)

// S3Store keeps each repository under its own prefix of one S3 bucket:
// repository NAME lives at Base's prefix + "/NAME", with Base's retention
// (COMPLIANCE Object Lock) on every object. The server holds the bucket's
// keys; agents only ever hold tokens for the server.
type S3Store struct {
	Base s3.Config // bucket, prefix, retention and the server's keys
}

// NewS3Store parses a location such as
// "https://s3.example:9000/bucket/lumbung?retention=30d" (the part after
// "s3:") and takes the keys the server uses.
func NewS3Store(rest, accessKey, secretKey string) (S3Store, error) {
	cfg, err := s3.ParseLocation(rest)
	if err != nil {
		return S3Store{}, err
	}
	if accessKey == "" || secretKey == "" {
		return S3Store{}, errors.New("S3 storage needs the server's keys: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	cfg.AccessKey, cfg.SecretKey = accessKey, secretKey
	return S3Store{Base: cfg}, nil
}

func (s S3Store) config(name string) s3.Config {
	cfg := s.Base
	cfg.Prefix = path.Join(cfg.Prefix, name)
	return cfg
}

// Open opens the repository's prefix; backend.ErrNotExist when it has no
// config.
func (s S3Store) Open(ctx context.Context, name string) (backend.Backend, error) {
	be, err := s3.Open(ctx, s.config(name))
	if err != nil {
		return nil, err
	}
	return be, nil
}

// OpenUnfinished opens the repository's prefix whether or not it holds a
// config yet (a prefix has no existence of its own on S3).
func (s S3Store) OpenUnfinished(ctx context.Context, name string) (backend.Backend, error) {
	be, err := s3.New(ctx, s.config(name))
	if err != nil {
		return nil, err
	}
	return be, nil
}

// Create makes a new repository under its prefix. A prefix that holds
// objects but no config is what an init interrupted after its key slots
// leaves; objects under Object Lock cannot be moved aside, and nothing there
// is needed (key slots whose master key opens no config are passed over when
// the repository is opened), so the new init goes on in the same place.
func (s S3Store) Create(ctx context.Context, name string) (backend.Backend, error) {
	cfg := s.config(name)
	be, err := s3.Create(ctx, cfg)
	if err == nil {
		return be, nil
	}
	if !errors.Is(err, backend.ErrExists) {
		return nil, err
	}
	if _, oerr := s3.Open(ctx, cfg); oerr == nil {
		return nil, fmt.Errorf("repository %s already exists: %w", name, backend.ErrExists)
	} else if !errors.Is(oerr, backend.ErrNotExist) {
		return nil, oerr
	}
	b, err := s3.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return b, nil
}
