//go:build !linux

package fsmeta

// Extended attributes are kept on Linux only (see xattr_linux.go); other
// systems report none and set none.

func XattrsFD(int, string) ([]Xattr, error) { return nil, nil }

func XattrsPath(string) ([]Xattr, error) { return nil, nil }

func SetXattrsFD(int, string, []Xattr, bool) error { return nil }

func SetXattrsPath(string, []Xattr, bool) error { return nil }
