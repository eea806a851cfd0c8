// Package crashtest proves that Lumbung survives being killed: it builds the
// lumbung binary, starts backups of a mixed corpus and kills them with
// SIGKILL at random moments, many times, and checks after every kill that
// `lumbung check` passes, that the next complete backup reuses (adopts) the
// packs the killed one had stored instead of storing them again, and, at the
// end, that the snapshots restore byte for byte.
//
// The package holds only tests (crash_test.go, Unix only, since it sends
// SIGKILL). `make test` runs it with LUMBUNG_CRASH_ITERATIONS=25:
//
//	LUMBUNG_CRASH_ITERATIONS=25 go test -run TestCrash -count=1 -v ./internal/crashtest/
//
// LUMBUNG_CRASH_SEED repeats a run's corpus, changes and random choices (the
// seed is logged at the start); the kill times also depend on how long this
// machine's backups take.
package crashtest
