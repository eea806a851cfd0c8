// Package testservers starts real servers for integration tests — a MinIO
// S3 server with Object Lock, and PostgreSQL for the database dumps users
// back up — so that Lumbung is tested against what it will meet in
// production, not against fakes.
//
// A server is started once per test binary, on a random loopback port (or
// a private socket directory) with a temporary data directory, and killed
// when the tests end. A package that uses it must run its tests through
// Main:
//
//	func TestMain(m *testing.M) { testservers.Main(m) }
//
// Under -short (the fast, hermetic run) these tests are skipped. When a
// server binary is missing, tests are skipped with a message naming
// scripts/install-test-deps.sh — unless LUMBUNG_REQUIRE_SERVERS=1 (set by
// `make test` and so by CI), which fails them instead: CI must never pass
// by silently skipping. This package is for tests only; production code
// must never import it.
package testservers

import (
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// RequireEnv is the environment variable that turns a missing server
// binary from a skip into a failure.
const RequireEnv = "LUMBUNG_REQUIRE_SERVERS"

// InstallScript installs every server binary the tests need.
const InstallScript = "scripts/install-test-deps.sh"

var (
	mu       sync.Mutex
	inMain   bool     // Main is running the tests
	stops    []func() // stop functions of started servers, run by Main
	failures []func() // print a started server's log, run by Main when tests failed
)

// Main runs the package's tests and then stops every server they started.
// When the tests failed it prints the tail of each server's log, which
// usually says why. It does not return.
func Main(m *testing.M) {
	mu.Lock()
	inMain = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if code != 0 {
		for _, f := range failures {
			f()
		}
	}
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	os.Exit(code)
}

// registered reports whether Main runs the tests, so servers get stopped.
func registered(t testing.TB) {
	t.Helper()
	mu.Lock()
	ok := inMain
	mu.Unlock()
	if !ok {
		t.Fatal("testservers: call testservers.Main(m) from TestMain in this package, so that the servers are stopped when the tests end")
	}
}

// skipShort skips integration tests under -short, which is for the fast,
// hermetic unit tests only.
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against a real server: not run with -short")
	}
}

// onExit registers stop to run when Main ends and logs to print if the
// tests failed.
func onExit(stop, logs func()) {
	mu.Lock()
	defer mu.Unlock()
	stops = append(stops, stop)
	failures = append(failures, logs)
}

// Binary returns the path of the server binary name, looked up on PATH and
// then in $GOBIN or $GOPATH/bin, where the install script puts it. When it
// is missing the test fails under LUMBUNG_REQUIRE_SERVERS=1 and is skipped
// otherwise.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if p, ok := findBinary(name); ok {
		return p
	}
	msg := fmt.Sprintf("the %s server binary is not installed (not on PATH nor in %s): run %s", name, binDir(), InstallScript)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1: integration tests must not be skipped)", msg, RequireEnv)
	}
	t.Skip(msg)
	return ""
}

func findBinary(name string) (string, bool) {
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	p := filepath.Join(binDir(), name)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p, true
	}
	return "", false
}

// binDir is where `go install` puts binaries.
func binDir() string {
	if d := os.Getenv("GOBIN"); d != "" {
		return d
	}
	gopath := build.Default.GOPATH
	if list := filepath.SplitList(gopath); len(list) > 0 {
		gopath = list[0]
	}
	return filepath.Join(gopath, "bin")
}
