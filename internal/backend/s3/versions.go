package s3

import (
	"context"
	"fmt"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/minio/minio-go/v7"
)

// version is one stored version of a key.
type version struct {
	id   string // "" when the server named none (an unversioned bucket)
	size int64
}

// keyVersions lists every version of exactly key, newest first as S3 orders
// them, delete markers included (IsDeleteMarker tells which).
func (b *Backend) keyVersions(ctx context.Context, key string) (vs []minio.ObjectInfo, err error) {
	lctx, cancel := context.WithTimeout(ctx, opTimeout(0))
	defer cancel()
	for obj := range b.client.ListObjectsIter(lctx, b.cfg.Bucket, minio.ListObjectsOptions{Prefix: key, Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			return nil, obj.Err
		}
		if obj.Key > key {
			break // keys come sorted: nothing more for key
		}
		if obj.Key == key {
			vs = append(vs, obj)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return vs, nil
}

// oldest returns the oldest version of a key that is not a delete marker:
// the object the repository wrote first. Newer versions (an attacker's PUT
// with the agent's keys) and delete markers are never the content.
func oldest(vs []minio.ObjectInfo) (version, bool) {
	for i := len(vs) - 1; i >= 0; i-- {
		if !vs[i].IsDeleteMarker {
			return version{id: vs[i].VersionID, size: vs[i].Size}, true
		}
	}
	return version{}, false
}

// resolve returns the true (oldest) version of key, from the cache when
// cached is true and it is there.
func (b *Backend) resolve(ctx context.Context, h backend.Handle, key string, cached bool) (version, error) {
	if cached {
		b.mu.Lock()
		v, ok := b.versions[key]
		b.mu.Unlock()
		if ok {
			return v, nil
		}
	}
	vs, err := b.keyVersions(ctx, key)
	if err != nil {
		return version{}, err
	}
	v, ok := oldest(vs)
	if !ok {
		return version{}, fmt.Errorf("%v: %w", h, backend.ErrNotExist)
	}
	b.remember(key, v)
	return v, nil
}

// maxCached bounds the version cache (about 150 bytes an entry). Past it
// the cache starts over: entries are only a shortcut, never the truth.
const maxCached = 1 << 20

func (b *Backend) remember(key string, v version) {
	b.mu.Lock()
	if len(b.versions) >= maxCached {
		clear(b.versions)
	}
	b.versions[key] = v
	b.mu.Unlock()
}

func (b *Backend) forget(key string) {
	b.mu.Lock()
	delete(b.versions, key)
	b.mu.Unlock()
}
