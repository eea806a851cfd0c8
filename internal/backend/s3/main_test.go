package s3_test

import (
	"testing"

	"github.com/lumbung-id/lumbung/internal/testservers"
)

// TestMain stops the MinIO server the integration tests start.
func TestMain(m *testing.M) { testservers.Main(m) }
