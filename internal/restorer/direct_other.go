//go:build !linux

package restorer

import "errors"

// directIO is Linux's O_DIRECT path (see direct_linux.go); elsewhere every
// write goes through the page cache.
type directIO struct{}

func newDirectIO(int) *directIO { return nil }

func (*directIO) open(int, int64) int { return -1 }

func (*directIO) write(int, []byte, int64) (lo, hi int) { return 0, 0 }

// edgeSet is Linux's (see direct_linux.go): no file is preallocated here,
// so nothing calls writeAssembled or flushEdges.
type edgeSet struct{}

func (*directIO) prealloc(int, int64) *edgeSet { return nil }

func (p pfile) writeAssembled([]byte, int64) error { return errors.ErrUnsupported }

func (p pfile) flushEdges() error { return nil }
