//go:build !unix

package fsmeta

import (
	"io/fs"
	"os"
)

// File is a regular file open for reading.
type File struct {
	f    *os.File
	meta Meta
}

// OpenNoFollow opens the regular file path for reading; anything else is
// refused with ErrNotRegular. On this system it is os.Open.
func OpenNoFollow(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return &File{f: f, meta: FromFileInfo(fi)}, nil
}

// Meta is the metadata of the open file, read when it was opened. Inode
// and device are not known here (zero).
func (f *File) Meta() Meta { return f.meta }

// Restat reads the open file's metadata again, so a reader can tell whether
// the file changed while it was read.
func (f *File) Restat() (Meta, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return Meta{}, err
	}
	return FromFileInfo(fi), nil
}

// Read reads up to len(p) bytes; it returns io.EOF at the end of the file.
func (f *File) Read(p []byte) (int, error) { return f.f.Read(p) }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Xattrs returns no extended attributes: they are kept on Linux only.
func (f *File) Xattrs() ([]Xattr, error) { return nil, nil }
