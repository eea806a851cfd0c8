package layers

import (
	"context"
	"fmt"
	"os"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/location"
	"github.com/lumbung-id/lumbung/internal/replicate"
)

// Credentials resolves the layer's credential references.
func (l *Layer) Credentials() (location.Credentials, error) {
	var c location.Credentials
	var err error
	if l.Token != nil {
		if c.Token, err = l.Token.Resolve(l.getenv); err != nil {
			return c, fmt.Errorf("layer %s: token: %w", l.Name, err)
		}
	}
	if l.AccessKey != nil {
		if c.AccessKey, err = l.AccessKey.Resolve(l.getenv); err != nil {
			return c, fmt.Errorf("layer %s: access_key: %w", l.Name, err)
		}
	}
	if l.SecretKey != nil {
		if c.SecretKey, err = l.SecretKey.Resolve(l.getenv); err != nil {
			return c, fmt.Errorf("layer %s: secret_key: %w", l.Name, err)
		}
	}
	// Temporary (STS) keys come with a session token. It is taken from
	// AWS_SESSION_TOKEN only when the layer's keys are the environment's
	// own, so a token never pairs with keys it was not issued for.
	getenv := l.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if c.AccessKey != "" && c.AccessKey == getenv("AWS_ACCESS_KEY_ID") {
		c.SessionToken = getenv("AWS_SESSION_TOKEN")
	}
	return c, nil
}

// PasswordBytes resolves the layer's password; nil (no error) when the
// layer has none configured.
func (l *Layer) PasswordBytes() ([]byte, error) {
	if l.Password == nil {
		return nil, nil
	}
	p, err := l.Password.Resolve(l.getenv)
	if err != nil {
		return nil, fmt.Errorf("layer %s: password: %w", l.Name, err)
	}
	return []byte(p), nil
}

// PasswordFor returns the password that opens layer l of d: its own, or
// else the first layer's — a layer without a password of its own is a
// mirror of the first, with the same keys. nil when neither has one.
func (d *Dataset) PasswordFor(l *Layer) ([]byte, error) {
	pw, err := l.PasswordBytes()
	if err != nil || pw != nil || len(d.Layers) == 0 || l == d.Layers[0] {
		return pw, err
	}
	return d.Layers[0].PasswordBytes()
}

// Open opens the layer's backend with its credentials (for an offline
// layer: the repository inside its export directory).
func (l *Layer) Open(ctx context.Context) (backend.Backend, error) {
	cred, err := l.Credentials()
	if err != nil {
		return nil, err
	}
	be, err := location.OpenWith(ctx, l.location(), cred)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.Name, err)
	}
	return be, nil
}

// create makes the storage for a new repository at the layer's location.
func (l *Layer) create(ctx context.Context) (backend.Backend, error) {
	cred, err := l.Credentials()
	if err != nil {
		return nil, err
	}
	be, err := location.CreateWith(ctx, l.location(), cred)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.Name, err)
	}
	return be, nil
}

// maxConfigBytes bounds the source config read to resume a creation, like
// every config a copy reads.
const maxConfigBytes = 64 << 10

// resume continues the creation of the layer's storage that an earlier
// first copy from src left without a config: it is taken over only when it
// holds nothing but src's key files and temporary files.
func (l *Layer) resume(ctx context.Context, src backend.Backend) (backend.Backend, error) {
	cred, err := l.Credentials()
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	err = src.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
		keys[fi.Name] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("layer %s: list keys of %s: %w", l.Name, src.Location(), err)
	}
	h := backend.Handle{Type: backend.ConfigFile}
	fi, err := src.Stat(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("layer %s: read config of %s: %w", l.Name, src.Location(), err)
	}
	if fi.Size <= 0 || fi.Size > maxConfigBytes {
		return nil, fmt.Errorf("layer %s: config of %s is %d bytes, not a valid size", l.Name, src.Location(), fi.Size)
	}
	config, err := src.Load(ctx, h, 0, fi.Size)
	if err != nil {
		return nil, fmt.Errorf("layer %s: read config of %s: %w", l.Name, src.Location(), err)
	}
	be, err := location.ResumeCreateWith(ctx, l.location(), cred, keys, config)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.Name, err)
	}
	return be, nil
}

// ReplicateOptions returns the copy options this layer asks for as a
// destination (bandwidth limit and time window); the caller adds passwords,
// snapshots and progress.
func (l *Layer) ReplicateOptions() replicate.Options {
	return replicate.Options{BytesPerSecond: l.BytesPerSecond, Window: l.ReplicationWindow}
}
