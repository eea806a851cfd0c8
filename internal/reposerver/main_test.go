package reposerver_test

import (
	"testing"

	"github.com/lumbung-id/lumbung/internal/testservers"
)

// TestMain stops the real servers some tests start (MinIO for S3 storage).
func TestMain(m *testing.M) { testservers.Main(m) }
