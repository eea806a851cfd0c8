package s3

import (
	"context"
	"fmt"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/minio/minio-go/v7"
)

// Retention is the Object Lock state of one stored object.
type Retention struct {
	Mode  string    // "COMPLIANCE", "GOVERNANCE", or "" when not locked
	Until time.Time // zero when not locked
}

// ObjectRetention returns the Object Lock retention of h's true (oldest)
// version.
func (b *Backend) ObjectRetention(ctx context.Context, h backend.Handle) (Retention, error) {
	if err := ctx.Err(); err != nil {
		return Retention{}, fmt.Errorf("read retention of %v: %w", h, err)
	}
	key, err := b.key(h)
	if err != nil {
		return Retention{}, fmt.Errorf("read retention of %v: %w", h, err)
	}
	v, err := b.resolve(ctx, h, key, true)
	if err != nil {
		return Retention{}, b.wrap(ctx, fmt.Sprintf("read retention of %v", h), err)
	}
	return b.retentionOf(ctx, h, key, v)
}

func (b *Backend) retentionOf(ctx context.Context, h backend.Handle, key string, v version) (Retention, error) {
	rctx, cancel := context.WithTimeout(ctx, opTimeout(0))
	defer cancel()
	mode, until, err := b.client.GetObjectRetention(rctx, b.cfg.Bucket, key, v.id)
	if code, _ := errorCode(err); code == "NoSuchObjectLockConfiguration" {
		return Retention{}, nil // stored without a retention
	}
	if err != nil {
		return Retention{}, b.wrap(ctx, fmt.Sprintf("read retention of %v", h), err)
	}
	var r Retention
	if mode != nil {
		r.Mode = string(*mode)
	}
	if until != nil {
		r.Until = until.UTC()
	}
	return r, nil
}

// ExtendRetention makes sure the true version of every handle stays under
// COMPLIANCE Object Lock until at least until. It only ever extends: an
// object already retained as long or longer is left alone, so maintenance
// can call it with any date without shortening anything (S3 would refuse a
// shortening of COMPLIANCE retention anyway). It stops at the first error.
func (b *Backend) ExtendRetention(ctx context.Context, hs []backend.Handle, until time.Time) error {
	for _, h := range hs {
		if _, err := b.ExtendObjectRetention(ctx, h, until); err != nil {
			return err
		}
	}
	return nil
}

// ExtendObjectRetention is ExtendRetention of one object; extended says
// whether its retention had to change (one read of the retention, and a
// write only when it is shorter or not COMPLIANCE).
func (b *Backend) ExtendObjectRetention(ctx context.Context, h backend.Handle, until time.Time) (extended bool, err error) {
	until = until.UTC().Truncate(time.Second).Add(time.Second) // S3 keeps whole seconds; never round down
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("extend retention of %v: %w", h, err)
	}
	key, err := b.key(h)
	if err != nil {
		return false, fmt.Errorf("extend retention of %v: %w", h, err)
	}
	v, err := b.resolve(ctx, h, key, true)
	if err != nil {
		return false, b.wrap(ctx, fmt.Sprintf("extend retention of %v", h), err)
	}
	cur, err := b.retentionOf(ctx, h, key, v)
	if err != nil {
		return false, err
	}
	if cur.Mode == string(minio.Compliance) && !cur.Until.Before(until) {
		return false, nil
	}
	mode := minio.Compliance
	rctx, cancel := context.WithTimeout(ctx, opTimeout(0))
	err = b.client.PutObjectRetention(rctx, b.cfg.Bucket, key, minio.PutObjectRetentionOptions{
		Mode:            &mode,
		RetainUntilDate: &until,
		VersionID:       v.id,
	})
	cancel()
	if code, _ := errorCode(err); code == "InvalidRequest" || code == "ObjectLockConfigurationNotFoundError" {
		return false, fmt.Errorf("extend retention of %v on %s: %v (is Object Lock enabled on bucket %q? see docs/s3.md)", h, b.loc, err, b.cfg.Bucket)
	}
	if err != nil {
		return false, b.wrap(ctx, fmt.Sprintf("extend retention of %v", h), err)
	}
	return true, nil
}
