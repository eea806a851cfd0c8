package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// Operational behaviour an administrator relies on (docs/operations.md):
// locks, temporary files of killed backups, init over an existing
// repository, and what a failed check says.

// openRepoAt opens the local repository at dir with the tests' password,
// as another process would.
func openRepoAt(t *testing.T, dir string) *repository.Repository {
	t.Helper()
	ctx := context.Background()
	be, err := local.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := repository.Open(ctx, be, []byte(testPassword), repository.Options{KDF: crypto.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// holdLock takes a lock on the repository at dir as another process would,
// until the test ends.
func holdLock(t *testing.T, dir string, exclusive bool) {
	t.Helper()
	ctx := context.Background()
	lock, err := openRepoAt(t, dir).Lock(ctx, exclusive)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Unlock(ctx) })
}

// lockFiles counts the lock files of the repository at dir.
func lockFiles(t *testing.T, dir string) int {
	t.Helper()
	ls, err := os.ReadDir(filepath.Join(dir, "locks"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ls)
}

// TestSharedLocks: backup, check and restore take a shared lock, so a live
// exclusive lock (maintenance) stops them with exit code 12 and a message
// that names `lumbung unlock`; they release their lock on every way out;
// check and restore can skip locking with --no-lock.
func TestSharedLocks(t *testing.T) {
	t.Parallel()
	base := newCLI(t)
	base.ok("init")
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a.txt": "a\n", "sub/b.txt": "b\n"})
	base.ok("backup", src)

	cases := []struct {
		name      string
		args      func(t *testing.T) []string
		canNoLock bool
	}{
		{"backup", func(*testing.T) []string { return []string{"backup", src} }, false},
		{"check", func(*testing.T) []string { return []string{"check"} }, true},
		{"check read-data", func(*testing.T) []string { return []string{"check", "--read-data-subset", "50%"} }, true},
		{"restore", func(t *testing.T) []string { return []string{"restore", "latest", "--target", t.TempDir()} }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "repo")
			copyDir(t, base.repo(), dir)
			c := base.on(t).withRepo(dir)

			c.ok(tc.args(t)...)
			if n := lockFiles(t, dir); n != 0 {
				t.Errorf("%d lock files left after a successful %s", n, tc.name)
			}

			holdLock(t, dir, true)
			for _, json := range []bool{false, true} {
				args := tc.args(t)
				if json {
					args = append(args, "--json")
				}
				c.fails(exitLocked, args, "locked", "exclusive", "lumbung unlock")
			}
			if n := lockFiles(t, dir); n != 1 {
				t.Errorf("%d lock files after refused runs, want only the holder's", n)
			}
			if tc.canNoLock {
				c.ok(append(tc.args(t), "--no-lock")...)
			} else {
				c.fails(exitUsage, append(tc.args(t), "--no-lock"), "no-lock")
			}

			// The holder is gone (as after a crash): unlock, then it works.
			c.ok("unlock", "--remove-all")
			c.ok(tc.args(t)...)
			if n := lockFiles(t, dir); n != 0 {
				t.Errorf("%d lock files left after %s", n, tc.name)
			}
		})
	}
}

// TestLockReleasedOnError: a command that fails after taking its lock still
// removes it.
func TestLockReleasedOnError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, c *cli, src, pack string) output
	}{
		{"restore of an unknown snapshot", func(t *testing.T, c *cli, _, _ string) output {
			return c.run("restore", "deadbeef", "--target", t.TempDir())
		}},
		{"restore of a damaged snapshot", func(t *testing.T, c *cli, _, pack string) output {
			if err := os.Remove(pack); err != nil {
				t.Fatal(err)
			}
			return c.run("restore", "latest", "--target", t.TempDir())
		}},
		{"check of a damaged repository", func(t *testing.T, c *cli, _, pack string) output {
			if err := os.Remove(pack); err != nil {
				t.Fatal(err)
			}
			return c.run("check")
		}},
		{"backup of a missing path", func(t *testing.T, c *cli, src, _ string) output {
			return c.run("backup", filepath.Join(src, "tidak-ada"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, src, pack := damagedRepo(t)
			o := tc.run(t, c, src, pack)
			if o.code != exitFailed {
				t.Fatalf("want exit code %d: %v", exitFailed, o)
			}
			if n := lockFiles(t, c.repo()); n != 0 {
				t.Errorf("%d lock files left after a failed run: %v", n, o)
			}
		})
	}
}

// TestLockReleasedOnInterrupt: a command interrupted (SIGINT, SIGTERM)
// while it holds its lock removes the lock on the way out.
func TestLockReleasedOnInterrupt(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args func(t *testing.T, src string) []string
	}{
		{"backup", func(_ *testing.T, src string) []string { return []string{"backup", "--force", src} }},
		{"check", func(*testing.T, string) []string { return []string{"check", "--read-data"} }},
		{"restore", func(t *testing.T, _ string) []string { return []string{"restore", "latest", "--target", t.TempDir()} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, src, _ := damagedRepo(t) // not damaged yet: a few MiB of data
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			locks := filepath.Join(c.repo(), "locks")
			go func() { // the "signal": as soon as the command holds its lock
				defer cancel()
				for ctx.Err() == nil {
					if ls, _ := os.ReadDir(locks); len(ls) > 0 {
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
			}()
			n := *c
			n.ctx = ctx
			o := n.run(tc.args(t, src)...)
			// A fast command may finish before it notices; either way its
			// lock must be gone.
			if o.code != exitInterrupted && o.code != exitOK {
				t.Fatalf("want exit code %d (or 0): %v", exitInterrupted, o)
			}
			if k := lockFiles(t, c.repo()); k != 0 {
				t.Errorf("%d lock files left after an interrupted %s: %v", k, tc.name, o)
			}
		})
	}
}

// TestBackupCleansTemp: a backup removes the temporary files that killed
// backups left in a local repository's tmp/ directory, once they are an
// hour old, and leaves younger ones (a concurrent backup may be writing
// them).
func TestBackupCleansTemp(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("init")
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a.txt": "a\n"})
	tmp := filepath.Join(c.repo(), "tmp")
	cases := []struct {
		name string
		age  time.Duration
		kept bool
	}{
		{"save-killed-yesterday", 24 * time.Hour, false},
		{"save-killed-2h-ago", 2 * time.Hour, false},
		{"save-in-progress", time.Minute, true},
		{"save-just-now", 0, true},
	}
	now := time.Now()
	for _, tc := range cases {
		p := filepath.Join(tmp, tc.name)
		if err := os.WriteFile(p, []byte("half a pack"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-tc.age), now.Add(-tc.age)); err != nil {
			t.Fatal(err)
		}
	}
	o := c.ok("backup", src, "--json")
	if strings.Contains(o.stdout, `"warning"`) || o.stderr != "" {
		t.Errorf("backup warned: %v", o)
	}
	for _, tc := range cases {
		_, err := os.Stat(filepath.Join(tmp, tc.name))
		if kept := err == nil; kept != tc.kept {
			t.Errorf("%s (%v old): kept %v, want %v (%v)", tc.name, tc.age, kept, tc.kept, err)
		}
	}
}

// TestCleanTemp: cleaning only concerns local repositories, and a failure is
// a warning naming the directory, never an error.
func TestCleanTemp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name     string
		backend  func(t *testing.T) backend.Backend
		wantWarn bool
	}{
		{"memory backend", func(*testing.T) backend.Backend { return mem.New() }, false},
		{"local, nothing to clean", func(t *testing.T) backend.Backend {
			l, err := local.Create(ctx, filepath.Join(t.TempDir(), "repo"))
			if err != nil {
				t.Fatal(err)
			}
			return l
		}, false},
		{"local, tmp unreadable", func(t *testing.T) backend.Backend {
			dir := filepath.Join(t.TempDir(), "repo")
			l, err := local.Create(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			// A file where the directory should be: listing it fails even
			// for root.
			if err := os.Remove(filepath.Join(dir, "tmp")); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "tmp"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return l
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := tc.backend(t)
			var warned []string
			cleanTemp(be, func(path string, err error) {
				if err == nil {
					t.Error("warning without an error")
				}
				warned = append(warned, path)
			})
			if got := len(warned) > 0; got != tc.wantWarn {
				t.Fatalf("warned %v, want %v", warned, tc.wantWarn)
			}
			if tc.wantWarn && filepath.Base(warned[0]) != "tmp" {
				t.Errorf("warning names %q, want the tmp directory", warned[0])
			}
		})
	}
}

// TestInitExisting: init refuses a place that already holds something with
// one line that names it once, exit code 1, without asking for a password
// first when it is a repository, and changes nothing.
func TestInitExisting(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		make func(t *testing.T, c *cli) // prepares c.repo()
		env  []string
		want []string
	}{
		{"repository", func(t *testing.T, c *cli) { c.ok("init") }, []string{"LUMBUNG_PASSWORD", ""}, []string{"already exists", "nothing was changed"}},
		{"non-empty directory", func(t *testing.T, c *cli) {
			writeTree(t, c.repo(), map[string]string{"laporan.txt": "x"})
		}, nil, []string{"not empty", "new or empty directory"}},
		{"file", func(t *testing.T, c *cli) {
			if err := os.WriteFile(c.repo(), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, nil, []string{"not a directory"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t)
			tc.make(t, c)
			before := listFiles(t, c.repo())
			for _, json := range []bool{false, true} {
				args := []string{"init"}
				if json {
					args = append(args, "--json")
				}
				o := c.with(tc.env...).fails(exitFailed, args, tc.want...)
				if o.stdout != "" {
					t.Errorf("output on stdout: %q", o.stdout)
				}
				line := strings.TrimSpace(o.stderr)
				if n := strings.Count(line, c.repo()); n != 1 {
					t.Errorf("the message names the location %d times, want once: %q", n, line)
				}
				if n := strings.Count(line, "create repository"); n > 1 {
					t.Errorf("the message repeats itself: %q", line)
				}
			}
			if after := listFiles(t, c.repo()); after != before {
				t.Errorf("init changed what was there:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// listFiles describes the files under p (or p itself) with sizes and times.
func listFiles(t *testing.T, p string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(p, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(path + " " + fi.Mode().String() + " " + fi.ModTime().String() + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestCheckFailedMessage: the one error line of a failed check says where
// the details are in each output mode, and the guide it points to exists.
func TestCheckFailedMessage(t *testing.T) {
	t.Parallel()
	c, _, pack := damagedRepo(t)
	if err := os.Remove(pack); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args       []string
		want, deny []string
	}{
		{[]string{"check"}, []string{"1 found", "listed above", "docs/operations.md"}, []string{"report.errors"}},
		{[]string{"check", "--json"}, []string{"1 found", "report.errors", "docs/operations.md"}, []string{"above"}},
	}
	for _, tc := range cases {
		o := c.fails(exitFailed, tc.args, tc.want...)
		for _, d := range tc.deny {
			if strings.Contains(o.stderr, d) {
				t.Errorf("lumbung %s: error line mentions %q: %q", strings.Join(tc.args, " "), d, o.stderr)
			}
		}
	}
	if _, err := os.Stat(filepath.Join("..", "..", "docs", "operations.md")); err != nil {
		t.Errorf("the error line points to docs/operations.md: %v", err)
	}
	if !errors.Is(checkFailed(1, true), errCheckFailed) {
		t.Error("checkFailed does not wrap errCheckFailed")
	}
}

// TestOperationsGuideFlags: every `lumbung COMMAND ... --flag` in the
// operations guide names a command and flags that exist.
func TestOperationsGuideFlags(t *testing.T) {
	t.Parallel()
	guide := readFile(t, filepath.Join("..", "..", "docs", "operations.md"))
	c := newCLI(t)
	usage := map[string]string{}
	for _, cmd := range commands() {
		usage[cmd.name] = c.run(cmd.name, "--help").stdout
	}
	calls := regexp.MustCompile("lumbung ([a-zA-Z]+)([^#|`\n]*)").FindAllStringSubmatch(guide, -1)
	flag := regexp.MustCompile(`(?:^|\s)--([a-z][a-z-]*)`)
	checked := 0
	for _, m := range calls {
		help, ok := usage[m[1]]
		if !ok {
			if m[1] != "COMMAND" && m[1] != "PERINTAH" && m[1] != "help" {
				t.Errorf("the guide uses an unknown command: %q", m[0])
			}
			continue
		}
		for _, f := range flag.FindAllStringSubmatch(m[2], -1) {
			if f[1] == "help" {
				continue
			}
			checked++
			if !regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(f[1]) + `(\s|$)`).MatchString(help) {
				t.Errorf("the guide uses --%s, which `lumbung %s` does not have: %q", f[1], m[1], m[0])
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d flags found in the guide: is the pattern still right?", checked)
	}
}
