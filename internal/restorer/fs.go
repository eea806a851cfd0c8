package restorer

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// checkName refuses entry names that are not a single plain component on
// this system. DecodeTree already applies repository.ValidName; this is
// checked again here, with the OS's own rules added (on Windows '\' and ':'
// are separators or drive and stream markers).
func checkName(name string) error {
	if err := repository.ValidName(name); err != nil {
		return err
	}
	if !filepath.IsLocal(name) || filepath.Base(name) != name || filepath.VolumeName(name) != "" {
		return fmt.Errorf("entry name %q is not a plain file name on this system", name)
	}
	return checkNameOS(name)
}

// maxNameBytes is the longest file name most file systems take.
const maxNameBytes = 255

// partialName is the name a file is written under until it is complete:
// NAME.lumbung-partial, shortened for long names and numbered when the
// directory t itself holds an entry of that name.
func partialName(t *repository.Tree, name string) string {
	base := name
	if limit := maxNameBytes - len(PartialSuffix) - 8; len(base) > limit {
		h := crypto.Hash([]byte(name))
		base = base[:limit-9] + "~" + h.String()[:8]
	}
	cand := base + PartialSuffix
	for i := 1; t.Find(cand) != nil; i++ {
		cand = base + PartialSuffix + "." + strconv.Itoa(i)
	}
	return cand
}

// ensureDir makes path a real directory: it creates it, or accepts an
// existing directory, or removes a file, symlink or special file standing
// there (never following it) and creates the directory. The parent must
// already have been ensured. The directory is recorded as used, so it is
// never removed later in this restore; its identity is returned, which is
// checked again whenever it is opened to restore files into.
func (r *restorer) ensureDir(path string) (fsmeta.Meta, error) {
	err := mkdirPath(path, 0o700)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fsmeta.Meta{}, err
	}
	m, lerr := lstatPath(path)
	if lerr != nil {
		return fsmeta.Meta{}, lerr
	}
	if m.Kind == fsmeta.KindDir && err != nil && !r.root && m.Mode&0o700 != 0o700 {
		// An existing directory (say from an earlier restore, read-only in
		// the snapshot): the owner needs rwx to restore into it; its own
		// mode is applied again once everything inside is done.
		if cerr := chmodPath(path, m.Mode|0o700); cerr != nil {
			return fsmeta.Meta{}, fmt.Errorf("existing directory is not writable: %w", cerr)
		}
	}
	if m.Kind != fsmeta.KindDir {
		if err == nil {
			return fsmeta.Meta{}, fmt.Errorf("created a directory but found a %s", m.Kind)
		}
		if err := removePath(path); err != nil {
			return fsmeta.Meta{}, fmt.Errorf("a %s is in the way and cannot be removed: %w", m.Kind, err)
		}
		if err := mkdirPath(path, 0o700); err != nil {
			return fsmeta.Meta{}, err
		}
		if m, err = lstatPath(path); err != nil {
			return fsmeta.Meta{}, err
		}
		if m.Kind != fsmeta.KindDir {
			return fsmeta.Meta{}, fmt.Errorf("created a directory but found a %s", m.Kind)
		}
	}
	r.markUsed(m)
	return m, nil
}

// replace runs do (a rename, link or symlink creating path); if something
// stands at path and is in the way, it is removed (a file or symlink is
// unlinked, never followed; a directory only under the rules of removeDir)
// and do is run again.
func (r *restorer) replace(path string, do func() error) error {
	return r.clearAndRetry(path, do(), do)
}

// clearAndRetry is replace after a first run of do that returned err.
func (r *restorer) clearAndRetry(path string, err error, do func() error) error {
	if err == nil {
		return nil
	}
	m, lerr := lstatPath(path)
	if lerr != nil {
		return err
	}
	switch {
	case m.Kind == fsmeta.KindDir:
		if rerr := r.removeDir(path, m); rerr != nil {
			return rerr
		}
	case errors.Is(err, fs.ErrExist):
		if rerr := removePath(path); rerr != nil {
			return fmt.Errorf("%w; cannot remove the %s in the way: %v", err, m.Kind, rerr)
		}
	default:
		return err
	}
	return do()
}

// removeDir removes a directory standing where the snapshot has a file or
// symlink, only with Options.Overwrite, and never one this restore created
// or entered (it would hold restored data, or be the path to it).
func (r *restorer) removeDir(path string, m fsmeta.Meta) error {
	switch {
	case m.Inode == 0:
		return errors.New("a directory is in the way")
	case r.isUsed(m):
		return errors.New("a directory restored from the snapshot stands here (names that differ only in case or Unicode form on this file system?)")
	case !r.opts.Overwrite:
		return errors.New("a directory is in the way (restore with overwrite to replace it)")
	}
	return removeAllPath(path)
}

// createPartial creates the partial file tmp afresh and empty (O_EXCL,
// never through a symlink), removing one left by an interrupted restore.
// It works by path: the descriptor-based restore of contents on unix has
// its own (createPartialFile); this serves copies of hard links and other
// systems.
func createPartial(tmp string) (*os.File, error) {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL | oNoFollow
	f, err := openPath(tmp, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if m, lerr := lstatPath(tmp); lerr == nil && m.Kind == fsmeta.KindDir {
			return nil, fmt.Errorf("a directory is in the way: %w", err)
		}
		if rerr := removePath(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return nil, rerr
		}
		f, err = openPath(tmp, flags, 0o600)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// sparseUnit is the granularity at which runs of zeroes are skipped (left
// as holes) instead of written.
const sparseUnit = 64 << 10

var zeroes = make([]byte, sparseUnit)

// writeSparse writes data at off, skipping runs of zeroes, and returns the
// offset it wrote up to (off if it wrote nothing). Skipped runs read back
// as zeroes: they are holes below the file's end, and finishFile extends a
// file whose writes fell short of its size. A preallocated (dense) file is
// written whole: its blocks are there already, and its partial blocks are
// gathered from every byte of the blobs around them.
func writeSparse(f pfile, off int64, data []byte) (int64, error) {
	if f.dense() {
		return off + int64(len(data)), f.writeAt(data, off)
	}
	isZero := func(i int) bool {
		e := min(i+sparseUnit, len(data))
		return bytes.Equal(data[i:e], zeroes[:e-i])
	}
	end := off
	for i := 0; i < len(data); {
		for i < len(data) && isZero(i) {
			i += sparseUnit
		}
		if i >= len(data) {
			break
		}
		j := i + sparseUnit
		for j < len(data) && !isZero(j) {
			j += sparseUnit
		}
		j = min(j, len(data))
		if err := f.writeAt(data[i:j], off+int64(i)); err != nil {
			return end, err
		}
		end = off + int64(j)
		i = j
	}
	return end, nil
}

// applyMeta sets owner (as root), mode bits and times of path, never
// following a final symlink. Owners are set first because chown clears
// setuid and setgid; times last. Without root, setuid and setgid are dropped
// from files (as tar does), so a restore cannot hand out the restoring
// user's rights.
func (r *restorer) applyMeta(path string, m meta, kind fsmeta.Kind) error {
	var errs []error
	if r.root {
		if err := onPath(path, func(p string) error { return fsmeta.Chown(p, m.uid, m.gid, m.user, m.group, true) }); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.setXattrs(m, func(xs []fsmeta.Xattr) error { return fsmeta.SetXattrsPath(path, xs, r.root) }); err != nil {
		errs = append(errs, err)
	}
	if kind != fsmeta.KindSymlink {
		if err := chmodPath(path, r.modeOf(m, kind)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := onPath(path, func(p string) error {
		return fsmeta.SetTimes(p, r.atimeOf(m), m.mtime, kind == fsmeta.KindSymlink)
	}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// setXattrs applies m's extended attributes with set, after the owner
// (chown drops file capabilities) and before the mode (which sets an ACL's
// mask). Where the target's file system holds none, the first entry that
// has some says so and the rest are not tried.
func (r *restorer) setXattrs(m meta, set func([]fsmeta.Xattr) error) error {
	if len(m.xattrs) == 0 || r.noXattrs.Load() {
		return nil
	}
	xs := make([]fsmeta.Xattr, len(m.xattrs))
	for i, x := range m.xattrs {
		xs[i] = fsmeta.Xattr{Name: x.Name, Value: x.Value}
	}
	err := set(xs)
	if errors.Is(err, fsmeta.ErrXattrUnsupported) {
		if r.noXattrs.Swap(true) {
			return nil
		}
		return fmt.Errorf("%w (extended attributes, ACLs and labels of this and later entries are not restored)", err)
	}
	return err
}

// modeOf is the mode applied to an entry: setuid and setgid are dropped
// from files unless restoring as root.
func (r *restorer) modeOf(m meta, kind fsmeta.Kind) uint32 {
	mode := m.mode & fsmeta.ModeMask
	if !r.root && kind != fsmeta.KindDir {
		mode &^= fsmeta.ModeSetuid | fsmeta.ModeSetgid
	}
	return mode
}

// atimeOf is the access time applied: the snapshot's, or the restore's
// start where the snapshot has none.
func (r *restorer) atimeOf(m meta) time.Time {
	if m.atime.IsZero() {
		return r.now
	}
	return m.atime
}
