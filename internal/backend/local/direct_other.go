//go:build !linux

package local

import (
	"context"
	"os"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// writeDirect writes nothing here: other systems use the page cache.
func writeDirect(context.Context, *os.File, []byte) int { return 0 }

// loadDirect reads nothing here: other systems read through the page cache.
func (l *Local) loadDirect(context.Context, backend.Handle, int64, int64, []byte) ([]byte, bool, error) {
	return nil, false, nil
}
