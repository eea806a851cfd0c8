// Package repository is the only package that knows Lumbung's repository
// format (docs/format.md): the config, key slots, packs, index files,
// snapshots, trees and locks, and the order in which they are written.
//
// It must never overwrite or delete anything a snapshot needs: writers only
// add (packs, then the index naming them, then the snapshot), and the only
// removals here are lock files and key slots. Everything read back is
// authenticated and bounds-checked before use, and nothing anyone could
// add is trusted over what is stored: someone holding the key and an
// append-only credential can write index files, snapshots and locks that
// lie, so blobs are read from whichever listed place verifies (Index,
// LoadBlob), and `latest` and lock checks distrust times from the future.
package repository

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/lumbung-id/lumbung/internal/parallel"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/chunker"
	"github.com/lumbung-id/lumbung/internal/crypto"
)

// Repository is an open repository: backend, master key, config and index.
type Repository struct {
	be    backend.Backend
	key   *crypto.Key
	keyID crypto.ID
	cfg   *Config
	kdf   crypto.KDFParams
	idx   *Index
	comp  *compressor
	// password opened the repository; kept (it unwraps nothing the master
	// key above does not already give) so check can tell key slots of
	// another repository under it (ForeignKeySlots).
	password []byte

	tableOnce sync.Once
	table     *chunker.Table

	// readAhead holds the packs of trees the backend was asked to fetch
	// ahead (readAheadTrees).
	readAheadMu sync.Mutex
	readAhead   map[crypto.ID]struct{}
}

// Options tune how a repository is created or opened.
type Options struct {
	// KDF are the Argon2id costs for new key slots; zero means DefaultKDF.
	KDF crypto.KDFParams
	// PackSize, CompressionLevel and Chunker apply to Init only; zero
	// values mean the defaults.
	PackSize         int
	CompressionLevel int
	Chunker          ChunkerParams
}

// Defaults for new repositories.
const (
	DefaultPackSize = 8 << 20
	// DefaultCompressionLevel is zstd's fastest level: on the benchmark
	// corpus it stores 1.3% more than the "default" level at half the CPU
	// (docs/benchmarks.md).
	DefaultCompressionLevel = 1
)

// DefaultChunker is the default content-defined chunking bounds.
var DefaultChunker = ChunkerParams{Min: chunker.DefaultParams.Min, Avg: chunker.DefaultParams.Avg, Max: chunker.DefaultParams.Max}

func (o Options) kdf() crypto.KDFParams {
	if o.KDF == (crypto.KDFParams{}) {
		return crypto.DefaultKDF
	}
	return o.KDF
}

// ErrAlreadyInitialized means Init found an existing repository.
var ErrAlreadyInitialized = errors.New("a repository already exists here")

// Init creates a repository in an empty backend: a fresh master key, one key
// slot for password, then the config (written last: its presence marks a
// complete repository).
func Init(ctx context.Context, be backend.Backend, password []byte, opts Options) (*Repository, error) {
	if _, err := be.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err == nil {
		return nil, fmt.Errorf("%w at %s", ErrAlreadyInitialized, be.Location())
	} else if !errors.Is(err, backend.ErrNotExist) {
		return nil, fmt.Errorf("check for existing config: %w", err)
	}
	if len(password) == 0 {
		return nil, errors.New("empty password: a repository must be protected by a password")
	}
	cfg := &Config{
		Version: FormatVersion, Created: time.Now().UTC(),
		Cipher: crypto.CipherAES256GCM, BlobIDHash: crypto.IDKeyedBLAKE3,
		Compression: "zstd", CompressionLevel: DefaultCompressionLevel,
		PackSize: DefaultPackSize, Chunker: DefaultChunker,
	}
	if opts.PackSize != 0 {
		cfg.PackSize = opts.PackSize
	}
	if opts.CompressionLevel != 0 {
		cfg.CompressionLevel = opts.CompressionLevel
	}
	if opts.Chunker != (ChunkerParams{}) {
		cfg.Chunker = opts.Chunker
	}
	if _, err := rand.Read(cfg.ID[:]); err != nil {
		return nil, fmt.Errorf("make repository id: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := crypto.NewRandomKey()
	if err != nil {
		return nil, err
	}
	slot, err := newKeySlot(key, password, opts.kdf(), "")
	if err != nil {
		return nil, err
	}
	keyID, err := saveKeySlot(ctx, be, slot)
	if err != nil {
		return nil, err
	}
	data, err := encodeConfig(key, cfg)
	if err != nil {
		return nil, err
	}
	if err := be.Save(ctx, backend.Handle{Type: backend.ConfigFile}, data); err != nil {
		return nil, fmt.Errorf("save config: %w", err)
	}
	return newRepository(be, key, keyID, cfg, opts.kdf())
}

func newRepository(be backend.Backend, key *crypto.Key, keyID crypto.ID, cfg *Config, kdf crypto.KDFParams) (*Repository, error) {
	comp, err := newCompressor(cfg)
	if err != nil {
		return nil, err
	}
	return &Repository{be: be, key: key, keyID: keyID, cfg: cfg, kdf: kdf, idx: NewIndex(), comp: comp}, nil
}

// CheckFormat reads the plaintext config header: it fails for a missing,
// foreign or newer repository without needing a password.
func CheckFormat(ctx context.Context, be backend.Backend) error {
	data, err := loadLimited(ctx, be, backend.Handle{Type: backend.ConfigFile}, maxConfigSize)
	if err != nil {
		if errors.Is(err, backend.ErrNotExist) {
			return fmt.Errorf("no repository at %s (run `lumbung init` to create one): %w", be.Location(), err)
		}
		return err
	}
	_, _, err = parseConfigHeader(data)
	return err
}

// Open opens an existing repository with password. The index is not loaded:
// call LoadIndex before reading or writing blobs.
func Open(ctx context.Context, be backend.Backend, password []byte, opts Options) (*Repository, error) {
	if err := CheckFormat(ctx, be); err != nil {
		return nil, err
	}
	data, err := loadLimited(ctx, be, backend.Handle{Type: backend.ConfigFile}, maxConfigSize)
	if err != nil {
		return nil, err
	}
	var cfg *Config
	key, keyID, err := openKey(ctx, be, password, func(k *crypto.Key) (err error) {
		cfg, err = decodeConfig(k, data)
		return err
	})
	if err != nil {
		return nil, err
	}
	r, err := newRepository(be, key, keyID, cfg, opts.kdf())
	if err != nil {
		return nil, err
	}
	r.password = bytes.Clone(password)
	return r, nil
}

// Config returns the repository configuration.
func (r *Repository) Config() Config { return *r.cfg }

// Backend returns the storage the repository lives on.
func (r *Repository) Backend() backend.Backend { return r.be }

// Index returns the in-memory index.
func (r *Repository) Index() *Index { return r.idx }

// ChunkerTable returns the gear table derived from the repository's secret seed.
func (r *Repository) ChunkerTable() *chunker.Table {
	r.tableOnce.Do(func() { r.table = chunker.NewTable(r.key.ChunkerSeed) })
	return r.table
}

// ChunkerParams returns the chunk size bounds.
func (r *Repository) ChunkerParams() chunker.Params { return r.cfg.Chunker.params() }

// BlobID computes the keyed id of data.
func (r *Repository) BlobID(data []byte) crypto.ID { return r.key.ID(data) }

// KeyID names the key slot the password opened.
func (r *Repository) KeyID() crypto.ID { return r.keyID }

// maxIndexFileSize bounds an index file read from storage.
const maxIndexFileSize = 1 << 30

// LoadIndex reads every index file into memory, in parallel, and adds them
// in the order of their ids, so that the same repository always yields the
// same index (which place of a duplicated blob is tried first). A damaged or
// unreadable index file is passed to onErr (when non-nil) and skipped so the
// rest of the repository stays usable; with onErr nil it is an error.
//
// Then the packs in storage are listed, and places in packs that storage
// does not hold are marked unusable: a blob known only from an index entry
// pointing at a missing pack is not known (Index.Has), so a writer stores
// it again. Index files are listed before packs: a pack is durable before
// any index file names it, so a pack named by an index file seen here is in
// the later pack listing unless it really is missing.
func (r *Repository) LoadIndex(ctx context.Context, onErr func(id crypto.ID, err error)) error {
	ids, err := listIDs(ctx, r.be, backend.IndexFile)
	if err != nil {
		return err
	}
	type result struct {
		packs []IndexPack
		err   error
	}
	err = parallel.Ordered(ctx, len(ids), runtime.GOMAXPROCS(0)+2,
		func(ctx context.Context, i int) result {
			packs, err := r.loadIndexFile(ctx, ids[i])
			return result{packs, err}
		},
		func(i int, res result) error {
			if res.err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if onErr == nil {
					return res.err
				}
				onErr(ids[i], res.err)
				return nil
			}
			for _, p := range res.packs {
				r.idx.AddPack(p.ID, p.Blobs)
			}
			return nil
		})
	if err != nil {
		return err
	}
	return r.markMissingPacks(ctx)
}

// markMissingPacks lists the packs in storage and marks indexed packs that
// are not there, keeping one byte per indexed pack rather than the listing.
func (r *Repository) markMissingPacks(ctx context.Context) error {
	stored := make([]bool, r.idx.packCount())
	err := r.be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err != nil {
			return nil
		}
		if pn, ok := r.idx.packNumber(id); ok && int(pn) < len(stored) {
			stored[pn] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list packs in %s: %w", r.be.Location(), err)
	}
	r.idx.markMissing(func(pn uint32) bool { return int(pn) >= len(stored) || stored[pn] })
	return nil
}

func (r *Repository) loadIndexFile(ctx context.Context, id crypto.ID) ([]IndexPack, error) {
	plain, err := r.loadSealed(ctx, backend.IndexFile, id, indexAD, maxIndexFileSize)
	if err != nil {
		return nil, err
	}
	packs, err := decodeIndexFile(plain)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", id.Short(), err)
	}
	return packs, nil
}

// ListIndexFiles lists index file ids.
func (r *Repository) ListIndexFiles(ctx context.Context) ([]crypto.ID, error) {
	return listIDs(ctx, r.be, backend.IndexFile)
}

// LoadIndexFile reads one index file (for check).
func (r *Repository) LoadIndexFile(ctx context.Context, id crypto.ID) ([]IndexPack, error) {
	return r.loadIndexFile(ctx, id)
}

// UnindexedPacks lists packs that no loaded index names, with their sizes:
// left by a backup that was killed before writing its index, or by one still
// running.
func (r *Repository) UnindexedPacks(ctx context.Context) (map[crypto.ID]int64, error) {
	out := make(map[crypto.ID]int64)
	err := r.be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err == nil && !r.idx.HasPack(id) {
			out[id] = fi.Size
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	return out, nil
}

// LoadBlob reads, authenticates, decompresses and verifies one blob,
// appending its data to buf.
//
// A blob may be listed in several places, and an index file may lie (see
// Index): every place is tried, best first, until one decrypts and matches
// the blob's keyed id. A place that fails verification is marked bad in
// the index. Only when every place fails is it an error, naming each place
// tried.
func (r *Repository) LoadBlob(ctx context.Context, id crypto.ID, buf []byte) ([]byte, error) {
	data, _, err := r.loadBlob(ctx, id, buf)
	return data, err
}

// loadBlob is LoadBlob that also returns the blob's stored form.
func (r *Repository) loadBlob(ctx context.Context, id crypto.ID, buf []byte) (data, stored []byte, err error) {
	var locBuf [4]Location
	locs := r.idx.LookupAll(id, locBuf[:0])
	if len(locs) == 0 {
		return nil, nil, fmt.Errorf("blob %s: %w", id.Short(), ErrBlobNotFound)
	}
	var errs []error
	for _, loc := range locs {
		if loc.Type == TreeBlob {
			r.readAheadTrees(ctx, loc.Pack)
		}
		sealed, err := r.loadSealedBlob(ctx, id, loc)
		if err == nil {
			if data, stored, err = r.decodeBlob(id, loc, sealed, buf); err == nil {
				return data, stored, nil
			}
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if errors.Is(err, ErrDamagedBlob) || errors.Is(err, backend.ErrNotExist) {
			r.idx.MarkBad(id, loc)
		}
		errs = append(errs, err)
	}
	return nil, nil, PlacesError(id, locs, errs)
}

// readAheadTrees asks the backend, once per pack, to fetch a pack of trees
// ahead when its first tree is loaded: a walk's next trees mostly sit in
// the same few packs, and right after a backup (whose packs bypass the page
// cache) each would otherwise be a disk read of its own. The counting pass
// of a restore of the bench snapshot: 58–88 → 48–52 ms (docs/benchmarks.md).
func (r *Repository) readAheadTrees(ctx context.Context, pack crypto.ID) {
	ra, ok := r.be.(backend.ReadAheader)
	if !ok {
		return
	}
	r.readAheadMu.Lock()
	_, asked := r.readAhead[pack]
	if !asked {
		if r.readAhead == nil {
			r.readAhead = make(map[crypto.ID]struct{})
		}
		r.readAhead[pack] = struct{}{}
	}
	r.readAheadMu.Unlock()
	if !asked {
		ra.ReadAhead(ctx, backend.Handle{Type: backend.PackFile, Name: pack.String()})
	}
}

// loadSealedBlob reads the stored bytes of a blob at one place.
func (r *Repository) loadSealedBlob(ctx context.Context, id crypto.ID, loc Location) ([]byte, error) {
	sealed, err := r.be.Load(ctx, backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}, int64(loc.Offset), int64(loc.Length))
	if err == nil && len(sealed) != int(loc.Length) {
		err = fmt.Errorf("storage returned %d bytes, asked for %d", len(sealed), loc.Length)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s in pack %s: %w", id.Short(), loc.Pack.Short(), err)
	}
	return sealed, nil
}

// PlacesError is the error for a blob that failed in every place it is
// listed, given the places and one error for each. With one place it is
// that place's error; errors.Is sees through to every one.
func PlacesError(id crypto.ID, locs []Location, errs []error) error {
	switch len(errs) {
	case 0:
		return fmt.Errorf("blob %s: %w", id.Short(), ErrBlobNotFound)
	case 1:
		return errs[0]
	}
	return &placesError{id: id, locs: append([]Location(nil), locs[:len(errs)]...), errs: errs}
}

type placesError struct {
	id   crypto.ID
	locs []Location
	errs []error
}

func (e *placesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "blob %s: no copy verifies (%d places tried; an index file may be damaged or forged, run `lumbung check`): ", e.id.Short(), len(e.errs))
	for i, err := range e.errs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "pack %s offset %d: %v", e.locs[i].Pack.Short(), e.locs[i].Offset, err)
	}
	return b.String()
}

func (e *placesError) Unwrap() []error { return e.errs }

// ErrBlobNotFound means no index names the blob.
var ErrBlobNotFound = errors.New("not in any index (missing or damaged index: run `lumbung check`)")

// ErrDamagedBlob marks a blob that failed authentication or verification.
var ErrDamagedBlob = errors.New("damaged blob")

// DecodeBlob turns the stored bytes of a blob into its data (appended to
// buf) and verifies the data against the id. sealed is left as it was.
func (r *Repository) DecodeBlob(id crypto.ID, loc Location, sealed, buf []byte) ([]byte, error) {
	out, _, err := r.decodeBlob(id, loc, sealed, buf)
	return out, err
}

// decodeBlob is DecodeBlob that also returns the blob's stored form (codec
// and payload, docs/format.md "Blobs").
func (r *Repository) decodeBlob(id crypto.ID, loc Location, sealed, buf []byte) (data, stored []byte, err error) {
	plain, err := r.key.Open(nil, sealed, nil)
	if err != nil {
		return nil, nil, damagedBlob(id, loc, err)
	}
	start := len(buf)
	out, err := r.comp.decode(buf, plain, int(loc.RawLength))
	if err != nil {
		return nil, nil, damagedBlob(id, loc, err)
	}
	return out, plain, r.verifyBlob(id, loc, out[start:])
}

// LoadBlobStored is LoadBlob that also returns the blob's stored form
// (codec and payload), verified like the data: a copy into a repository
// with other keys stores it again as it is (Writer.SaveStoredBlob) instead
// of compressing the data once more.
func (r *Repository) LoadBlobStored(ctx context.Context, id crypto.ID) (data, stored []byte, err error) {
	return r.loadBlob(ctx, id, nil)
}

// DecodeBlobInPlace is DecodeBlob for a caller that owns sealed and needs it
// no more (the restorer, with a range it just loaded): the plaintext is
// opened over the ciphertext, data stored uncompressed is returned as a
// slice of sealed, and only compressed data goes to a buffer, from
// getBuf(RawLength) — so restoring media or archives copies nothing and
// allocates nothing.
func (r *Repository) DecodeBlobInPlace(id crypto.ID, loc Location, sealed []byte, getBuf func(n int) []byte) ([]byte, error) {
	if len(sealed) < crypto.NonceSize {
		return nil, damagedBlob(id, loc, fmt.Errorf("%d bytes is too short", len(sealed)))
	}
	plain, err := r.key.Open(sealed[crypto.NonceSize:crypto.NonceSize], sealed, nil)
	if err != nil {
		return nil, damagedBlob(id, loc, err)
	}
	var out []byte
	if len(plain) > 0 && plain[0] == codecRaw {
		if len(plain)-1 != int(loc.RawLength) {
			return nil, damagedBlob(id, loc, fmt.Errorf("blob is %d bytes, index says %d", len(plain)-1, loc.RawLength))
		}
		out = plain[1:]
	} else if out, err = r.comp.decode(getBuf(int(loc.RawLength))[:0], plain, int(loc.RawLength)); err != nil {
		return nil, damagedBlob(id, loc, err)
	}
	return out, r.verifyBlob(id, loc, out)
}

func (r *Repository) verifyBlob(id crypto.ID, loc Location, data []byte) error {
	if r.key.ID(data) != id {
		return fmt.Errorf("blob %s in pack %s: %w: content does not match its id", id.Short(), loc.Pack.Short(), ErrDamagedBlob)
	}
	return nil
}

func damagedBlob(id crypto.ID, loc Location, err error) error {
	return fmt.Errorf("blob %s in pack %s: %w: %v", id.Short(), loc.Pack.Short(), ErrDamagedBlob, err)
}

// LoadTree reads and decodes a tree blob.
func (r *Repository) LoadTree(ctx context.Context, id crypto.ID) (*Tree, error) {
	data, err := r.LoadBlob(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	t, err := DecodeTree(data)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", id.Short(), err)
	}
	return t, nil
}
