//go:build !linux

package restorer

import "errors"

// anonFiles is Linux's (see anon_linux.go): elsewhere every file is created
// under its partial name.
type anonFiles struct{}

func (r *restorer) createAnonFile(*fileState) (p pfile, ok bool, err error) {
	return pfile{}, false, nil
}

func (r *restorer) nameAnonFile(*fileState, pfile) (done bool, err error) {
	return false, errors.ErrUnsupported
}
