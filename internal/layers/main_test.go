package layers

import (
	"testing"

	"github.com/lumbung-id/lumbung/internal/testservers"
)

// TestMain stops the MinIO server the Object Lock tests start.
func TestMain(m *testing.M) { testservers.Main(m) }
