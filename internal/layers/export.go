package layers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/zeebo/blake3"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/replicate"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// An export directory holds the repository and, written last, the manifest.
const (
	ExportRepoDir  = "repository"
	ManifestName   = "manifest.json"
	manifestFormat = "lumbung-export"
	// maxManifestSize bounds the manifest read back (about 150 bytes per
	// file: a million files fit).
	maxManifestSize = 256 << 20
)

// Manifest describes an export: which snapshots it holds and the BLAKE3 of
// every repository file, so the disk can be checked years later without
// trusting anything on it but the hashes.
type Manifest struct {
	Format         string         `json:"format"`
	Version        int            `json:"version"`
	Dataset        string         `json:"dataset"`
	Source         string         `json:"source"`
	CreatedAt      time.Time      `json:"created_at"`
	LumbungVersion string         `json:"lumbung_version"`
	Snapshots      []SnapshotRef  `json:"snapshots"`
	Files          []ManifestFile `json:"files"`
}

// ManifestFile is one repository file; Path is slash-separated, relative
// to the export directory.
type ManifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	BLAKE3 string `json:"blake3"`
}

// ExportOptions control Export.
type ExportOptions struct {
	Dataset string
	// Password of the source repository (the export is a mirror and opens
	// with the same password).
	Password []byte
	// Snapshots limits the export to these source snapshot ids; empty
	// means every snapshot of Dataset.
	Snapshots []string
	// Version is the lumbung version recorded in the manifest.
	Version  string
	Progress func(replicate.Progress)
	Now      func() time.Time
}

// ExportResult says what Export did.
type ExportResult struct {
	Dir      string            `json:"dir"`
	Copy     *replicate.Result `json:"copy"`
	Manifest *Manifest         `json:"manifest"`
}

// Export copies the snapshots of a dataset from src into dir (typically a
// removable disk) as a self-contained repository (a mirror of src: same
// keys, same password), then writes the manifest, last and atomically. An
// interrupted export is resumed by running it again; until the manifest is
// written the export does not verify.
func Export(ctx context.Context, src backend.Backend, dir string, opts ExportOptions) (*ExportResult, error) {
	if opts.Dataset == "" {
		return nil, errors.New("export: no dataset given")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	repoDir := filepath.Join(dir, ExportRepoDir)
	dst, created, err := openOrCreate(ctx, repoDir)
	if err != nil {
		return nil, err
	}
	res, err := replicate.Copy(ctx, src, dst, replicate.Options{
		Mode: replicate.ModeMirror, Dataset: opts.Dataset, Snapshots: opts.Snapshots,
		SrcPassword: opts.Password, Progress: opts.Progress, RequireSnapshots: true,
	})
	if errors.Is(err, replicate.ErrNoSnapshots) {
		if created {
			// Nothing was copied: take back the empty layout made just now,
			// so a later export starts afresh.
			_ = os.RemoveAll(repoDir)
		}
		return &ExportResult{Dir: dir, Copy: res}, fmt.Errorf("nothing to export to %s: %w; back the dataset up first (`lumbung backup --config ... --dataset %s`)", dir, err, opts.Dataset)
	}
	out := &ExportResult{Dir: dir, Copy: res}
	if err != nil {
		return out, fmt.Errorf("export to %s: %w", dir, err)
	}
	if !res.OK() {
		return out, fmt.Errorf("export to %s is incomplete (see the snapshot results); run it again to resume", dir)
	}
	repo, err := repository.Open(ctx, dst, opts.Password, repository.Options{})
	if err != nil {
		return out, fmt.Errorf("open the export: %w", err)
	}
	all, err := repo.Snapshots(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("list snapshots of the export: %w", err)
	}
	m := &Manifest{Format: manifestFormat, Version: 1, Dataset: opts.Dataset, Source: src.Location(),
		CreatedAt: now().UTC(), LumbungVersion: opts.Version}
	for _, s := range all {
		if s.Dataset == opts.Dataset {
			m.Snapshots = append(m.Snapshots, SnapshotRef{ID: s.ID.String(), Time: s.Time})
		}
	}
	if m.Files, err = hashRepository(ctx, dir); err != nil {
		return out, err
	}
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return out, fmt.Errorf("encode manifest: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, ManifestName), append(b, '\n')); err != nil {
		return out, err
	}
	out.Manifest = m
	return out, nil
}

// openOrCreate opens the local repository directory or makes a new one.
// created says the directory was made now.
func openOrCreate(ctx context.Context, dir string) (l *local.Local, created bool, err error) {
	l, err = local.Open(ctx, dir)
	if err == nil {
		return l, false, nil
	}
	if !errors.Is(err, backend.ErrNotExist) {
		return nil, false, err
	}
	l, err = local.Create(ctx, dir)
	if errors.Is(err, backend.ErrExists) {
		return nil, false, fmt.Errorf("%s holds files but no repository (an export interrupted at its very start, or something else): remove it or choose another directory: %w", dir, err)
	}
	return l, err == nil, err
}

// repoSubdirs are the parts of a repository an export carries (not tmp/,
// not locks/).
var repoSubdirs = []string{"keys", "data", "index", "snapshots"}

// hashRepository lists and hashes every repository file under
// dir/repository, in path order.
func hashRepository(ctx context.Context, dir string) ([]ManifestFile, error) {
	var files []ManifestFile
	add := func(p string) error {
		size, sum, err := hashFile(ctx, filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		files = append(files, ManifestFile{Path: p, Size: size, BLAKE3: sum})
		return nil
	}
	if err := add(ExportRepoDir + "/config"); err != nil {
		return nil, err
	}
	for _, sub := range repoSubdirs {
		root := filepath.Join(dir, ExportRepoDir, sub)
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.Type().IsRegular() {
				return nil
			}
			if _, err := crypto.ParseID(e.Name()); err != nil {
				return nil // not a repository object
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			return add(filepath.ToSlash(rel))
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("list the export: %w", err)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// hashFile returns the size and BLAKE3 (hex) of a file, reading it in
// pieces so a large pack costs no memory.
func hashFile(ctx context.Context, name string) (int64, string, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := blake3.New()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, "", err
		}
		k, err := f.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, "", fmt.Errorf("read %s: %w", name, err)
		}
	}
	return n, fmt.Sprintf("%x", h.Sum(nil)), nil
}

// ReadManifest reads and sanity-checks the manifest of an export.
func ReadManifest(dir string) (*Manifest, error) {
	f, err := os.Open(filepath.Join(dir, ManifestName))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s: not a finished Lumbung export (an interrupted export has none: run it again): %w", dir, ManifestName, err)
		}
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("manifest in %s is larger than %d bytes", dir, maxManifestSize)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest in %s is damaged: %w", dir, err)
	}
	if m.Format != manifestFormat || m.Version != 1 {
		return nil, fmt.Errorf("manifest in %s: format %q version %d is not a Lumbung export this version can read", dir, m.Format, m.Version)
	}
	return &m, nil
}

// safeManifestPath checks that a manifest path stays inside the export's
// repository: the manifest is read from a disk that may have been tampered
// with.
func safeManifestPath(p string) bool {
	return p == path.Clean(p) && strings.HasPrefix(p, ExportRepoDir+"/") && !strings.Contains(p, "..") && !strings.ContainsAny(p, "\\:\x00")
}
