package location

import (
	"context"
	"os"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/s3"
)

// openS3 opens "s3:https://host:port/bucket/prefix?retention=30d". The keys
// come from cred; a session token (temporary STS credentials) is taken
// from AWS_SESSION_TOKEN only when the keys are the environment's own, so a
// token never pairs with keys it was not issued for.
func openS3(ctx context.Context, rest string, cred Credentials, create bool) (backend.Backend, error) {
	cfg, err := s3.ParseLocation(rest)
	if err != nil {
		return nil, err
	}
	cfg.AccessKey, cfg.SecretKey = cred.AccessKey, cred.SecretKey
	if tok := os.Getenv("AWS_SESSION_TOKEN"); tok != "" && cred.AccessKey == os.Getenv("AWS_ACCESS_KEY_ID") {
		cfg.SessionToken = tok
	}
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
