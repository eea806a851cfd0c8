// Package crashtest proves that Lumbung survives being killed: it builds the
// lumbung binary, starts backups of a mixed corpus and kills them with
// SIGKILL at random moments, many times, and checks after every kill that
// `lumbung check` passes, that the next complete backup reuses (adopts) the
// packs the killed one had stored instead of storing them again, and, at the
// end, that the snapshots restore byte for byte.
//
// It does the same to the repository server: server_test.go kills `lumbung
// serve` (SIGKILL or SIGTERM) while `lumbung copy` pushes a snapshot to it
// — at random moments, on the first pack, between the creation of the
// repository and its config — restarts it on the same port and data, and
// requires the copy to finish (or, when the server came back only after the
// copy gave up, a second copy to find what the first stored), `check
// --read-data` through the server to pass, no panic, ERROR or 5xx in the
// server's log, and the snapshot to restore from the server as the source.
//
// The package holds only tests (Unix only, since they send SIGKILL). `make
// test` runs both with LUMBUNG_CRASH_ITERATIONS=25 (backup kills; the server
// test runs each of its cases once, LUMBUNG_SERVER_CRASH_ITERATIONS more):
//
//	LUMBUNG_CRASH_ITERATIONS=25 go test -run TestCrash -count=1 -v ./internal/crashtest/
//
// LUMBUNG_CRASH_SEED repeats a run's corpus, changes and random choices (the
// seed is logged at the start); the kill times also depend on how long this
// machine's backups take.
package crashtest
