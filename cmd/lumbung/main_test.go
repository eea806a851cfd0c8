package main

import (
	"testing"

	"github.com/lumbung-id/lumbung/internal/testservers"
)

// TestMain stops the real servers some tests start (PostgreSQL for the
// pg_dump round trip) when the tests end.
func TestMain(m *testing.M) { testservers.Main(m) }
