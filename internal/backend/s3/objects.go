package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/minio/minio-go/v7"
)

// maxObjectSize is the largest object a single PUT may carry in S3. Saves
// use one PUT (never multipart) so that the If-None-Match precondition and
// the Content-MD5 check cover the whole object at once.
const maxObjectSize = 5 << 30

// Save stores data under h. It refuses an existing key (ErrExists), uploads
// in one PUT with Content-MD5 (a truncated or corrupted upload is rejected
// by the server) and If-None-Match: * (two racing writers cannot both
// succeed), and with a retention configured writes the object under
// COMPLIANCE Object Lock until now+retention (locks excepted: they must stay
// removable). In a versioned bucket it then checks that its version is the
// oldest of the key; if another writer was first, Save fails with ErrExists
// and its own newer version is never read.
func (b *Backend) Save(ctx context.Context, h backend.Handle, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	key, err := b.key(h)
	if err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	if len(data) > maxObjectSize {
		return fmt.Errorf("save %v: %d bytes is more than one S3 PUT may carry (5 GiB)", h, len(data))
	}
	if _, err := b.resolve(ctx, h, key, false); err == nil {
		return fmt.Errorf("save %v on %s: %w", h, b.loc, backend.ErrExists)
	} else if !errors.Is(err, backend.ErrNotExist) {
		return b.wrap(ctx, fmt.Sprintf("save %v", h), err)
	}
	opts := minio.PutObjectOptions{
		ContentType:      "application/octet-stream",
		SendContentMd5:   true,
		DisableMultipart: true,
	}
	opts.SetMatchETagExcept("*")
	if b.cfg.Retention > 0 && h.Type != backend.LockFile {
		opts.Mode = minio.Compliance
		opts.RetainUntilDate = b.now().Add(b.cfg.Retention).UTC()
	}
	pctx, cancel := context.WithTimeout(ctx, opTimeout(int64(len(data))))
	defer cancel()
	info, err := b.client.PutObject(pctx, b.cfg.Bucket, key, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		return b.wrap(ctx, fmt.Sprintf("save %v", h), err)
	}
	mine := version{id: info.VersionID, size: int64(len(data))}
	if mine.id == "" || mine.id == "null" {
		// Unversioned bucket: the PUT replaced nothing (If-None-Match) and
		// there is only ever one version.
		b.remember(key, mine)
		return nil
	}
	first, err := b.resolve(ctx, h, key, false)
	if err != nil {
		return b.wrap(ctx, fmt.Sprintf("save %v: check the stored version", h), err)
	}
	if first.id != mine.id {
		return fmt.Errorf("save %v on %s: another writer stored it first (this upload is version %s, which is never read): %w", h, b.loc, mine.id, backend.ErrExists)
	}
	return nil
}

// Load returns length bytes of h's true (oldest) version from offset;
// length 0 means to the end.
func (b *Backend) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load %v: %w", h, err)
	}
	key, err := b.key(h)
	if err != nil {
		return nil, fmt.Errorf("load %v: %w", h, err)
	}
	if offset < 0 || length < 0 {
		return nil, fmt.Errorf("load %v: negative offset %d or length %d", h, offset, length)
	}
	for attempt := 0; ; attempt++ {
		v, err := b.resolve(ctx, h, key, true)
		if err != nil {
			return nil, b.wrap(ctx, fmt.Sprintf("load %v", h), err)
		}
		data, err := b.loadVersion(ctx, h, key, v, offset, length)
		if attempt == 0 && errors.Is(err, backend.ErrNotExist) {
			// The cached version was removed (by another process):
			// resolve again once.
			b.forget(key)
			continue
		}
		return data, err
	}
}

func (b *Backend) loadVersion(ctx context.Context, h backend.Handle, key string, v version, offset, length int64) ([]byte, error) {
	if offset > v.size || length > v.size-offset {
		return nil, fmt.Errorf("load %v: offset %d length %d is past the end of the %d-byte file: %w", h, offset, length, v.size, io.ErrUnexpectedEOF)
	}
	n := length
	if n == 0 {
		n = v.size - offset
	}
	if n == 0 {
		return []byte{}, nil
	}
	opts := minio.GetObjectOptions{VersionID: v.id}
	if err := opts.SetRange(offset, offset+n-1); err != nil {
		return nil, fmt.Errorf("load %v: %w", h, err)
	}
	gctx, cancel := context.WithTimeout(ctx, opTimeout(n))
	defer cancel()
	core := minio.Core{Client: b.client}
	body, _, _, err := core.GetObject(gctx, b.cfg.Bucket, key, opts)
	if err != nil {
		return nil, b.wrap(ctx, fmt.Sprintf("load %v", h), err)
	}
	defer body.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(body, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, b.wrap(ctx, fmt.Sprintf("load %v: read %d bytes", h, n), err)
	}
	// More than asked for means the server ignored the range: refuse
	// rather than return the wrong bytes.
	if k, _ := body.Read(make([]byte, 1)); k > 0 {
		return nil, fmt.Errorf("load %v on %s: the server sent more than the %d bytes asked for", h, b.loc, n)
	}
	return buf, nil
}

// Stat returns the size of h's true (oldest) version.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %w", h, err)
	}
	key, err := b.key(h)
	if err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %w", h, err)
	}
	v, err := b.resolve(ctx, h, key, true)
	if err != nil {
		return backend.FileInfo{}, b.wrap(ctx, fmt.Sprintf("stat %v", h), err)
	}
	return backend.FileInfo{Name: infoName(h), Size: v.size}, nil
}

// List calls fn for every file of type t, with the size of its true
// (oldest) version. Keys with only delete markers are not listed; objects
// under the prefix that are not valid files of type t are skipped.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %v: %w", t, err)
	}
	if t < backend.ConfigFile || t > backend.LockFile {
		return fmt.Errorf("list: invalid file type %d", t)
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		curKey  string
		cur     version
		haveCur bool // cur holds a non-delete-marker version of curKey
	)
	emit := func() error {
		if !haveCur {
			return nil
		}
		haveCur = false
		h, ok := b.handleOf(t, curKey)
		if !ok {
			return nil
		}
		b.remember(curKey, cur)
		return fn(backend.FileInfo{Name: infoName(h), Size: cur.size})
	}
	for obj := range b.client.ListObjectsIter(lctx, b.cfg.Bucket, minio.ListObjectsOptions{Prefix: b.listPrefix(t), Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			return b.wrap(ctx, fmt.Sprintf("list %v", t), obj.Err)
		}
		if obj.Key != curKey {
			if err := emit(); err != nil {
				return err
			}
			curKey = obj.Key
		}
		// Versions come newest first: the last one that is not a delete
		// marker is the oldest, the true content.
		if !obj.IsDeleteMarker {
			cur, haveCur = version{id: obj.VersionID, size: obj.Size}, true
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %v: %w", t, err)
	}
	return emit()
}

// Remove deletes every version of h, the newest first and the true (oldest)
// one last, so that a refusal part-way (Object Lock retention, or keys that
// may not delete — an agent's) leaves the true content in place. A refusal
// is an error matching backend.ErrPermission.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	key, err := b.key(h)
	if err != nil {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	vs, err := b.keyVersions(ctx, key)
	if err != nil {
		return b.wrap(ctx, fmt.Sprintf("remove %v", h), err)
	}
	if _, ok := oldest(vs); !ok {
		return fmt.Errorf("remove %v on %s: %w", h, b.loc, backend.ErrNotExist)
	}
	b.forget(key)
	for _, v := range vs {
		rctx, cancel := context.WithTimeout(ctx, opTimeout(0))
		id := v.VersionID
		if id == "null" && len(vs) == 1 {
			id = "" // an unversioned bucket: plain delete
		}
		err := b.client.RemoveObject(rctx, b.cfg.Bucket, key, minio.RemoveObjectOptions{VersionID: id})
		cancel()
		if err != nil {
			return b.wrap(ctx, fmt.Sprintf("remove %v (version %s)", h, v.VersionID), err)
		}
	}
	return nil
}
