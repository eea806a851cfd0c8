package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// abandonedPrefix names the key files of an interrupted initialisation once
// they are moved into tmp/ (see reclaimAbandoned).
const abandonedPrefix = "abandoned-key-"

// abandonedAfter is how long a leftover must have been untouched before it
// is taken for abandoned: an initialisation takes a second or two, and one
// still running must not lose its key slot to a second init of the same
// directory.
const abandonedAfter = time.Minute

// errInitRunning says why a fresh leftover is not reclaimed.
var errInitRunning = errors.New("it holds a repository layout without a config that changed in the last minute: another init may be running there; if one was interrupted, run init again in a minute")

// UnfinishedKeys reports whether dir holds what a creation stopped before
// its config was saved leaves behind — the layout (perhaps part of it),
// temporary files and key files, and nothing else: no config, no pack,
// index, snapshot or lock file — and returns the names of those key files.
// A resumed copy checks them against its source's keys; init reclaims them.
func UnfinishedKeys(dir string) (keys []string, ok bool, err error) {
	keys, _, ok, err = scanUnfinished(dir)
	return keys, ok, err
}

// scanUnfinished is UnfinishedKeys that also returns the newest
// modification time of the directories and key files it saw.
func scanUnfinished(dir string) (keys []string, newest time.Time, ok bool, err error) {
	layout := map[string]bool{tmpDir: true}
	for _, t := range backend.AllTypes {
		if d := t.Dir(); d != "" {
			layout[d] = true
		}
	}
	seen := func(p string) {
		if fi, err := os.Lstat(p); err == nil && fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
	}
	top, err := os.ReadDir(dir)
	if err != nil {
		return nil, newest, false, err
	}
	seen(dir)
	for _, e := range top {
		name := e.Name()
		if !layout[name] || !e.IsDir() {
			return nil, newest, false, nil // a config, or something that is not ours
		}
		seen(filepath.Join(dir, name))
		if name == tmpDir {
			continue
		}
		sub, err := os.ReadDir(filepath.Join(dir, name))
		if err != nil {
			return nil, newest, false, err
		}
		for _, f := range sub {
			switch {
			case name == backend.KeyFile.Dir() && f.Type().IsRegular():
				keys = append(keys, f.Name())
				seen(filepath.Join(dir, name, f.Name()))
			case name == backend.PackFile.Dir() && f.IsDir() && len(f.Name()) == 2:
				inner, err := os.ReadDir(filepath.Join(dir, name, f.Name()))
				if err != nil {
					return nil, newest, false, err
				}
				if len(inner) > 0 {
					return nil, newest, false, nil
				}
			default:
				return nil, newest, false, nil
			}
		}
	}
	return keys, newest, true, nil
}

// reclaimAbandoned makes dir reusable when it holds what an initialisation
// killed before its config was saved leaves behind (see UnfinishedKeys).
// Those key slots wrap a master key that protects nothing, and left in
// place they would sit next to the new repository's slot as slots of
// "another repository" (and cost every open a key derivation). They are
// moved into tmp/, where they go the way of every leftover there (a backup
// clears it once files are an hour old), and the layout is finished by the
// caller. It reports whether dir was such a leftover; anything else is left
// untouched. A leftover changed within abandonedAfter gives errInitRunning.
func reclaimAbandoned(dir string, now time.Time) (bool, error) {
	keys, newest, ok, err := scanUnfinished(dir)
	if err != nil || !ok {
		return false, nil // not a directory we can read, or not ours: the caller's error stands
	}
	if now.Sub(newest) < abandonedAfter {
		return false, errInitRunning
	}
	tmp := filepath.Join(dir, tmpDir)
	if err := os.MkdirAll(tmp, dirMode); err != nil {
		return false, err
	}
	for _, k := range keys {
		err := os.Rename(filepath.Join(dir, backend.KeyFile.Dir(), k), filepath.Join(tmp, abandonedPrefix+k))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("move aside key %s of an interrupted initialisation: %w", k, err)
		}
	}
	return true, nil
}
