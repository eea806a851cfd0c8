package attacktest

import (
	"testing"

	"github.com/lumbung-id/lumbung/internal/testservers"
)

// TestMain stops the MinIO server the attacker test starts.
func TestMain(m *testing.M) { testservers.Main(m) }
