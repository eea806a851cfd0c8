package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
)

// Snapshot records one backup: what was saved, from where, and the root tree.
type Snapshot struct {
	Time           time.Time  `json:"time"`
	Tree           crypto.ID  `json:"tree"`
	Paths          []string   `json:"paths"`
	Hostname       string     `json:"hostname,omitempty"`
	Username       string     `json:"username,omitempty"`
	UID            uint32     `json:"uid,omitempty"`
	GID            uint32     `json:"gid,omitempty"`
	Tags           []string   `json:"tags,omitempty"`
	Excludes       []string   `json:"excludes,omitempty"`
	Parent         *crypto.ID `json:"parent,omitempty"`
	Dataset        string     `json:"dataset,omitempty"`
	ProgramVersion string     `json:"program_version,omitempty"`
	Summary        *Summary   `json:"summary,omitempty"`
	// Unreadable lists files whose content could not be read; they are in
	// the tree with metadata and an error, but no content.
	Unreadable []UnreadableFile `json:"unreadable,omitempty"`
	// ChangedWhileRead lists files (at most 1000; Summary counts all) whose
	// size or times moved while the backup read them: they are stored as
	// read, which may mix old and new contents.
	ChangedWhileRead []string `json:"changed_while_read,omitempty"`
	// Verdict is set by ransomware detection (a later format feature);
	// readers that do not know it ignore it.
	Verdict *Verdict `json:"verdict,omitempty"`
}

// Summary holds the counters of the backup that made the snapshot.
type Summary struct {
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	FilesNew       int64     `json:"files_new"`
	FilesChanged   int64     `json:"files_changed"`
	FilesUnchanged int64     `json:"files_unchanged"`
	DirsNew        int64     `json:"dirs_new"`
	DirsChanged    int64     `json:"dirs_changed"`
	DirsUnchanged  int64     `json:"dirs_unchanged"`
	DataBlobs      int64     `json:"data_blobs"`
	TreeBlobs      int64     `json:"tree_blobs"`
	DataAdded      int64     `json:"data_added"`        // bytes of new data before compression
	DataAddedPack  int64     `json:"data_added_packed"` // bytes written to packs
	TotalFiles     int64     `json:"total_files_processed"`
	TotalBytes     int64     `json:"total_bytes_processed"`
	Skipped        int64     `json:"skipped,omitempty"` // special files not stored
	// FilesChangedWhileRead counts files that changed while they were read.
	FilesChangedWhileRead int64 `json:"files_changed_while_read,omitempty"`
}

// UnreadableFile names a file that could not be read and why.
type UnreadableFile struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Verdict is the ransomware detection result attached to a snapshot.
type Verdict struct {
	Level   string   `json:"level"` // clean, watch, suspect
	Reasons []string `json:"reasons,omitempty"`
}

var snapshotAD = []byte("lumbung/snapshot")

// maxSnapshotSize bounds a snapshot file read from storage.
const maxSnapshotSize = 64 << 20

// SaveSnapshot stores sn durably. Callers must have committed every pack and
// index the snapshot needs first (see Writer.Commit).
func (r *Repository) SaveSnapshot(ctx context.Context, sn *Snapshot) (crypto.ID, error) {
	return r.saveJSON(ctx, backend.SnapshotFile, snapshotAD, sn)
}

// saveJSON seals v and stores it under the hash of the stored bytes.
func (r *Repository) saveJSON(ctx context.Context, t backend.FileType, ad []byte, v any) (crypto.ID, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return crypto.ID{}, fmt.Errorf("encode %v: %w", t, err)
	}
	data := r.key.Seal(nil, plain, ad)
	id := crypto.Hash(data)
	if err := r.be.Save(ctx, backend.Handle{Type: t, Name: id.String()}, data); err != nil {
		return id, fmt.Errorf("save %v %s: %w", t, id.Short(), err)
	}
	return id, nil
}

// loadSealed loads a whole sealed file, checks it against its name and opens it.
func (r *Repository) loadSealed(ctx context.Context, t backend.FileType, id crypto.ID, ad []byte, limit int64) ([]byte, error) {
	data, err := loadLimited(ctx, r.be, backend.Handle{Type: t, Name: id.String()}, limit)
	if err != nil {
		return nil, err
	}
	if crypto.Hash(data) != id {
		return nil, fmt.Errorf("%v %s is damaged: content does not match its name", t, id.Short())
	}
	plain, err := r.key.Open(nil, data, ad)
	if err != nil {
		return nil, fmt.Errorf("%v %s: %w", t, id.Short(), err)
	}
	return plain, nil
}

// LoadSnapshot reads one snapshot.
func (r *Repository) LoadSnapshot(ctx context.Context, id crypto.ID) (*Snapshot, error) {
	plain, err := r.loadSealed(ctx, backend.SnapshotFile, id, snapshotAD, maxSnapshotSize)
	if err != nil {
		return nil, err
	}
	var sn Snapshot
	if err := json.Unmarshal(plain, &sn); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id.Short(), err)
	}
	// Authentic but empty (`null`, `{}`) is not a snapshot: it would
	// restore as nothing and look whole.
	if sn.Tree.IsZero() || sn.Time.IsZero() || len(sn.Paths) == 0 {
		return nil, fmt.Errorf("snapshot %s: no tree, time or paths", id.Short())
	}
	return &sn, nil
}

// SnapshotEntry pairs a snapshot with its id.
type SnapshotEntry struct {
	ID crypto.ID
	*Snapshot
}

// Snapshots loads every snapshot, oldest first. A damaged snapshot is
// reported through onErr (if non-nil) and skipped, so one bad file does not
// hide the others.
func (r *Repository) Snapshots(ctx context.Context, onErr func(id crypto.ID, err error)) ([]SnapshotEntry, error) {
	ids, err := listIDs(ctx, r.be, backend.SnapshotFile)
	if err != nil {
		return nil, err
	}
	out := make([]SnapshotEntry, 0, len(ids))
	for _, id := range ids {
		sn, err := r.LoadSnapshot(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if onErr != nil {
				onErr(id, err)
			}
			continue
		}
		out = append(out, SnapshotEntry{ID: id, Snapshot: sn})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// ErrNoSnapshot means no snapshot matched.
var ErrNoSnapshot = errors.New("no matching snapshot")

// SnapshotFilter selects snapshots; empty fields match everything.
type SnapshotFilter struct {
	Hostname string
	Paths    []string
	Tags     []string
	Dataset  string
}

// Match reports whether sn passes the filter.
func (f SnapshotFilter) Match(sn *Snapshot) bool {
	if f.Hostname != "" && sn.Hostname != f.Hostname {
		return false
	}
	if f.Dataset != "" && sn.Dataset != f.Dataset {
		return false
	}
	if len(f.Paths) > 0 && !sameStrings(f.Paths, sn.Paths) {
		return false
	}
	for _, t := range f.Tags {
		found := false
		for _, st := range sn.Tags {
			found = found || st == t
		}
		if !found {
			return false
		}
	}
	return true
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	as, bs := append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(as)
	sort.Strings(bs)
	for i := range as {
		if as[i] != bs[i] {
			return false
		}
	}
	return true
}

// MaxClockSkew is how far ahead of this machine's clock a snapshot or lock
// may be dated before readers distrust its time: clocks of hosts writing to
// one repository differ, but not by a day. Anyone who may add files can
// write a snapshot dated 2099; without this bound `latest` would pick it
// for ever.
const MaxClockSkew = 24 * time.Hour

// FindSnapshot resolves "latest" (newest matching f) or an id prefix of at
// least 4 hex digits. It is ResolveSnapshot without the warnings.
func (r *Repository) FindSnapshot(ctx context.Context, ref string, f SnapshotFilter) (SnapshotEntry, error) {
	sn, _, err := r.ResolveSnapshot(ctx, ref, f)
	return sn, err
}

// ResolveSnapshot resolves "latest" or an id prefix of at least 4 hex
// digits, and returns warnings for the caller to show (the library prints
// nothing).
//
// "latest" is the newest snapshot matching f that can be trusted to be one:
// snapshots dated more than MaxClockSkew in the future are passed over, and
// so, when the index is loaded, is a snapshot whose root tree cannot be
// read (one small blob read for the candidate, so latest stays fast). Each
// one passed over gets a warning naming it; a root tree that cannot be
// read because of storage trouble (not damage) is an error instead, so
// that a network failure never quietly selects older data. A forged
// snapshot dated now with a plausible tree cannot be told from a real one
// here: after an incident, restore by id (`lumbung snapshots` lists them).
func (r *Repository) ResolveSnapshot(ctx context.Context, ref string, f SnapshotFilter) (SnapshotEntry, []string, error) {
	if ref == "latest" {
		all, err := r.Snapshots(ctx, nil)
		if err != nil {
			return SnapshotEntry{}, nil, err
		}
		return r.latest(ctx, all, f, time.Now())
	}
	sn, err := r.findByPrefix(ctx, ref)
	return sn, nil, err
}

// latest picks the newest trustworthy snapshot of all (oldest first) that
// matches f; see ResolveSnapshot.
func (r *Repository) latest(ctx context.Context, all []SnapshotEntry, f SnapshotFilter, now time.Time) (SnapshotEntry, []string, error) {
	var warnings []string
	checkTree := r.idx.Len() > 0
	for i := len(all) - 1; i >= 0; i-- {
		sn := all[i]
		if !f.Match(sn.Snapshot) {
			continue
		}
		if sn.Time.After(now.Add(MaxClockSkew)) {
			warnings = append(warnings, fmt.Sprintf("snapshot %s is dated %s, in the future: it was not taken as \"latest\" (a host's clock is wrong, or someone forged it; `lumbung check` reports it)",
				sn.ID.Short(), sn.Time.UTC().Format(time.RFC3339)))
			continue
		}
		if checkTree {
			data, err := r.LoadBlob(ctx, sn.Tree, nil)
			if err == nil {
				_, err = DecodeTree(data)
			} else if ctx.Err() != nil {
				return SnapshotEntry{}, warnings, ctx.Err()
			} else if !errors.Is(err, ErrDamagedBlob) && !errors.Is(err, ErrBlobNotFound) && !errors.Is(err, backend.ErrNotExist) {
				// Storage trouble, not a bad snapshot: passing over it
				// would quietly pick older data.
				return SnapshotEntry{}, warnings, fmt.Errorf("read the root directory of snapshot %s to resolve \"latest\": %w", sn.ID.Short(), err)
			}
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("snapshot %s (%s) was not taken as \"latest\": its root directory cannot be read (%v); run `lumbung check`",
					sn.ID.Short(), sn.Time.UTC().Format(time.RFC3339), err))
				continue
			}
		}
		return sn, warnings, nil
	}
	if len(warnings) > 0 {
		return SnapshotEntry{}, warnings, fmt.Errorf("%w: no snapshot can be taken as \"latest\" (see the warnings); give a snapshot id", ErrNoSnapshot)
	}
	return SnapshotEntry{}, nil, fmt.Errorf("%w: the repository has no snapshot yet; run `lumbung backup` first", ErrNoSnapshot)
}

// findByPrefix resolves an id prefix of at least 4 hex digits.
func (r *Repository) findByPrefix(ctx context.Context, ref string) (SnapshotEntry, error) {
	ref = strings.ToLower(ref)
	if len(ref) < 4 {
		return SnapshotEntry{}, fmt.Errorf("snapshot id %q is too short: give at least 4 hex digits or \"latest\"", ref)
	}
	ids, err := listIDs(ctx, r.be, backend.SnapshotFile)
	if err != nil {
		return SnapshotEntry{}, err
	}
	var match []crypto.ID
	for _, id := range ids {
		if strings.HasPrefix(id.String(), ref) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 0:
		return SnapshotEntry{}, fmt.Errorf("%w: no snapshot id starts with %q; `lumbung snapshots` lists them", ErrNoSnapshot, ref)
	case 1:
		sn, err := r.LoadSnapshot(ctx, match[0])
		if err != nil {
			return SnapshotEntry{}, err
		}
		return SnapshotEntry{ID: match[0], Snapshot: sn}, nil
	}
	return SnapshotEntry{}, fmt.Errorf("snapshot id prefix %q is ambiguous (%d matches): give more digits", ref, len(match))
}
