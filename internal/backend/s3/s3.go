// Package s3 stores a repository in an S3-compatible bucket (AWS S3, MinIO,
// Ceph RGW, Garage, ...) and is the offsite, immutable layer of Lumbung.
//
// Like every backend it is a dumb blob store: it never interprets what it
// stores. What makes it a layer an attacker cannot destroy is S3 Object Lock:
// with a retention configured, every object but locks is written with a
// COMPLIANCE retain-until date, which nobody — not the agent's keys, not the
// bucket owner — can shorten or delete early. The agent's keys hold only the
// permissions to add and read (docs/s3.md has the policy); they must never be
// able to delete.
//
// In a versioned bucket an attacker with the agent's keys can still PUT a new
// version over a key. Repository objects are immutable, so the true content
// of a key is its OLDEST version: Load, Stat and List resolve every key to its
// oldest version that is not a delete marker and ignore everything newer.
// The package must never read the "latest" version of a key in a versioned
// bucket.
//
// Layout: the relative paths of docs/format.md ("Layout") below the
// location's prefix: PREFIX/config, PREFIX/keys/<id>, PREFIX/data/<id[0:2]>/<id>,
// PREFIX/index/<id>, PREFIX/snapshots/<id>, PREFIX/locks/<id>.
package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// defaultMaxRetries bounds minio-go's own retries (with backoff) of requests
// that failed on the network or with a retryable server error, so that an
// unreachable server fails in seconds rather than minutes.
const defaultMaxRetries = 4

// Backend is a backend.Backend on an S3 bucket. It is safe for concurrent
// use, also by several processes on the same prefix.
type Backend struct {
	cfg    Config
	loc    string
	client *minio.Client
	tr     http.RoundTripper
	now    func() time.Time

	// versions caches the resolved (oldest) version of each key. A stored
	// object never changes, so the only way an entry goes stale is a Remove,
	// which drops it; a stale entry from another process's Remove shows as
	// NoSuchVersion and is resolved again.
	mu       sync.Mutex
	versions map[string]version
}

var _ backend.Backend = (*Backend)(nil)

// NewTransport returns the HTTP transport the backend uses: bounded dial,
// TLS-handshake and response-header waits, so that a silent server fails a
// request instead of hanging it. Body transfers are bounded per operation
// (see opTimeout).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   15 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ExpectContinueTimeout: 5 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
	}
}

// New connects to the bucket of cfg and checks it: the bucket must exist,
// the credentials must be accepted, and when cfg asks for a retention the
// bucket must have Object Lock enabled. It does not look for a repository
// (see Open and Create).
func New(ctx context.Context, cfg Config) (*Backend, error) {
	loc := cfg.String() // as the user wrote it, before defaults
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = defaultMaxRetries
	}
	b := &Backend{cfg: cfg, loc: loc, now: cfg.Now, versions: make(map[string]version)}
	if b.now == nil {
		b.now = time.Now
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, fmt.Errorf("open %s: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the layer's credentials)", b.loc)
	}
	tr := cfg.Transport
	if tr == nil {
		tr = NewTransport()
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken),
		Secure:       cfg.Secure,
		Transport:    tr,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupAuto,
		MaxRetries:   cfg.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", b.loc, err)
	}
	b.client, b.tr = client, tr
	if err := b.checkBucket(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// checkBucket turns the usual set-up mistakes into one clear line each.
func (b *Backend) checkBucket(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("open %s: %w", b.loc, err)
	}
	mctx, cancel := context.WithTimeout(ctx, opTimeout(0))
	defer cancel()
	ok, err := b.client.BucketExists(mctx, b.cfg.Bucket)
	if err != nil {
		return b.wrap(ctx, "open", err)
	}
	if !ok {
		return fmt.Errorf("open %s: bucket %q does not exist: create it with Object Lock enabled (see docs/s3.md) or fix the location", b.loc, b.cfg.Bucket)
	}
	if b.cfg.Retention == 0 {
		return nil
	}
	enabled, _, _, _, err := b.client.GetObjectLockConfig(mctx, b.cfg.Bucket)
	if code, _ := errorCode(err); code == "ObjectLockConfigurationNotFoundError" || (err == nil && enabled != "Enabled") {
		return fmt.Errorf("open %s: bucket %q has no Object Lock, so retention=%s cannot be enforced: use a bucket created with Object Lock (see docs/s3.md), or drop retention from the location", b.loc, b.cfg.Bucket, formatRetention(b.cfg.Retention))
	}
	if err != nil {
		return b.wrap(ctx, "read the Object Lock configuration", err)
	}
	return nil
}

// Open opens the repository at cfg. It fails with an error matching
// backend.ErrNotExist when the prefix holds no repository (no config).
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := b.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err != nil {
		if errors.Is(err, backend.ErrNotExist) {
			return nil, fmt.Errorf("open %s: no repository there (no config object; run `lumbung init` first): %w", b.loc, backend.ErrNotExist)
		}
		return nil, err
	}
	return b, nil
}

// Create opens cfg for a new repository: the prefix must hold no objects
// yet (an error matching backend.ErrExists otherwise). Like the local
// backend it does not write the config; the caller saves it last. Buckets
// are never created here: an agent's keys may not, and a bucket for
// backups needs Object Lock, which only its creation can turn on.
func Create(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, opTimeout(0))
	defer cancel()
	for obj := range b.client.ListObjectsIter(lctx, b.cfg.Bucket, minio.ListObjectsOptions{Prefix: b.prefix(), Recursive: true, MaxKeys: 1, WithVersions: true}) {
		if obj.Err != nil {
			return nil, b.wrap(ctx, "create repository", obj.Err)
		}
		return nil, fmt.Errorf("create repository at %s: the prefix already holds objects (%s); choose a new prefix: %w", b.loc, obj.Key, backend.ErrExists)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create repository at %s: %w", b.loc, err)
	}
	return b, nil
}

// Location returns the location string, without credentials.
func (b *Backend) Location() string { return b.loc }

// RetentionPeriod returns the per-object retention of the location (0: none).
func (b *Backend) RetentionPeriod() time.Duration { return b.cfg.Retention }

// Close releases idle connections.
func (b *Backend) Close() error {
	if t, ok := b.tr.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return nil
}

// opTimeout bounds one request moving n bytes: two minutes plus the time
// the data needs at 64 KiB/s, far below any link Lumbung runs on, so it
// only fires on a connection that has stalled.
func opTimeout(n int64) time.Duration {
	return 2*time.Minute + time.Duration(n/(64<<10))*time.Second
}
