// Package testutil holds the few helpers many packages' tests need: test
// data that is the same on every run, and files written in one call. For
// tests only.
package testutil

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// RandBytes returns n incompressible bytes, the same for the same seed on
// every run and platform.
func RandBytes(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24), 'l', 'b', 'g'})
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

// WriteFile writes data to path (mode 0644), making its directories.
func WriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
