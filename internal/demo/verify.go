package demo

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// compareTrees checks that every file under a exists under b with the same
// bytes and mode, and that b has nothing extra. It returns the file count.
func compareTrees(a, b string) (int, error) {
	seen := map[string]bool{}
	n := 0
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		seen[rel] = true
		if !d.Type().IsRegular() {
			return nil
		}
		ha, err := fileHash(p)
		if err != nil {
			return err
		}
		hb, err := fileHash(filepath.Join(b, rel))
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrVerifyFailed, rel, err)
		}
		if ha != hb {
			return fmt.Errorf("%w: %s", ErrVerifyFailed, rel)
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	err = filepath.WalkDir(b, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b, p)
		if !seen[rel] {
			return fmt.Errorf("%w: unexpected %s", ErrVerifyFailed, rel)
		}
		return nil
	})
	return n, err
}

func fileHash(p string) ([32]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, err
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// restoredPath is where a restore into target puts the backed-up directory
// src: restore recreates the snapshot's absolute paths below the target.
func restoredPath(target, src string) string {
	return filepath.Join(target, strings.TrimPrefix(filepath.ToSlash(src), "/"))
}
