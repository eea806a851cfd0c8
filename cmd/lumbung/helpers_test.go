package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
)

// The CLI tests run the commands in process through runMain, with files as
// standard output and error, and check the --json output, the exit code and
// the one line on standard error: the contract of docs/cli.md.

// runTimeout bounds one command; a command still running after it (plus a
// grace period) is a hang and fails the test.
const runTimeout = 2 * time.Minute

const testPassword = "kata sandi uji"

// cli runs lumbung commands against one repository with a fixed
// environment (never the process's: tests do not touch os.Setenv).
type cli struct {
	t      *testing.T
	env    map[string]string
	outDir string
	ctx    context.Context // nil: a fresh context with runTimeout
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	return &cli{t: t, outDir: t.TempDir(), env: map[string]string{
		"LUMBUNG_REPOSITORY":        filepath.Join(t.TempDir(), "repo"),
		"LUMBUNG_PASSWORD":          testPassword,
		"LUMBUNG_INSECURE_TEST_KDF": "1",
	}}
}

func (c *cli) repo() string { return c.env["LUMBUNG_REPOSITORY"] }

// on returns a copy of c that reports to t (for subtests).
func (c *cli) on(t *testing.T) *cli {
	n := *c
	n.t, n.outDir = t, t.TempDir()
	return &n
}

// with returns a copy of c with environment variables set ("" unsets).
func (c *cli) with(kv ...string) *cli {
	c.t.Helper()
	if len(kv)%2 != 0 {
		c.t.Fatal("with: odd number of arguments")
	}
	n := *c
	n.env = maps.Clone(c.env)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(n.env, kv[i])
		} else {
			n.env[kv[i]] = kv[i+1]
		}
	}
	return &n
}

// withRepo returns a copy of c using the repository at dir.
func (c *cli) withRepo(dir string) *cli { return c.with("LUMBUNG_REPOSITORY", dir) }

type output struct {
	args           []string
	code           int
	stdout, stderr string
}

func (o output) String() string {
	return fmt.Sprintf("lumbung %s: exit code %d\nstderr: %s\nstdout: %s", strings.Join(o.args, " "), o.code, o.stderr, clip(o.stdout, 3000))
}

// run runs one command with empty standard input.
func (c *cli) run(args ...string) output {
	c.t.Helper()
	return c.runStdin(strings.NewReader(""), args...)
}

// runStdin runs one command with stdin as standard input. A panic or a
// hang fails the test.
func (c *cli) runStdin(stdin io.Reader, args ...string) output {
	c.t.Helper()
	stdout, err := os.CreateTemp(c.outDir, "stdout-")
	if err != nil {
		c.t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.CreateTemp(c.outDir, "stderr-")
	if err != nil {
		c.t.Fatal(err)
	}
	defer stderr.Close()
	vars := maps.Clone(c.env)
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: func(k string) string { return vars[k] }}
	ctx := c.ctx
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), runTimeout)
		defer cancel()
	}
	type result struct {
		code  int
		panic any
		stack []byte
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{panic: p, stack: debug.Stack()}
			}
		}()
		done <- result{code: runMain(ctx, e, args)}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(runTimeout + 30*time.Second):
		c.t.Fatalf("lumbung %s: still running after %v: hang", strings.Join(args, " "), runTimeout)
	}
	if r.panic != nil {
		c.t.Fatalf("lumbung %s panicked: %v\n%s", strings.Join(args, " "), r.panic, r.stack)
	}
	o := output{args: args, code: r.code, stdout: readFile(c.t, stdout.Name()), stderr: readFile(c.t, stderr.Name())}
	os.Remove(stdout.Name())
	os.Remove(stderr.Name())
	return o
}

// ok runs a command that must succeed.
func (c *cli) ok(args ...string) output {
	c.t.Helper()
	o := c.run(args...)
	if o.code != 0 {
		c.t.Fatalf("want success: %v", o)
	}
	return o
}

// fails runs a command that must fail with code and print exactly one line
// on standard error, starting "lumbung" and containing every want string.
func (c *cli) fails(code int, args []string, want ...string) output {
	c.t.Helper()
	o := c.run(args...)
	checkFailure(c.t, o, code, want...)
	return o
}

func checkFailure(t *testing.T, o output, code int, want ...string) {
	t.Helper()
	if o.code != code {
		t.Errorf("want exit code %d: %v", code, o)
		return
	}
	line := oneLine(t, o)
	if !strings.HasPrefix(line, "lumbung") {
		t.Errorf("lumbung %s: error line does not start with \"lumbung\": %q", strings.Join(o.args, " "), line)
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("lumbung %s: error line %q does not mention %q", strings.Join(o.args, " "), line, w)
		}
	}
}

// oneLine returns the single line of o's standard error.
func oneLine(t *testing.T, o output) string {
	t.Helper()
	s := strings.TrimRight(o.stderr, "\n")
	if s == "" || strings.Contains(s, "\n") || !strings.HasSuffix(o.stderr, "\n") {
		t.Errorf("lumbung %s: want exactly one line on stderr, got %q", strings.Join(o.args, " "), o.stderr)
	}
	return s
}

// JSON output.

// jsonLines decodes --json output: every line must be one JSON object with a
// message_type.
func jsonLines(t *testing.T, o output) []map[string]json.RawMessage {
	t.Helper()
	var out []map[string]json.RawMessage
	for _, line := range strings.Split(strings.TrimSuffix(o.stdout, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("lumbung %s: output line is not a JSON object (%v): %q", strings.Join(o.args, " "), err, line)
		}
		if _, ok := m["message_type"]; !ok {
			t.Fatalf("lumbung %s: output line has no message_type: %q", strings.Join(o.args, " "), line)
		}
		out = append(out, m)
	}
	return out
}

// messagesOf decodes every message of type typ.
func messagesOf[T any](t *testing.T, o output, typ string) []T {
	t.Helper()
	var out []T
	for _, m := range jsonLines(t, o) {
		var mt string
		if err := json.Unmarshal(m["message_type"], &mt); err != nil {
			t.Fatalf("message_type is not a string: %s", m["message_type"])
		}
		if mt != typ {
			continue
		}
		raw, _ := json.Marshal(m)
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("lumbung %s: decode %s message: %v", strings.Join(o.args, " "), typ, err)
		}
		out = append(out, v)
	}
	return out
}

// message decodes the one message of type typ.
func message[T any](t *testing.T, o output, typ string) T {
	t.Helper()
	ms := messagesOf[T](t, o, typ)
	if len(ms) != 1 {
		t.Fatalf("want one %q message, got %d: %v", typ, len(ms), o)
	}
	return ms[0]
}

// decodeAll decodes output that is one JSON value (the lists of
// `snapshots --json`, `key list --json`, `cat`).
func decodeAll[T any](t *testing.T, o output) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(o.stdout))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode output: %v: %v", err, o)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value in the output: %v", o)
	}
	return v
}

type backupSummaryOut struct {
	SnapshotID   string `json:"snapshot_id"`
	Parent       string `json:"parent"`
	PacksAdopted int    `json:"packs_adopted"`
	FilesNew     int    `json:"files_new"`
	FilesChanged int    `json:"files_changed"`
	DataAdded    int64  `json:"data_added"`
	Unreadable   []struct {
		Path  string `json:"path"`
		Error string `json:"error"`
	} `json:"unreadable"`
}

type snapshotJSONOut struct {
	ID       string   `json:"id"`
	ShortID  string   `json:"short_id"`
	Tree     string   `json:"tree"`
	Paths    []string `json:"paths"`
	Tags     []string `json:"tags"`
	Excludes []string `json:"excludes"`
	Hostname string   `json:"hostname"`
}

type lsNode struct {
	Path       string `json:"path"`
	Type       string `json:"type"`
	Mode       string `json:"mode"`
	Size       uint64 `json:"size"`
	LinkTarget string `json:"link_target"`
}

type diffChangeOut struct {
	Path     string `json:"path"`
	Modifier string `json:"modifier"`
}

type diffStatsOut struct {
	Added    int `json:"added"`
	Removed  int `json:"removed"`
	Changed  int `json:"changed"`
	Metadata int `json:"metadata_changed"`
}

type restoreSummary struct {
	SnapshotID    string `json:"snapshot_id"`
	FilesRestored int    `json:"files_restored"`
	DirsRestored  int    `json:"dirs_restored"`
	BytesRestored int64  `json:"bytes_restored"`
	Errors        []struct {
		Path  string `json:"path"`
		Error string `json:"error"`
	} `json:"errors"`
}

type problemOut struct {
	Kind    string   `json:"kind"`
	Object  string   `json:"object"`
	Message string   `json:"message"`
	Files   []string `json:"files"`
}

type checkSummaryOut struct {
	OK     *bool `json:"ok"`
	Report struct {
		Snapshots  int          `json:"snapshots"`
		Packs      int          `json:"packs"`
		IndexFiles int          `json:"index_files"`
		PacksRead  int          `json:"packs_read"`
		BytesRead  int64        `json:"bytes_read"`
		Errors     []problemOut `json:"errors"`
		Warnings   []problemOut `json:"warnings"`
	} `json:"report"`
}

type keyOut struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	Current bool   `json:"current"`
}

// Files.

// writeTree creates files under dir: a name ending in "/" is a directory,
// "->target" content a symlink, anything else a file with that content.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		content := files[name]
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasPrefix(content, "->"):
			err = os.Symlink(strings.TrimPrefix(content, "->"), p)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// compareTrees checks that got holds what want holds, entry by entry: the
// same names, types, permissions, symlink targets and bytes. skip leaves
// out entries of want (by slash-separated relative path).
func compareTrees(t *testing.T, want, got string, skip func(rel string) bool) {
	t.Helper()
	list := func(root string, skip func(string) bool) []string {
		var out []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if skip != nil && skip(rel) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			out = append(out, rel)
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
		return out
	}
	w, g := list(want, skip), list(got, nil)
	if !slices.Equal(w, g) {
		t.Errorf("entries differ:\n  want %q\n  got  %q", w, g)
		return
	}
	for _, rel := range w {
		a, b := filepath.Join(want, rel), filepath.Join(got, rel)
		ai, err := os.Lstat(a)
		if err != nil {
			t.Fatal(err)
		}
		bi, err := os.Lstat(b)
		if err != nil {
			t.Fatal(err)
		}
		if ai.Mode() != bi.Mode() {
			t.Errorf("%s: mode %v, want %v", rel, bi.Mode(), ai.Mode())
		}
		switch {
		case ai.Mode().IsRegular():
			if !bytes.Equal([]byte(readFile(t, a)), []byte(readFile(t, b))) {
				t.Errorf("%s: content differs", rel)
			}
		case ai.Mode()&fs.ModeSymlink != 0:
			la, _ := os.Readlink(a)
			lb, _ := os.Readlink(b)
			if la != lb {
				t.Errorf("%s: symlink to %q, want %q", rel, lb, la)
			}
		}
	}
}

// copyDir copies the directory tree src to dst (regular files and
// directories; repositories hold nothing else).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o600)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// packFiles lists the pack files of the repository at repo, largest first.
func packFiles(t *testing.T, repo string) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	slices.SortFunc(ps, func(a, b string) int { return int(size(b) - size(a)) })
	return ps
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
