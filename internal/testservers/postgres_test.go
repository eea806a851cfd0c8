//go:build unix

package testservers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain stops the servers this package's own tests start. (Only the
// PostgreSQL test needs it, which is unix-only like the server set-up.)
func TestMain(m *testing.M) { Main(m) }

// TestPostgreSQL starts the real server and uses it the way the tests of
// other packages do: create a database, a table with Unicode text, NULLs
// and bytes, and read it back through psql and pg_dump.
func TestPostgreSQL(t *testing.T) {
	pg := PostgreSQL(t)
	if again := PostgreSQL(t); again != pg {
		t.Errorf("a second call started another server: %+v, %+v", again, pg)
	}
	if fi, err := os.Stat(pg.SocketDir); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("socket directory %s: %v, %v; want it private (trust authentication)", pg.SocketDir, fi, err)
	}
	// PostgreSQL refuses root: as root the cluster belongs to another user.
	if fi, err := os.Stat(filepath.Join(pg.dir, "data")); err != nil {
		t.Error(err)
	} else if st, ok := fi.Sys().(*syscall.Stat_t); !ok || (os.Geteuid() == 0 && st.Uid == 0) {
		t.Errorf("the data directory belongs to uid %v while the tests run as root", fi.Sys())
	}
	pg.CreateDatabase(t, "uji_testservers")
	pg.Psql(t, "uji_testservers",
		"CREATE TABLE desa (kode int PRIMARY KEY, nama text, berkas bytea)",
		`INSERT INTO desa VALUES (1, 'Ñoman Śuryani', '\x00ff10'), (2, NULL, NULL), (3, 'Sukamaju', '')`)
	got := pg.Psql(t, "uji_testservers", "SELECT kode, coalesce(nama, '<null>'), encode(berkas, 'hex') FROM desa ORDER BY kode")
	want := "1|Ñoman Śuryani|00ff10\n2|<null>|\n3|Sukamaju|"
	if got != want {
		t.Errorf("read back %q, want %q", got, want)
	}
	if enc := pg.Psql(t, "uji_testservers", "SHOW server_encoding"); enc != "UTF8" {
		t.Errorf("server_encoding %q, want UTF8", enc)
	}

	// The client tools of the same directory reach it with ConnArgs.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := pg.Command(ctx, "pg_dump", "--data-only", "--table=desa", "uji_testservers").Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !strings.Contains(string(out), "Ñoman Śuryani") {
		t.Errorf("pg_dump output lacks the row:\n%s", out)
	}

	// A failing statement fails the test with the server's message.
	rec := record(t, func(tb testing.TB) { pg.Psql(tb, "uji_testservers", "SELECT * FROM tidak_ada") })
	if !strings.Contains(rec.msg, `relation "tidak_ada" does not exist`) {
		t.Errorf("Psql on a missing table: Fatalf message %q", rec.msg)
	}
}

// fatalRecorder keeps the message of Fatalf or Skip and ends the
// goroutine, as testing.T does, without failing or skipping the real test.
type fatalRecorder struct {
	testing.TB
	msg     string
	skipped bool
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalRecorder) Skip(args ...any) {
	f.msg, f.skipped = fmt.Sprint(args...), true
	runtime.Goexit()
}

// record runs fn with a fatalRecorder in its own goroutine (Goexit must
// not end the test's) and returns the recorder.
func record(t *testing.T, fn func(tb testing.TB)) *fatalRecorder {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	return rec
}

// TestMissingPostgreSQL: without the programs the test is skipped with a
// message naming the install script, and fails instead under
// LUMBUNG_REQUIRE_SERVERS=1 (as in CI) — never a silent pass.
func TestMissingPostgreSQL(t *testing.T) {
	old := pgDebianDirs
	t.Cleanup(func() { pgDebianDirs = old })
	pgDebianDirs = filepath.Join(t.TempDir(), "*", "bin")
	t.Setenv("PATH", t.TempDir())
	for _, tt := range []struct {
		require  string
		wantSkip bool
	}{{"", true}, {"0", true}, {"1", false}} {
		t.Setenv(RequireEnv, tt.require)
		rec := record(t, func(tb testing.TB) { pgBinDir(tb) })
		if rec.skipped != tt.wantSkip || !strings.Contains(rec.msg, InstallScript) {
			t.Errorf("%s=%q: skipped %v (want %v), message %q (want it to name %s)", RequireEnv, tt.require, rec.skipped, tt.wantSkip, rec.msg, InstallScript)
		}
	}
}

// TestCreateDatabaseIsRepeatable: a database left by an earlier run (as
// with -count=2, or a crashed test) is replaced by an empty one.
func TestCreateDatabaseIsRepeatable(t *testing.T) {
	pg := PostgreSQL(t)
	pg.CreateDatabase(t, "uji_ulang")
	pg.Psql(t, "uji_ulang", "CREATE TABLE sisa (x int)")
	pg.CreateDatabase(t, "uji_ulang")
	if n := pg.Psql(t, "uji_ulang", "SELECT count(*) FROM pg_tables WHERE tablename = 'sisa'"); n != "0" {
		t.Errorf("the recreated database still has the old table (%s)", n)
	}
}

func TestNewestFirst(t *testing.T) {
	for _, tt := range []struct {
		in, want []string
	}{
		{
			in:   []string{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/13/bin"},
			want: []string{"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/13/bin", "/usr/lib/postgresql/9.6/bin"},
		},
		{
			in:   []string{"/usr/lib/postgresql/lama/bin", "/usr/lib/postgresql/16/bin"},
			want: []string{"/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/lama/bin"},
		},
		{in: nil, want: nil},
	} {
		if got := newestFirst(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("newestFirst(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestHasTools: a directory counts only when every program is there and
// executable, so a client-only install is not taken for a server.
func TestHasTools(t *testing.T) {
	for _, tt := range []struct {
		name    string
		missing string      // a program left out
		mode    os.FileMode // of every program
		want    bool
	}{
		{"complete", "", 0o755, true},
		{"clients only", "postgres", 0o755, false},
		{"no pg_restore", "pg_restore", 0o755, false},
		{"not executable", "", 0o644, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range pgTools {
				if name == tt.missing {
					continue
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			if got := hasTools(dir); got != tt.want {
				t.Errorf("hasTools = %v, want %v", got, tt.want)
			}
		})
	}
}
