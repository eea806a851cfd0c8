package location

import (
	"context"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/rest"
)

// openREST opens "rest:https://host:port/<repo>?fingerprint=sha256:<hex>"
// with the token from cred.
func openREST(ctx context.Context, loc string, cred Credentials, create bool) (backend.Backend, error) {
	opts, err := rest.ParseLocation(loc)
	if err != nil {
		return nil, err
	}
	opts.Token = cred.Token
	if create {
		return rest.Create(ctx, opts)
	}
	return rest.Open(ctx, opts)
}
