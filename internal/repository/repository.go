// Package repository is the only package that knows Lumbung's repository
// format (docs/format.md): the config, key slots, packs, index files,
// snapshots, trees and locks, and the order in which they are written.
//
// It must never overwrite or delete anything a snapshot needs: writers only
// add (packs, then the index naming them, then the snapshot), and the only
// removals here are lock files and key slots. Everything read back is
// authenticated and bounds-checked before use.
package repository

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
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

	tableOnce sync.Once
	table     *chunker.Table
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
	key, keyID, err := openKey(ctx, be, password)
	if err != nil {
		return nil, err
	}
	data, err := loadLimited(ctx, be, backend.Handle{Type: backend.ConfigFile}, maxConfigSize)
	if err != nil {
		return nil, err
	}
	cfg, err := decodeConfig(key, data)
	if err != nil {
		return nil, err
	}
	return newRepository(be, key, keyID, cfg, opts.kdf())
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

// maxIndexFileSize bounds an index file read from storage.
const maxIndexFileSize = 1 << 30

// LoadIndex reads every index file into memory, in parallel. A damaged or
// unreadable index file is passed to onErr (when non-nil) and skipped so the
// rest of the repository stays usable; with onErr nil it is an error.
func (r *Repository) LoadIndex(ctx context.Context, onErr func(id crypto.ID, err error)) error {
	ids, err := listIDs(ctx, r.be, backend.IndexFile)
	if err != nil {
		return err
	}
	work := make(chan crypto.ID)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range min(len(ids), runtime.GOMAXPROCS(0)+2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				packs, err := r.loadIndexFile(ctx, id)
				if err != nil {
					mu.Lock()
					if onErr != nil && ctx.Err() == nil {
						onErr(id, err)
					} else if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				for _, p := range packs {
					r.idx.AddPack(p.ID, p.Blobs)
				}
			}
		}()
	}
	for _, id := range ids {
		select {
		case work <- id:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
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
func (r *Repository) LoadBlob(ctx context.Context, id crypto.ID, buf []byte) ([]byte, error) {
	loc, ok := r.idx.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", id.Short(), ErrBlobNotFound)
	}
	sealed, err := r.be.Load(ctx, backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}, int64(loc.Offset), int64(loc.Length))
	if err != nil {
		return nil, fmt.Errorf("blob %s in pack %s: %w", id.Short(), loc.Pack.Short(), err)
	}
	return r.DecodeBlob(id, loc, sealed, buf)
}

// ErrBlobNotFound means no index names the blob.
var ErrBlobNotFound = errors.New("not in any index (missing or damaged index: run `lumbung check`)")

// ErrDamagedBlob marks a blob that failed authentication or verification.
var ErrDamagedBlob = errors.New("damaged blob")

// DecodeBlob turns the stored bytes of a blob into its data (appended to
// buf) and verifies the data against the id.
func (r *Repository) DecodeBlob(id crypto.ID, loc Location, sealed, buf []byte) ([]byte, error) {
	plain, err := r.key.Open(nil, sealed, nil)
	if err != nil {
		return nil, fmt.Errorf("blob %s in pack %s: %w: %v", id.Short(), loc.Pack.Short(), ErrDamagedBlob, err)
	}
	start := len(buf)
	out, err := r.comp.decode(buf, plain, int(loc.RawLength))
	if err != nil {
		return nil, fmt.Errorf("blob %s in pack %s: %w: %v", id.Short(), loc.Pack.Short(), ErrDamagedBlob, err)
	}
	if r.key.ID(out[start:]) != id {
		return nil, fmt.Errorf("blob %s in pack %s: %w: content does not match its id", id.Short(), loc.Pack.Short(), ErrDamagedBlob)
	}
	return out, nil
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
