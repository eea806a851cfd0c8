package location

import (
	"context"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/s3"
)

// openS3 opens "s3:https://host:port/bucket/prefix?retention=30d" with the
// keys (and, for temporary STS keys, the session token) in cred.
func openS3(ctx context.Context, rest string, cred Credentials, create bool) (backend.Backend, error) {
	cfg, err := s3.ParseLocation(rest)
	if err != nil {
		return nil, err
	}
	cfg.AccessKey, cfg.SecretKey, cfg.SessionToken = cred.AccessKey, cred.SecretKey, cred.SessionToken
	open := s3.Open
	if create {
		open = s3.Create
	}
	be, err := open(ctx, cfg)
	if err != nil {
		return nil, err // not a typed nil *s3.Backend in the interface
	}
	return be, nil
}
