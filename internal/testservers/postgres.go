//go:build unix

package testservers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PostgresServer is a running PostgreSQL cluster of the test binary: a
// superuser with trust authentication, reachable only through a unix
// socket in a private directory. There is deliberately no TCP listener: with
// trust authentication a port on 127.0.0.1 would let every local user in as
// superuser (and so run programs as the server's user).
type PostgresServer struct {
	SocketDir string // the -h value: the directory holding the unix socket
	Port      int    // the -p value: names the socket file (.s.PGSQL.PORT)
	User      string // a superuser; no password is needed
	Database  string // a database that always exists (for CREATE DATABASE)
	BinDir    string // holds initdb, postgres and the matching client tools

	proc *process
	dir  string
}

// pgTools are the programs a PostgreSQL directory must hold to be used:
// the server's and the clients the tests run (pg_dump must not be older
// than the server, so they all come from one directory). The install
// script checks the same list (PG_TOOLS).
var pgTools = []string{"initdb", "pg_ctl", "postgres", "pg_isready", "psql", "pg_dump", "pg_restore"}

// pgDebianDirs is where Debian's packages put each major version (a
// variable for the tests of a missing installation).
var pgDebianDirs = "/usr/lib/postgresql/*/bin"

const (
	pgUser         = "lumbung"
	pgDatabase     = "postgres"
	pgPort         = 5432 // no clash possible: the socket lives in a private directory
	pgStartTimeout = 90 * time.Second
	pgToolTimeout  = 2 * time.Minute // one psql/pg_dump call of a test
)

var (
	pgOnce   sync.Once
	pgServer *PostgresServer
	pgErr    error
)

// PostgreSQL returns the package's PostgreSQL server, starting it on first
// use. It skips or fails t when the binaries are missing (as Binary does)
// and fails t when the server does not start.
func PostgreSQL(t testing.TB) *PostgresServer {
	t.Helper()
	skipShort(t)
	registered(t)
	bin := pgBinDir(t)
	pgOnce.Do(func() { pgServer, pgErr = startPostgres(bin) })
	if pgErr != nil {
		t.Fatalf("start PostgreSQL (%s): %v", bin, pgErr)
	}
	return pgServer
}

// pgBinDir returns the directory of the PostgreSQL programs, or skips/fails
// t as Binary does.
func pgBinDir(t testing.TB) string {
	t.Helper()
	if d, ok := findPgBinDir(); ok {
		return d
	}
	msg := fmt.Sprintf("the PostgreSQL server and clients (%s) are not installed (neither on PATH nor in %s): run %s",
		strings.Join(pgTools, ", "), pgDebianDirs, InstallScript)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1: integration tests must not be skipped)", msg, RequireEnv)
	}
	t.Skip(msg)
	return ""
}

// findPgBinDir looks for a directory holding every pgTools program: the
// one of `postgres` on PATH (symlinks resolved), else the newest Debian
// version directory.
func findPgBinDir() (string, bool) {
	var dirs []string
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	dirs = append(dirs, newestFirst(globDirs(pgDebianDirs))...)
	for _, d := range dirs {
		if hasTools(d) {
			return d, true
		}
	}
	return "", false
}

func globDirs(pattern string) []string {
	ds, _ := filepath.Glob(pattern) // the only error is a malformed pattern: then there is nothing
	return ds
}

// newestFirst sorts /usr/lib/postgresql/VERSION/bin directories by VERSION,
// highest first ("9.6" < "15"); others go last.
func newestFirst(dirs []string) []string {
	version := func(d string) float64 {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		if err != nil {
			return -1
		}
		return v
	}
	out := slices.Clone(dirs)
	slices.SortStableFunc(out, func(a, b string) int {
		va, vb := version(a), version(b)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	return out
}

func hasTools(dir string) bool {
	for _, name := range pgTools {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// serverCredential returns who runs initdb and postgres: the current user,
// or, when that is root (which PostgreSQL refuses), the unprivileged
// `postgres` user of the distribution's package, else `nobody`. nil means
// the current user.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var errs []error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			errs = append(errs, fmt.Errorf("user %s: unusable uid %q / gid %q", name, u.Uid, u.Gid))
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("running as root, and no unprivileged user to run PostgreSQL as: %w", errors.Join(errs...))
}

// runAs sets who cmd runs as (nil: the current user). It must come after
// dieWithParent, which replaces SysProcAttr.
func runAs(cmd *exec.Cmd, cred *syscall.Credential) {
	if cred == nil {
		return
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = cred
}

// serverEnv is the environment of the server and its tools: the process's
// without PG* variables (a PGDATA or PGHOST of the machine must not steer
// the tests' cluster), in the C locale for stable messages and sorting.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

func startPostgres(bin string) (*PostgresServer, error) {
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: that is 0700 and root's, and the server may run as
	// another user. The directory is the server user's and private to it
	// (root's clients get in anyway).
	dir, err := os.MkdirTemp("", "lumbung-postgres-*")
	if err != nil {
		return nil, err
	}
	s := &PostgresServer{SocketDir: filepath.Join(dir, "sock"), Port: pgPort, User: pgUser, Database: pgDatabase, BinDir: bin, dir: dir}
	if err := os.Mkdir(s.SocketDir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		for _, d := range []string{dir, s.SocketDir} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				os.RemoveAll(dir)
				return nil, fmt.Errorf("give %s to uid %d: %w", d, cred.Uid, err)
			}
		}
	}
	data := filepath.Join(dir, "data")
	if err := s.initdb(data, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(s.Tool("postgres"), "-D", data, "-k", s.SocketDir, "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=",
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off")
	cmd.Dir, cmd.Env = dir, serverEnv()
	p, err := startPrepared(cmd, func(c *exec.Cmd) { runAs(c, cred) })
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s.proc = p
	if err := s.waitReady(pgStartTimeout); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w; server log:\n%s", err, lastLines(p.log.String(), 30))
	}
	onExit(s.stop, func() {
		fmt.Fprintf(os.Stderr, "--- PostgreSQL server log (last lines) ---\n%s\n---\n", lastLines(s.Logs(), 60))
	})
	return s, nil
}

// initdb creates the cluster in data: UTF-8 in the C locale (any Unicode
// text round-trips, on any machine), trust authentication for the socket,
// and no fsync — the data lives as long as the test binary.
func (s *PostgresServer) initdb(data string, cred *syscall.Credential) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgStartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Tool("initdb"), "-D", data, "-U", s.User, "-A", "trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir, cmd.Env = s.dir, serverEnv()
	cmd.WaitDelay = 10 * time.Second
	dieWithParent(cmd)
	runAs(cmd, cred)
	if out, err := cmd.CombinedOutput(); err != nil {
		hint := ""
		if cred != nil {
			hint = fmt.Sprintf(" (it ran as uid %d: every directory above %s must be searchable by that user; check TMPDIR)", cred.Uid, s.dir)
		}
		return fmt.Errorf("initdb%s: %w; its output:\n%s", hint, err, lastLines(string(out), 30))
	}
	return nil
}

// waitReady polls pg_isready until the server accepts connections, the
// server exits or timeout passes.
func (s *PostgresServer) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cmd := s.Command(ctx, "pg_isready", "-d", s.Database, "-t", "2")
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.proc.exited:
			return fmt.Errorf("the server exited (%v) before it was ready", s.proc.err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not accept connections within %v (pg_isready: %v: %s)", timeout, err, strings.TrimSpace(string(out)))
		}
	}
}

// stop asks for a fast shutdown (SIGINT: roll back sessions, then exit),
// kills the server if that takes more than 10 s, and removes its files.
func (s *PostgresServer) stop() {
	select {
	case <-s.proc.exited:
	default:
		_ = s.proc.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.proc.exited:
		case <-time.After(10 * time.Second):
			s.proc.stop()
		}
	}
	os.RemoveAll(s.dir)
}

// Logs returns the tail of the server's output, for failure messages.
func (s *PostgresServer) Logs() string { return s.proc.log.String() }

// Tool returns the absolute path of a PostgreSQL program (pg_dump, psql,
// pg_restore, ...) of the server's version.
func (s *PostgresServer) Tool(name string) string { return filepath.Join(s.BinDir, name) }

// ConnArgs are the connection options of the client programs: -h SOCKETDIR
// -p PORT -U USER. Add -d DATABASE (or a trailing database name) as needed.
func (s *PostgresServer) ConnArgs() []string {
	return []string{"-h", s.SocketDir, "-p", strconv.Itoa(s.Port), "-U", s.User}
}

// Env returns the same connection as libpq environment variables
// (PGHOST, PGPORT, PGUSER, PGDATABASE), for programs given no options.
func (s *PostgresServer) Env() []string {
	return []string{"PGHOST=" + s.SocketDir, "PGPORT=" + strconv.Itoa(s.Port), "PGUSER=" + s.User, "PGDATABASE=" + s.Database}
}

// Command returns the client program tool (a name such as "psql") with
// ConnArgs before args, the environment of the server's tools plus Env
// and a UTF-8 client encoding, and a bounded wait for its pipes. ctx bounds its run time.
func (s *PostgresServer) Command(ctx context.Context, tool string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.Tool(tool), append(s.ConnArgs(), args...)...)
	// UTF-8 on the wire whatever the locale (C here): SQL text and results
	// pass unchanged.
	cmd.Env = append(append(serverEnv(), s.Env()...), "PGCLIENTENCODING=UTF8")
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// Psql runs the SQL statements in database db, each -c separately (so
// that CREATE DATABASE works: it cannot run in a transaction), stopping at
// the first error, and returns the unaligned, tuples-only output without
// the trailing newline. Any error fails t with psql's message.
func (s *PostgresServer) Psql(t testing.TB, db string, statements ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pgToolTimeout)
	defer cancel()
	args := []string{"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db}
	for _, st := range statements {
		args = append(args, "-c", st)
	}
	cmd := s.Command(ctx, "psql", args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql -d %s %q: %v: %s", db, statements, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSuffix(stdout.String(), "\n")
}

// pgName is what CreateDatabase accepts: a name that needs no quoting.
var pgName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CreateDatabase creates the empty database name (dropping one left by an
// earlier run of the test, as with -count) and drops it when t ends. The
// cluster is shared by the test binary: tests that run in parallel must
// use different names.
func (s *PostgresServer) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	if !pgName.MatchString(name) {
		t.Fatalf("CreateDatabase(%q): want a lower-case SQL identifier", name)
	}
	drop := "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"
	s.Psql(t, s.Database, drop, "CREATE DATABASE "+name)
	t.Cleanup(func() { s.Psql(t, s.Database, drop) })
}
