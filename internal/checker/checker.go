// Package checker implements `lumbung check`: it verifies that a repository
// can restore every snapshot it holds, and says in plain words what cannot be
// restored and which files are affected when it finds damage.
//
// Always checked (reading only small parts of the storage): the config and
// every key file, every index file, every pack header against the index,
// every snapshot and every directory tree reachable from it, down to the
// presence in the index of every blob a file needs. With Options.ReadData
// (or a ReadDataSubset) every byte of the selected packs is also read,
// checked against the pack's name and decoded blob by blob.
//
// Damage goes into the Report as errors (the repository cannot restore
// something; each error names the files affected), harmless findings as
// warnings (packs an interrupted backup left without an index, stale locks,
// duplicate blobs). Check never modifies the repository: it writes, removes
// and locks nothing (not even stale locks), so it is safe to run at any
// time, also while backups run.
package checker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// Repo is what check needs from an open repository. The caller need not
// load the index: check reads every index file itself, so that it can tell
// which one is damaged.
type Repo interface {
	Config() repository.Config
	Backend() backend.Backend
	LoadIndexFile(ctx context.Context, id crypto.ID) ([]repository.IndexPack, error)
	ReadPackHeader(ctx context.Context, id crypto.ID, size int64) ([]repository.PackedBlob, error)
	Snapshots(ctx context.Context, onErr func(id crypto.ID, err error)) ([]repository.SnapshotEntry, error)
	DecodeBlob(id crypto.ID, loc repository.Location, sealed, buf []byte) ([]byte, error)
	DecodeBlobInPlace(id crypto.ID, loc repository.Location, sealed []byte, getBuf func(n int) []byte) ([]byte, error)
	Locks(ctx context.Context) (map[crypto.ID]*repository.LockInfo, error)
}

var _ Repo = (*repository.Repository)(nil)

// Options control what check reads.
type Options struct {
	// ReadData reads and verifies every byte of every pack.
	ReadData bool
	// ReadDataSubset, 0 < f <= 1, reads this fraction of the packs (at
	// least one), chosen at random but reproducibly from Seed. 0 reads no
	// data unless ReadData is set.
	ReadDataSubset float64
	// Seed chooses the subset; 0 picks a random one. The seed used is in
	// Report.Seed, so a run can be repeated exactly.
	Seed uint64
	// Progress receives the number of packs checked and bytes read; nil
	// means no progress display.
	Progress ui.Progress
}

// Problem is one finding. Kind is one of "config", "key", "index", "pack",
// "snapshot", "tree", "blob", "lock"; Object names the file or object
// concerned (a full id where there is one). Files lists up to 20 file paths
// (as stored in the snapshots) that the problem makes unrestorable; when
// there are more, the last entry says how many ("(+57 more)").
type Problem struct {
	Kind    string   `json:"kind"`
	Object  string   `json:"object"`
	Message string   `json:"message"`
	Files   []string `json:"files,omitempty"`
}

// Report is the result of a check.
type Report struct {
	Snapshots  int `json:"snapshots"`   // snapshots read
	Trees      int `json:"trees"`       // distinct directory trees read
	Packs      int `json:"packs"`       // pack files in storage, headers checked
	IndexFiles int `json:"index_files"` // index files in storage
	Blobs      int `json:"blobs"`       // distinct blobs in the index
	PacksRead  int `json:"packs_read"`  // packs read in full (ReadData, ReadDataSubset)
	// BytesRead counts the bytes of packs read in full.
	BytesRead int64 `json:"bytes_read"`
	// Seed is the seed that chose the packs of a ReadDataSubset run.
	Seed uint64 `json:"seed,omitempty"`
	// Restorable lists the snapshots (full ids, oldest first) whose every
	// file this check found restorable: each blob a file needs has a place
	// that is indexed, in a pack storage holds, listed in its header, and
	// (for the packs read in full) verified. Damaged lists the others. A
	// forged index or a pack of garbage does not make a snapshot damaged
	// while its own blobs have an intact place.
	Restorable []string `json:"restorable_snapshots"`
	Damaged    []string `json:"damaged_snapshots,omitempty"`
	// Errors is real damage: the repository cannot restore something.
	Errors []Problem `json:"errors"`
	// Warnings are harmless: unindexed packs left by an interrupted backup
	// (the next backup adopts them), stale locks, leftover duplicates.
	Warnings []Problem `json:"warnings"`
}

// OK reports whether the check found no errors (warnings are allowed).
func (r *Report) OK() bool { return len(r.Errors) == 0 }

// Check verifies repo. It returns an error only when it cannot run at all
// (ctx cancelled, storage unreachable, invalid options); everything it finds
// wrong with the repository is in the Report.
func Check(ctx context.Context, repo Repo, opts Options) (*Report, error) {
	if repo == nil {
		return nil, errors.New("check: no repository")
	}
	f := opts.ReadDataSubset
	if math.IsNaN(f) || f < 0 || f > 1 {
		return nil, fmt.Errorf("check: read-data subset %v must be between 0 and 1", f)
	}
	if opts.Progress == nil {
		opts.Progress = ui.NoProgress
	}
	c := newChecker(repo, opts)
	if err := c.run(ctx); err != nil {
		return nil, err
	}
	return c.report(), nil
}

// checker holds the state of one run.
type checker struct {
	repo Repo
	be   backend.Backend
	cfg  repository.Config
	opts Options
	prog ui.Progress
	rep  Report

	// idx is built here from the index files; orphans holds the blobs of
	// packs that no index names. The repository's own index is not used
	// or changed.
	idx     *repository.Index
	orphans *repository.Index

	// Set while loading the index, read-only afterwards.
	claims map[crypto.ID]*claim
	// Set while listing packs, read-only afterwards (except under mu).
	packs map[crypto.ID]*packInfo

	mu        sync.Mutex // guards everything below during parallel phases
	damages   map[string]*damage
	badPlace  map[placeKey]*damage  // damage at one place of a blob
	badPack   map[crypto.ID]*damage // every blob the index places in the pack is affected
	badTree   map[crypto.ID]*damage // trees that could not be read or decoded
	unindexed []crypto.ID           // readable packs in no index
	headers   map[crypto.ID][]repository.PackedBlob
	deferred  []crypto.ID // packs to read whose header is unreadable
	warnings  []Problem
	errs      []Problem
	dupBlobs  int
	dupPacks  int
	// badIndexFiles counts index files that could not be read.
	badIndexFiles int

	// Tree walk state (walking goroutine only).
	state  map[crypto.ID]uint8
	cache  map[crypto.ID][]*repository.Node
	cached int
	locBuf []repository.Location // scratch for status
}

// claim is what the index files say about one pack.
type claim struct {
	index   crypto.ID   // first index file naming it
	indexes []crypto.ID // index files naming it, at most maxIndexesPerPack
	files   int         // index files naming it
	maxEnd  uint64      // end of the furthest blob any index places in it
	entries int         // blobs the index places in it (after dedup)
}

// maxIndexesPerPack bounds the index files remembered per pack (to name
// them in messages).
const maxIndexesPerPack = 8

// packInfo is a pack file in storage.
type packInfo struct {
	size int64
	read bool // selected for reading in full
}

func newChecker(repo Repo, opts Options) *checker {
	return &checker{
		repo: repo, be: repo.Backend(), cfg: repo.Config(), opts: opts, prog: opts.Progress,
		idx: repository.NewIndex(), orphans: repository.NewIndex(),
		claims: make(map[crypto.ID]*claim), packs: make(map[crypto.ID]*packInfo),
		damages: make(map[string]*damage), badPlace: make(map[placeKey]*damage),
		badPack: make(map[crypto.ID]*damage), badTree: make(map[crypto.ID]*damage),
		headers: make(map[crypto.ID][]repository.PackedBlob),
	}
}

func (c *checker) run(ctx context.Context) error {
	c.prog.Start("check", ui.Counts{})
	// Order matters when backups run meanwhile: a writer stores packs,
	// then the index naming them, then the snapshot. Reading snapshots
	// first, then index files, then the pack list means that everything
	// a snapshot seen here needs is visible when its turn comes.
	if err := c.checkConfig(ctx); err != nil {
		return err
	}
	if err := c.checkKeys(ctx); err != nil {
		return err
	}
	if err := c.checkLocks(ctx); err != nil {
		return err
	}
	snaps, err := c.loadSnapshots(ctx)
	if err != nil {
		return err
	}
	if err := c.loadIndex(ctx); err != nil {
		return err
	}
	if err := c.checkPacks(ctx); err != nil {
		return err
	}
	tainted, err := c.walk(ctx, snaps)
	if err != nil {
		return err
	}
	if tainted {
		if err := c.attribute(ctx, snaps); err != nil {
			return err
		}
	}
	c.rep.Restorable = []string{}
	for _, sn := range snaps {
		if c.state[sn.Tree] == stClean {
			c.rep.Restorable = append(c.rep.Restorable, sn.ID.String())
		} else {
			c.rep.Damaged = append(c.rep.Damaged, sn.ID.String())
		}
	}
	return ctx.Err()
}

// fatal returns the context's error when it ended (the real reason a call
// failed), err otherwise.
func fatal(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (c *checker) warn(kind, object, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warnings = append(c.warnings, Problem{Kind: kind, Object: object, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) fail(kind, object, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, Problem{Kind: kind, Object: object, Message: fmt.Sprintf(format, args...)})
}

// why is err's message without the prefixes that repeat what the caller
// already says ("pack 1a2b3c4d: ").
func why(err error, prefixes ...string) string {
	s := err.Error()
	for _, p := range prefixes {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// packPath is where the local backend stores a pack, for advice.
func packPath(id crypto.ID) string {
	s := id.String()
	return "data/" + s[:2] + "/" + s
}

func kindOf(t backend.FileType) string {
	if t == backend.PackFile {
		return "pack"
	}
	return t.String()
}

// fileEntry is a listed file whose name is an id.
type fileEntry struct {
	id   crypto.ID
	size int64
}

// list lists the files of type t, sorted by name. Names that are not ids
// are reported as warnings: nothing in Lumbung reads them.
func (c *checker) list(ctx context.Context, t backend.FileType) ([]fileEntry, error) {
	var out []fileEntry
	var strays []string
	err := c.be.List(ctx, t, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err != nil || id.String() != fi.Name {
			if len(strays) < 100 {
				strays = append(strays, fi.Name)
			}
			return nil
		}
		out = append(out, fileEntry{id: id, size: fi.Size})
		return nil
	})
	if err != nil {
		return nil, fatal(ctx, fmt.Errorf("check: list %s files in %s: %w", t, c.be.Location(), err))
	}
	for _, name := range strays {
		c.warn(kindOf(t), name, "%s/%s is not a Lumbung file (its name is not an id); nothing reads it, and it can be moved away", t.Dir(), name)
	}
	sortEntries(out)
	return out, nil
}

func sortEntries(es []fileEntry) {
	slices.SortFunc(es, func(a, b fileEntry) int { return compareIDs(a.id, b.id) })
}

// checkConfig re-reads the plaintext config header (the sealed body was
// authenticated when the repository was opened) and validates the settings.
func (c *checker) checkConfig(ctx context.Context) error {
	if err := repository.CheckFormat(ctx, c.be); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.fail("config", "config", "the repository config cannot be read (%v): it changed or was damaged after the repository was opened; restore it from another copy of the repository", err)
		return nil
	}
	if err := c.cfg.Validate(); err != nil {
		c.fail("config", "config", "the repository config is invalid (%v)", err)
	}
	return nil
}

// Key files are small JSON documents; see repository.KeySlot.
const (
	maxKeyFileSize   = 1 << 16
	wrappedKeyLength = 1 + 3*crypto.KeySize + crypto.Overhead
)

func (c *checker) checkKeys(ctx context.Context) error {
	keys, err := c.list(ctx, backend.KeyFile)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		c.fail("key", "keys", "the repository has no key files: nobody can open it again once this session ends; add a key with `lumbung key add` now")
	}
	for _, k := range keys {
		if msg := c.checkKey(ctx, k); msg != "" {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.fail("key", k.id.String(), "key file %s is damaged (%s): the password stored in it no longer opens the repository; remove it with `lumbung key remove` and add the password again with `lumbung key add`", k.id.Short(), msg)
		}
	}
	return c.checkForeignKeys(ctx)
}

// foreignKeyFinder is what a repository opened with a password can tell
// about key slots (repository.ForeignKeySlots).
type foreignKeyFinder interface {
	ForeignKeySlots(ctx context.Context) (foreign []crypto.ID, untried int, err error)
}

// checkForeignKeys reports key slots that open with this repository's
// password but belong to another repository.
func (c *checker) checkForeignKeys(ctx context.Context) error {
	f, ok := c.repo.(foreignKeyFinder)
	if !ok {
		return nil
	}
	foreign, untried, err := f.ForeignKeySlots(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.warn("key", "keys", "could not try the other key slots with this password: %v", err)
		return nil
	}
	for _, id := range foreign {
		c.fail("key", id.String(), "key file %s opens with this repository's password but wraps another master key: someone who knows the password added it (an attacker holding it, or an init of another repository interrupted here); it opens none of this repository's data. Check `lumbung key list`, remove it with `lumbung key remove %s` (an admin of the storage can), and change the password everywhere it is used", id.Short(), id.Short())
	}
	if untried > 0 {
		c.warn("key", "keys", "%d key slots were not tried with this password (a check tries %d): a repository rarely has that many; look at `lumbung key list`", untried, repository.MaxProbedSlots)
	}
	return nil
}

func (c *checker) checkKey(ctx context.Context, k fileEntry) string {
	if k.size <= 0 || k.size > maxKeyFileSize {
		return fmt.Sprintf("it is %d bytes", k.size)
	}
	data, err := c.be.Load(ctx, backend.Handle{Type: backend.KeyFile, Name: k.id.String()}, 0, k.size)
	if err != nil {
		return "cannot be read: " + err.Error()
	}
	if crypto.Hash(data) != k.id {
		return "content does not match its name"
	}
	var ks repository.KeySlot
	if err := json.Unmarshal(data, &ks); err != nil {
		return "not a key slot: " + err.Error()
	}
	switch {
	case ks.KDF != crypto.KDFArgon2id:
		return fmt.Sprintf("unknown key derivation %q", ks.KDF)
	case ks.Params.Validate() != nil:
		return ks.Params.Validate().Error()
	case len(ks.Salt) < 8 || len(ks.Salt) > 64:
		return fmt.Sprintf("salt of %d bytes", len(ks.Salt))
	case len(ks.Data) != wrappedKeyLength:
		return fmt.Sprintf("wrapped key of %d bytes, want %d", len(ks.Data), wrappedKeyLength)
	}
	return ""
}

func (c *checker) checkLocks(ctx context.Context) error {
	files, err := c.list(ctx, backend.LockFile)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return nil
	}
	locks, err := c.repo.Locks(ctx)
	if err != nil {
		return fatal(ctx, fmt.Errorf("check: read locks: %w", err))
	}
	now := time.Now()
	for _, f := range files {
		l, ok := locks[f.id]
		if !ok {
			c.warn("lock", f.id.String(), "lock file %s cannot be read (damaged, or released while check ran); no command honours it, so it blocks nothing, and it can be deleted", f.id.Short())
			continue
		}
		kind := "shared"
		if l.Exclusive {
			kind = "exclusive"
		}
		switch {
		case l.FromFuture(now):
			c.warn("lock", f.id.String(), "%s lock %s (PID %d on %s) is dated %s, more than a day in the future: no command honours it; a host's clock is wrong, or someone who may add files forged it; `lumbung unlock` removes it",
				kind, f.id.Short(), l.PID, l.Hostname, l.Time.UTC().Format(time.RFC3339))
		case l.Stale(now):
			c.warn("lock", f.id.String(), "stale %s lock held by PID %d on %s since %s: its process has probably died; run `lumbung unlock` to remove it",
				kind, l.PID, l.Hostname, l.Time.Local().Format(time.DateTime))
		case l.Exclusive:
			c.warn("lock", f.id.String(), "an exclusive lock is held by PID %d on %s since %s (maintenance is running): errors found now may come from its changes; check again when it has finished",
				l.PID, l.Hostname, l.Time.Local().Format(time.DateTime))
		}
	}
	return nil
}

func (c *checker) loadSnapshots(ctx context.Context) ([]repository.SnapshotEntry, error) {
	if _, err := c.list(ctx, backend.SnapshotFile); err != nil { // strays
		return nil, err
	}
	snaps, err := c.repo.Snapshots(ctx, func(id crypto.ID, err error) {
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, backend.ErrNotExist) {
			return // removed meanwhile (forget)
		}
		c.fail("snapshot", id.String(), "snapshot %s cannot be read (%s): it cannot be restored; other snapshots are not affected",
			id.Short(), why(err, "snapshot "+id.Short()+": ", "snapshot "+id.Short()+" is "))
	})
	if err != nil {
		return nil, fatal(ctx, fmt.Errorf("check: read snapshots: %w", err))
	}
	out := snaps[:0]
	future := time.Now().Add(repository.MaxClockSkew)
	for _, sn := range snaps {
		if sn.Tree.IsZero() {
			c.fail("snapshot", sn.ID.String(), "snapshot %s has no root directory: it cannot be restored", sn.ID.Short())
			continue
		}
		if sn.Time.After(future) {
			c.fail("snapshot", sn.ID.String(), "snapshot %s (host %q, paths %s) is dated %s, more than a day in the future: `latest` passes over it; either that host's clock is wrong, or someone who may add files to the repository forged it (then treat that credential as compromised, and restore by snapshot id)",
				sn.ID.Short(), sn.Hostname, strings.Join(sn.Paths, ", "), sn.Time.UTC().Format(time.RFC3339))
		}
		out = append(out, sn)
	}
	c.rep.Snapshots = len(out)
	return out, nil
}

// report assembles the final report.
func (c *checker) report() *Report {
	r := c.rep
	r.Errors = append([]Problem{}, c.errs...)
	for _, d := range c.damages {
		r.Errors = append(r.Errors, d.problem())
	}
	r.Warnings = append([]Problem{}, c.warnings...)
	r.Warnings = append(r.Warnings, c.unindexedWarnings()...)
	if c.dupBlobs > 0 {
		r.Warnings = append(r.Warnings, Problem{Kind: "index", Object: "duplicates", Message: fmt.Sprintf(
			"%s stored in more than one pack (left by backups that ran at the same time or were interrupted); this is harmless and only takes space, as restore uses whichever copy verifies%s",
			plural(c.dupBlobs, "blob is", "blobs are"), map[bool]string{false: " (run with --read-data to verify every copy)", true: ""}[c.opts.ReadData])})
	}
	if c.dupPacks > 0 {
		r.Warnings = append(r.Warnings, Problem{Kind: "index", Object: "duplicates", Message: fmt.Sprintf(
			"%s listed by more than one index file (a pack adopted by two backups at once); this is harmless",
			plural(c.dupPacks, "pack is", "packs are"))})
	}
	sortProblems(r.Errors)
	sortProblems(r.Warnings)
	return &r
}

// maxUnindexedListed bounds the per-pack warnings for unindexed packs.
const maxUnindexedListed = 20

func (c *checker) unindexedWarnings() []Problem {
	var ids []crypto.ID
	for _, id := range c.unindexed {
		if c.badPack[id] == nil && c.damages[packKey(id)] == nil {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, compareIDs)
	cause := "left by an interrupted backup (or one still running)"
	if c.badIndexFiles > 0 {
		cause = "left by an interrupted backup, or listed only by a damaged index file (see the errors)"
	}
	var out []Problem
	for i, id := range ids {
		if i == maxUnindexedListed {
			out = append(out, Problem{Kind: "pack", Object: "unindexed", Message: fmt.Sprintf(
				"%s in no index, like the ones above; the next backup will index them", plural(len(ids)-i, "more pack is", "more packs are"))})
			break
		}
		out = append(out, Problem{Kind: "pack", Object: id.String(), Message: fmt.Sprintf(
			"pack %s is in no index: %s; the next backup will index it", id.Short(), cause)})
	}
	return out
}

// workers is how many packs are checked at once: enough to keep remote
// storage busy, not so many that memory runs away (see budget).
func workers() int { return runtime.GOMAXPROCS(0) + 2 }

func compareIDs(a, b crypto.ID) int { return bytes.Compare(a[:], b[:]) }

func sortIDs(ids []crypto.ID) { slices.SortFunc(ids, compareIDs) }

func sortFunc[T any](s []T, cmp func(a, b T) int) { slices.SortFunc(s, cmp) }

func randUint64() uint64 { return rand.Uint64() }
