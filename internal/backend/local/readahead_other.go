//go:build !linux

package local

import (
	"context"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// ReadAhead does nothing here: the system's own read-ahead is all there is.
func (l *Local) ReadAhead(context.Context, backend.Handle) {}
