package mem_test

import (
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/backendtest"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
)

func TestConformance(t *testing.T) {
	backendtest.RunTests(t, func(t *testing.T) backend.Backend { return mem.New() })
}
