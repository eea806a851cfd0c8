package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/testutil"
	"github.com/lumbung-id/lumbung/internal/zstdenc"
)

// snapPath is how a snapshot shows the file rel below the backed-up
// directory dir.
func snapPath(dir, rel string) string {
	p := filepath.ToSlash(dir)
	if vol := filepath.VolumeName(dir); vol != "" { // C:\x -> /C/x
		p = "/" + strings.TrimSuffix(vol, ":") + filepath.ToSlash(dir[len(vol):])
	}
	if rel == "" {
		return p
	}
	return p + "/" + rel
}

// TestWorkflow goes through the commands an administrator uses, in order,
// on one repository.
func TestWorkflow(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"a.txt":              "halo dunia\n",
		"data/b.csv":         strings.Repeat("3201010101900001;BUDI;SUKAMAJU\n", 4000),
		"data/big.bin":       string(testutil.RandBytes(1, 2<<20)),
		"data/sementara.tmp": "excluded",
		"cache/c.tmp":        "excluded",
		"link":               "->a.txt",
		"kosong/":            "",
		"run.sh":             "#!/bin/sh\necho lumbung\n",
	})
	if err := os.Chmod(filepath.Join(src, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	excluded := func(rel string) bool { return strings.HasSuffix(rel, ".tmp") }

	// init
	ini := message[struct {
		ID            string `json:"id"`
		FormatVersion int    `json:"format_version"`
	}](t, c.ok("init", "--json"), "initialized")
	if len(ini.ID) != 64 || ini.FormatVersion != 1 {
		t.Errorf("init: id %q, format version %d", ini.ID, ini.FormatVersion)
	}

	// backup with excludes and tags
	b1 := message[backupSummaryOut](t, c.ok("backup", src, "--exclude", "*.tmp", "--tag", "harian", "--tag", "uji", "--json"), "summary")
	if len(b1.SnapshotID) != 64 || b1.Parent != "" || b1.FilesNew != 4 {
		t.Errorf("first backup: id %q, parent %q, %d new files (want 4)", b1.SnapshotID, b1.Parent, b1.FilesNew)
	}

	// snapshots
	snaps := decodeAll[[]snapshotJSONOut](t, c.ok("snapshots", "--json"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots: %d, want 1", len(snaps))
	}
	sn := snaps[0]
	if sn.ID != b1.SnapshotID || sn.ShortID != b1.SnapshotID[:8] || !slices.Equal(sn.Tags, []string{"harian", "uji"}) ||
		!slices.Equal(sn.Paths, []string{src}) || !slices.Equal(sn.Excludes, []string{"*.tmp"}) {
		t.Errorf("snapshots: %+v", sn)
	}

	// ls: everything but the excluded files
	nodes := map[string]lsNode{}
	for _, n := range messagesOf[lsNode](t, c.ok("ls", "latest", "--json"), "node") {
		nodes[n.Path] = n
	}
	for rel, typ := range map[string]string{"a.txt": "file", "data/big.bin": "file", "data/b.csv": "file", "link": "symlink", "kosong": "dir", "cache": "dir", "run.sh": "file"} {
		if n, ok := nodes[snapPath(src, rel)]; !ok || n.Type != typ {
			t.Errorf("ls: %s: %+v, want a %s", rel, n, typ)
		}
	}
	if n := nodes[snapPath(src, "link")]; n.LinkTarget != "a.txt" {
		t.Errorf("ls: link target %q, want a.txt", n.LinkTarget)
	}
	if n := nodes[snapPath(src, "data/big.bin")]; n.Size != 2<<20 {
		t.Errorf("ls: big.bin size %d", n.Size)
	}
	if n := nodes[snapPath(src, "run.sh")]; n.Mode != "0755" {
		t.Errorf("ls: run.sh mode %q, want 0755", n.Mode)
	}
	for p := range nodes {
		if strings.HasSuffix(p, ".tmp") {
			t.Errorf("ls: excluded %s is in the snapshot", p)
		}
	}
	// ls of a path, not recursive
	var under []string
	for _, n := range messagesOf[lsNode](t, c.ok("ls", "latest", snapPath(src, "data"), "--recursive=false", "--json"), "node") {
		under = append(under, n.Path)
	}
	if want := []string{snapPath(src, "data"), snapPath(src, "data/b.csv"), snapPath(src, "data/big.bin")}; !slices.Equal(under, want) {
		t.Errorf("ls PATH: %q, want %q", under, want)
	}

	// change, back up again, diff
	writeTree(t, src, map[string]string{"a.txt": "halo dunia, versi kedua\n", "data/baru.txt": "baru\n"})
	if err := os.Remove(filepath.Join(src, "data", "b.csv")); err != nil {
		t.Fatal(err)
	}
	b2 := message[backupSummaryOut](t, c.ok("backup", src, "--exclude", "*.tmp", "--json"), "summary")
	if b2.Parent != b1.SnapshotID || b2.FilesNew != 1 || b2.FilesChanged != 1 {
		t.Errorf("second backup: parent %q (want %q), %d new, %d changed (want 1, 1)", b2.Parent, b1.SnapshotID, b2.FilesNew, b2.FilesChanged)
	}
	d := c.ok("diff", b1.SnapshotID[:8], "latest", "--json")
	var changes []string
	for _, ch := range messagesOf[diffChangeOut](t, d, "change") {
		changes = append(changes, ch.Modifier+" "+ch.Path)
	}
	slices.Sort(changes)
	wantChanges := []string{"+ " + snapPath(src, "data/baru.txt"), "- " + snapPath(src, "data/b.csv"), "M " + snapPath(src, "a.txt")}
	slices.Sort(wantChanges)
	if !slices.Equal(changes, wantChanges) {
		t.Errorf("diff: %q, want %q", changes, wantChanges)
	}
	if st := message[diffStatsOut](t, d, "statistics"); st.Added != 1 || st.Removed != 1 || st.Changed != 1 {
		t.Errorf("diff statistics: %+v", st)
	}

	// restore everything, and part of the first snapshot
	target := t.TempDir()
	rs := message[restoreSummary](t, c.ok("restore", "latest", "--target", target, "--json"), "summary")
	if rs.SnapshotID != b2.SnapshotID || len(rs.Errors) != 0 || rs.FilesRestored != 4 {
		t.Errorf("restore: %+v", rs)
	}
	compareTrees(t, src, filepath.Join(target, src), excluded)
	part := t.TempDir()
	c.ok("restore", b1.SnapshotID[:6], "--target", part, "--include", snapPath(src, "data"), "--json")
	if got := readFile(t, filepath.Join(part, src, "data", "b.csv")); got != strings.Repeat("3201010101900001;BUDI;SUKAMAJU\n", 4000) {
		t.Errorf("restored b.csv of the first snapshot differs")
	}
	if _, err := os.Lstat(filepath.Join(part, src, "a.txt")); err == nil {
		t.Errorf("restore --include data also restored a.txt")
	}

	// check, with and without reading the data
	for _, args := range [][]string{{"check", "--json"}, {"check", "--read-data", "--json"}, {"check", "--read-data-subset", "50%", "--json"}} {
		chk := message[checkSummaryOut](t, c.ok(args...), "summary")
		if chk.OK == nil || !*chk.OK || len(chk.Report.Errors) != 0 || len(chk.Report.Warnings) != 0 || chk.Report.Snapshots != 2 {
			t.Errorf("%s: %+v", strings.Join(args, " "), chk)
		}
		if readData := len(args) > 2; readData != (chk.Report.BytesRead > 0) {
			t.Errorf("%s: read %d bytes", strings.Join(args, " "), chk.Report.BytesRead)
		}
	}

	// keys: add a second password, open with it, refuse removing the key
	// in use, remove the other one
	added := message[struct {
		ID string `json:"id"`
	}](t, c.with("LUMBUNG_NEW_PASSWORD", "sandi kedua").ok("key", "add", "--label", "cadangan", "--json"), "key_added")
	keys := decodeAll[[]keyOut](t, c.ok("key", "list", "--json"))
	var current []keyOut
	for _, k := range keys {
		if k.Current {
			current = append(current, k)
		}
		if k.ID == added.ID && k.Label != "cadangan" {
			t.Errorf("key list: label %q, want cadangan", k.Label)
		}
	}
	if len(keys) != 2 || len(current) != 1 || current[0].ID == added.ID {
		t.Fatalf("key list: %+v; want 2 keys, the first password's current", keys)
	}
	second := c.with("LUMBUNG_PASSWORD", "sandi kedua")
	for _, k := range decodeAll[[]keyOut](t, second.ok("key", "list", "--json")) {
		if k.Current != (k.ID == added.ID) {
			t.Errorf("opened with the new password: key %s current=%v", k.ID[:8], k.Current)
		}
	}
	if n := len(decodeAll[[]snapshotJSONOut](t, second.ok("snapshots", "--json"))); n != 2 {
		t.Errorf("snapshots with the new password: %d", n)
	}
	pwFile := filepath.Join(t.TempDir(), "sandi")
	if err := os.WriteFile(pwFile, []byte("sandi kedua\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.with("LUMBUNG_PASSWORD", "", "LUMBUNG_PASSWORD_FILE", pwFile).ok("snapshots", "--json")
	c.with("LUMBUNG_PASSWORD", "").ok("snapshots", "--password-file", pwFile, "--json")
	c.fails(exitFailed, []string{"key", "remove", current[0].ID}, "refusing to remove the key")
	removed := message[struct {
		ID string `json:"id"`
	}](t, c.ok("key", "remove", added.ID[:8], "--json"), "key_removed")
	if removed.ID != added.ID {
		t.Errorf("key remove removed %s, want %s", removed.ID, added.ID)
	}
	if keys := decodeAll[[]keyOut](t, c.ok("key", "list", "--json")); len(keys) != 1 || keys[0].ID != current[0].ID {
		t.Errorf("key list after remove: %+v", keys)
	}
	second.fails(exitWrongPassword, []string{"snapshots"}, "wrong password")

	// cat
	cfgText := c.ok("cat", "config")
	cfg := decodeAll[map[string]any](t, cfgText)
	if cfg["version"] != float64(1) || cfg["id"] != ini.ID {
		t.Errorf("cat config: %v", cfg)
	}
	if !strings.Contains(c.ok("cat", "config", "--json").stdout, `"version":1`) {
		t.Errorf("cat config --json: no \"version\":1 in %s", c.ok("cat", "config", "--json").stdout)
	}
	catSn := decodeAll[snapshotJSONOut](t, c.ok("cat", "snapshot", "latest"))
	if catSn.ID != b2.SnapshotID || len(catSn.Tree) != 64 || !slices.Equal(catSn.Paths, []string{src}) {
		t.Errorf("cat snapshot latest: %+v", catSn)
	}
	v := decodeAll[map[string]string](t, c.ok("version", "--json"))
	if v["format_version"] != "1" || v["version"] == "" || v["zstd"] != zstdenc.Implementation {
		t.Errorf("version: %v", v)
	}
}

// TestBackupStdin backs up a database dump read from standard input.
func TestBackupStdin(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("init")
	var dump bytes.Buffer
	for i := 0; dump.Len() < 3<<19; i++ {
		fmt.Fprintf(&dump, "INSERT INTO penduduk (nik, nama) VALUES ('32010%011d', 'WARGA %d');\n", i*7919, i)
	}
	dumpFile := filepath.Join(t.TempDir(), "siak.sql")
	if err := os.WriteFile(dumpFile, dump.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	backup := func() backupSummaryOut {
		t.Helper()
		in, err := os.Open(dumpFile)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		o := c.runStdin(in, "backup", "--stdin", "--stdin-filename", "siak.sql", "--tag", "siak", "--json")
		if o.code != 0 {
			t.Fatalf("backup --stdin: %v", o)
		}
		return message[backupSummaryOut](t, o, "summary")
	}
	first := backup()
	if first.FilesNew != 1 || first.DataAdded < int64(dump.Len()) {
		t.Errorf("backup --stdin: %+v", first)
	}
	snaps := decodeAll[[]snapshotJSONOut](t, c.ok("snapshots", "--json"))
	if len(snaps) != 1 || !slices.Equal(snaps[0].Paths, []string{"/siak.sql"}) || !slices.Equal(snaps[0].Tags, []string{"siak"}) {
		t.Errorf("snapshots: %+v", snaps)
	}
	nodes := messagesOf[lsNode](t, c.ok("ls", "latest", "--json"), "node")
	if len(nodes) != 1 || nodes[0].Path != "/siak.sql" || nodes[0].Type != "file" || nodes[0].Size != uint64(dump.Len()) {
		t.Errorf("ls: %+v", nodes)
	}
	target := t.TempDir()
	c.ok("restore", "latest", "--target", target, "--json")
	if got := readFile(t, filepath.Join(target, "siak.sql")); got != dump.String() {
		t.Errorf("restored siak.sql differs from the dump (%d bytes, want %d)", len(got), dump.Len())
	}
	// The same dump again adds no data: it is deduplicated.
	if again := backup(); again.DataAdded >= 64<<10 {
		t.Errorf("the same dump again added %d bytes", again.DataAdded)
	}
}

// TestFlagsAfterArguments: flags and arguments come in any order; "--" ends
// the flags.
func TestFlagsAfterArguments(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("init")
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a.txt": "a\n", "sub/b.txt": "b\n"})

	x := message[backupSummaryOut](t, c.ok("backup", src, "--tag", "x", "--json"), "summary")
	y := message[backupSummaryOut](t, c.ok("backup", "--json", "--tag", "y", "--", src), "summary")
	for tag, want := range map[string]string{"x": x.SnapshotID, "y": y.SnapshotID} {
		snaps := decodeAll[[]snapshotJSONOut](t, c.ok("snapshots", "--json", "--tag", tag))
		if len(snaps) != 1 || snaps[0].ID != want || !slices.Equal(snaps[0].Tags, []string{tag}) {
			t.Errorf("snapshots --tag %s: %+v", tag, snaps)
		}
	}
	for _, args := range [][]string{
		{"restore", "latest", "--target", "T", "--json"},
		{"restore", "--target", "T", "latest", "--json"},
		{"restore", "--json", x.SnapshotID[:8], "--target", "T"},
	} {
		target := t.TempDir()
		args[slices.Index(args, "T")] = target
		c.ok(args...)
		compareTrees(t, src, filepath.Join(target, src), nil)
	}
	if keys := decodeAll[[]keyOut](t, c.ok("key", "--json", "list")); len(keys) != 1 {
		t.Errorf("key --json list: %+v", keys)
	}
	var paths []string
	for _, n := range messagesOf[lsNode](t, c.ok("ls", "latest", "--json", src, "--recursive=false"), "node") {
		paths = append(paths, n.Path)
	}
	if want := []string{snapPath(src, ""), snapPath(src, "a.txt"), snapPath(src, "sub")}; !slices.Equal(paths, want) {
		t.Errorf("ls: %q, want %q", paths, want)
	}
}

// TestErrors: bad input gives the documented exit code and one clear line
// on standard error; never a panic or a hang (the runner fails on both).
func TestErrors(t *testing.T) {
	t.Parallel()
	base := newCLI(t)
	base.ok("init")
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a.txt": "a\n"})
	base.ok("backup", src)
	nowhere := filepath.Join(t.TempDir(), "target") // never created: every case fails before

	copyRepo := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "repo")
		copyDir(t, base.repo(), dir)
		return dir
	}
	newerFormat := func(t *testing.T) *cli {
		dir := copyRepo(t)
		p := filepath.Join(dir, "config")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		nl := bytes.IndexByte(data, '\n')
		header := bytes.Replace(data[:nl], []byte(`"version":1`), []byte(`"version":99`), 1)
		if bytes.Equal(header, data[:nl]) {
			t.Fatalf("config header %q has no \"version\":1", data[:nl])
		}
		if err := os.WriteFile(p, append(header, data[nl:]...), 0o600); err != nil {
			t.Fatal(err)
		}
		return base.withRepo(dir)
	}
	interrupted := func(*testing.T) *cli {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n := *base
		n.ctx = ctx
		return &n
	}
	pwFile := func(content string) func(t *testing.T) *cli {
		return func(t *testing.T) *cli {
			p := filepath.Join(t.TempDir(), "pw")
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			return base.with("LUMBUNG_PASSWORD", "", "LUMBUNG_PASSWORD_FILE", p)
		}
	}

	cases := []struct {
		name string
		cli  func(t *testing.T) *cli // nil: base
		args []string
		code int
		want []string
	}{
		{"wrong password", func(*testing.T) *cli { return base.with("LUMBUNG_PASSWORD", "salah") }, []string{"snapshots"}, exitWrongPassword, []string{"wrong password"}},
		{"wrong password file", pwFile("salah\n"), []string{"backup", src}, exitWrongPassword, []string{"wrong password"}},
		{"empty password file", pwFile("\n"), []string{"snapshots"}, exitFailed, []string{"empty"}},
		{"no password", func(*testing.T) *cli { return base.with("LUMBUNG_PASSWORD", "") }, []string{"snapshots"}, exitUsage, []string{"no password given"}},
		{"missing repository", func(t *testing.T) *cli { return base.withRepo(filepath.Join(t.TempDir(), "nothing")) }, []string{"snapshots"}, exitNoRepository, []string{"no repository"}},
		{"empty directory", func(t *testing.T) *cli { return base.withRepo(t.TempDir()) }, []string{"restore", "latest", "--target", nowhere}, exitNoRepository, []string{"no repository"}},
		{"no repository given", func(*testing.T) *cli { return base.with("LUMBUNG_REPOSITORY", "") }, []string{"check"}, exitUsage, []string{"LUMBUNG_REPOSITORY"}},
		{"newer format", newerFormat, []string{"snapshots"}, exitFailed, []string{"version 99", "upgrade"}},
		{"newer format, no password needed", func(t *testing.T) *cli { return newerFormat(t).with("LUMBUNG_PASSWORD", "") }, []string{"backup", src}, exitFailed, []string{"version 99", "upgrade"}},
		{"not a repository", func(t *testing.T) *cli {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"config": "[core]\n\tbare = true\n"})
			return base.withRepo(dir)
		}, []string{"snapshots"}, exitFailed, []string{"not a lumbung repository"}},
		{"init over a repository", nil, []string{"init"}, exitFailed, []string{"already exists"}},
		{"locked", func(t *testing.T) *cli {
			dir := copyRepo(t)
			holdLock(t, dir, true)
			return base.withRepo(dir)
		}, []string{"backup", src}, exitLocked, []string{"locked"}},
		{"interrupted backup", interrupted, []string{"backup", src}, exitInterrupted, []string{"interrupted", "the next backup reuses"}},
		{"interrupted restore", interrupted, []string{"restore", "latest", "--target", nowhere}, exitInterrupted, []string{"interrupted"}},
		{"no snapshot yet", func(t *testing.T) *cli {
			n := base.on(t).withRepo(filepath.Join(t.TempDir(), "repo"))
			n.ok("init")
			return n
		}, []string{"restore", "latest", "--target", nowhere}, exitFailed, []string{"no snapshot"}},
		{"unknown snapshot", nil, []string{"restore", "deadbeef", "--target", nowhere}, exitFailed, []string{"deadbeef"}},
		{"short snapshot id", nil, []string{"ls", "ab"}, exitFailed, []string{"too short"}},
		{"path not in snapshot", nil, []string{"ls", "latest", "/tidak/ada"}, exitFailed, []string{"/tidak/ada"}},
		{"missing backup path", nil, []string{"backup", filepath.Join(src, "tidak-ada")}, exitFailed, []string{"tidak-ada"}},
		{"key id matches nothing", nil, []string{"key", "remove", "ffff"}, exitFailed, []string{"ffff"}},
		{"unknown command", nil, []string{"cadangkan"}, exitUsage, []string{"unknown command"}},
		{"unknown flag", nil, []string{"backup", "--bogus", src}, exitUsage, []string{"-bogus"}},
		{"flag without value", nil, []string{"check", "--read-data-subset"}, exitUsage, []string{"read-data-subset"}},
		{"backup without paths", nil, []string{"backup"}, exitUsage, []string{"paths"}},
		{"stdin with paths", nil, []string{"backup", "--stdin", src}, exitUsage, []string{"--stdin"}},
		{"bad stdin file name", nil, []string{"backup", "--stdin", "--stdin-filename", "a/b.sql"}, exitUsage, []string{"a/b.sql"}},
		{"bad exclude pattern", nil, []string{"backup", src, "--exclude", "[x"}, exitUsage, []string{"[x"}},
		{"restore without target", nil, []string{"restore", "latest"}, exitUsage, []string{"--target"}},
		{"restore without snapshot", nil, []string{"restore", "--target", nowhere}, exitUsage, []string{"SNAPSHOT"}},
		{"diff with one snapshot", nil, []string{"diff", "latest"}, exitUsage, []string{"SNAPSHOT2"}},
		{"ls without snapshot", nil, []string{"ls"}, exitUsage, []string{"SNAPSHOT"}},
		{"init with arguments", nil, []string{"init", "extra"}, exitUsage, []string{"no arguments"}},
		{"cat without object", nil, []string{"cat"}, exitUsage, []string{"config"}},
		{"cat unknown object", nil, []string{"cat", "kunci"}, exitUsage, []string{"kunci"}},
		{"key without subcommand", nil, []string{"key"}, exitUsage, []string{"add|list|remove"}},
		{"key unknown subcommand", nil, []string{"key", "ganti"}, exitUsage, []string{"ganti"}},
		{"key remove without id", nil, []string{"key", "remove"}, exitUsage, []string{"KEY-ID"}},
		{"subset zero", nil, []string{"check", "--read-data-subset", "0%"}, exitUsage, []string{"percentage"}},
		{"subset too big", nil, []string{"check", "--read-data-subset", "150%"}, exitUsage, []string{"percentage"}},
		{"subset not a number", nil, []string{"check", "--read-data-subset", "banyak"}, exitUsage, []string{"banyak"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			if tc.cli != nil {
				c = tc.cli(t)
			}
			c = c.on(t)
			c.fails(tc.code, tc.args, tc.want...)
			c.fails(tc.code, append(tc.args, "--json"), tc.want...) // same in JSON mode
		})
	}
}

// damagedRepo makes a repository with one snapshot of a small tree whose
// data fits one pack, and returns the cli, the source and the pack file.
func damagedRepo(t *testing.T) (*cli, string, string) {
	t.Helper()
	c := newCLI(t)
	c.ok("init")
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"a.txt":       "halo\n",
		"b.txt":       strings.Repeat("desa sukamaju\n", 100),
		"big.bin":     string(testutil.RandBytes(2, 3<<20)),
		"sub/mid.bin": string(testutil.RandBytes(3, 1<<20)),
	})
	c.ok("backup", src)
	return c, src, packFiles(t, c.repo())[0] // the data pack is the largest
}

// checkRestoreAfterDamage restores the latest snapshot of c and requires:
// exit code 1 with one line on stderr, the damaged files listed in the JSON
// summary and none of them under its real name, every other file restored
// exactly. It returns the damaged files' snapshot paths.
func checkRestoreAfterDamage(t *testing.T, c *cli, src string) []string {
	t.Helper()
	target := t.TempDir()
	o := c.run("restore", "latest", "--target", target, "--json")
	checkFailure(t, o, exitFailed, "could not be restored")
	rs := message[restoreSummary](t, o, "summary")
	var damaged []string
	for _, e := range rs.Errors {
		damaged = append(damaged, e.Path)
	}
	slices.Sort(damaged)
	if len(damaged) == 0 {
		t.Fatalf("restore of a damaged snapshot reports no damaged file: %v", o)
	}
	for _, rel := range []string{"a.txt", "b.txt", "big.bin", "sub/mid.bin"} {
		got := filepath.Join(target, src, filepath.FromSlash(rel))
		if slices.Contains(damaged, snapPath(src, rel)) {
			if _, err := os.Lstat(got); err == nil {
				t.Errorf("damaged %s was restored under its real name", rel)
			}
			if _, err := os.Lstat(got + ".lumbung-partial"); err != nil {
				t.Errorf("damaged %s: no .lumbung-partial file: %v", rel, err)
			}
			continue
		}
		if readFile(t, got) != readFile(t, filepath.Join(src, filepath.FromSlash(rel))) {
			t.Errorf("undamaged %s was not restored exactly", rel)
		}
	}
	return damaged
}

// checkDamageReport runs check (with args) and requires exit code 1, one
// line on stderr, and an error naming the pack. It returns the affected
// files the error lists.
func checkDamageReport(t *testing.T, c *cli, pack string, args ...string) []string {
	t.Helper()
	o := c.run(append([]string{"check", "--json"}, args...)...)
	checkFailure(t, o, exitFailed, "errors")
	chk := message[checkSummaryOut](t, o, "summary")
	id := filepath.Base(pack)
	for _, p := range chk.Report.Errors {
		if p.Kind == "pack" && p.Object == id && strings.Contains(p.Message, id[:8]) {
			if chk.OK == nil || *chk.OK {
				t.Errorf("check: ok with errors: %+v", chk)
			}
			return p.Files
		}
	}
	t.Fatalf("check %s: no error names pack %s: %+v", strings.Join(args, " "), id[:8], chk.Report.Errors)
	return nil
}

func TestDamagedPack(t *testing.T) {
	t.Parallel()
	t.Run("bit flip", func(t *testing.T) {
		t.Parallel()
		c, src, pack := damagedRepo(t)
		data, err := os.ReadFile(pack)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x40
		if err := os.WriteFile(pack, data, 0o600); err != nil {
			t.Fatal(err)
		}
		files := checkDamageReport(t, c, pack, "--read-data")
		damaged := checkRestoreAfterDamage(t, c, src)
		slices.Sort(files)
		if !slices.Equal(files, damaged) {
			t.Errorf("check names %q as damaged, restore fails on %q", files, damaged)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		t.Parallel()
		c, src, pack := damagedRepo(t)
		fi, err := os.Stat(pack)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(pack, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
		checkDamageReport(t, c, pack) // the header at the end is gone: found without reading the data
		files := checkDamageReport(t, c, pack, "--read-data")
		damaged := checkRestoreAfterDamage(t, c, src)
		slices.Sort(files)
		if !slices.Equal(files, damaged) {
			t.Errorf("check names %q as damaged, restore fails on %q", files, damaged)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		c, _, pack := damagedRepo(t)
		if err := os.Remove(pack); err != nil {
			t.Fatal(err)
		}
		checkDamageReport(t, c, pack)
	})
}

// TestMissingIndex: with the index files gone, check says which blobs are
// in no index and that a backup re-indexes them; restore fails clearly; the
// next backup adopts the packs, and then everything works again.
func TestMissingIndex(t *testing.T) {
	t.Parallel()
	c, src, _ := damagedRepo(t)
	first := decodeAll[[]snapshotJSONOut](t, c.ok("snapshots", "--json"))[0]
	idx, err := filepath.Glob(filepath.Join(c.repo(), "index", "*"))
	if err != nil || len(idx) == 0 {
		t.Fatalf("index files: %v %v", idx, err)
	}
	for _, p := range idx {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	packs := len(packFiles(t, c.repo()))

	o := c.run("check", "--json")
	checkFailure(t, o, exitFailed, "errors")
	chk := message[checkSummaryOut](t, o, "summary")
	if chk.OK == nil || *chk.OK || len(chk.Report.Errors) == 0 {
		t.Fatalf("check without index files: %+v", chk)
	}
	for _, p := range chk.Report.Errors {
		if p.Kind != "index" || !strings.Contains(p.Message, "in no index") || !strings.Contains(p.Message, "run a backup") {
			t.Errorf("check without index files: unexpected error %+v", p)
		}
	}
	c.fails(exitFailed, []string{"restore", "latest", "--target", t.TempDir()}, "index")

	b := message[backupSummaryOut](t, c.ok("backup", src, "--json"), "summary")
	// Only directory trees may be new (a parent directory's time may have
	// changed); no file data is stored again.
	if b.PacksAdopted != packs || b.DataAdded >= 64<<10 {
		t.Errorf("backup after losing the index: adopted %d packs (want %d), added %d bytes (want only trees)", b.PacksAdopted, packs, b.DataAdded)
	}
	chk = message[checkSummaryOut](t, c.ok("check", "--read-data", "--json"), "summary")
	if chk.OK == nil || !*chk.OK || len(chk.Report.Warnings) != 0 {
		t.Errorf("check after the backup: %+v", chk)
	}
	for _, id := range []string{"latest", first.ID} {
		target := t.TempDir()
		c.ok("restore", id, "--target", target)
		compareTrees(t, src, filepath.Join(target, src), nil)
	}
}

// TestUnreadableFile: a file that cannot be read is listed, the snapshot is
// saved anyway, and the exit code is 3.
func TestUnreadableFile(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("file modes do not make files unreadable on Windows")
	}
	if os.Geteuid() == 0 {
		t.Skip("running as root: chmod 000 does not stop root from reading, so no file is unreadable here; " +
			"internal/archiver tests unreadable files with an open hook")
	}
	c := newCLI(t)
	c.ok("init")
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a.txt": "a\n", "rahasia.txt": "secret\n"})
	locked := filepath.Join(src, "rahasia.txt")
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o600) })
	o := c.run("backup", src, "--json")
	checkFailure(t, o, exitPartial, "could not be read")
	sum := message[backupSummaryOut](t, o, "summary")
	if len(sum.Unreadable) != 1 || sum.Unreadable[0].Path != locked {
		t.Errorf("unreadable: %+v, want %s", sum.Unreadable, locked)
	}
	if snaps := decodeAll[[]snapshotJSONOut](t, c.ok("snapshots", "--json")); len(snaps) != 1 || snaps[0].ID != sum.SnapshotID {
		t.Errorf("the snapshot was not saved: %+v", snaps)
	}
}

// TestHelp: `lumbung COMMAND --help` prints the command's flags on standard
// output and exits 0.
func TestHelp(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	for _, cmd := range commands() {
		for _, flag := range []string{"--help", "-h"} {
			o := c.run(cmd.name, flag)
			if o.code != exitOK || o.stderr != "" || !strings.Contains(o.stdout, "Usage: lumbung "+cmd.name) {
				t.Errorf("want usage on stdout and exit 0: %v", o)
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		if o := c.run(args...); o.code != exitOK || !strings.Contains(o.stdout, "Commands:") {
			t.Errorf("want the command list and exit 0: %v", o)
		}
	}
	if o := c.run(); o.code != exitUsage || !strings.Contains(o.stdout, "Commands:") {
		t.Errorf("no command: want the command list and exit 2: %v", o)
	}
}

// TestBackupLeavesOut: --exclude-file patterns (comments and blank lines
// skipped) leave files out, and a local repository inside the backed-up
// tree is never saved into itself, also when named through a symlink; a
// bad pattern in the file is a usage error naming its line.
func TestBackupLeavesOut(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a.txt": "a\n", "b.tmp": "b\n", "cache/c.bin": "c\n", "data/d.csv": "d\n"})
	newCLI(t).withRepo(filepath.Join(src, "lumbung-repo")).ok("init")
	viaLink := filepath.Join(t.TempDir(), "repo-link")
	if err := os.Symlink(filepath.Join(src, "lumbung-repo"), viaLink); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t).withRepo(viaLink)
	list := filepath.Join(t.TempDir(), "exclude.txt")
	writeTree(t, filepath.Dir(list), map[string]string{"exclude.txt": "# sementara\n*.tmp\n\n  " + filepath.Join(src, "cache") + "  \n"})
	c.ok("backup", src, "--exclude-file", list)
	got := map[string]bool{}
	for _, n := range messagesOf[lsNode](t, c.ok("ls", "latest", "--json"), "node") {
		got[n.Path] = true
	}
	for rel, want := range map[string]bool{"a.txt": true, "data/d.csv": true, "b.tmp": false, "cache": false, "lumbung-repo": false} {
		if got[snapPath(src, rel)] != want {
			t.Errorf("%s in the snapshot: %v, want %v", rel, got[snapPath(src, rel)], want)
		}
	}
	writeTree(t, filepath.Dir(list), map[string]string{"bad.txt": "*.tmp\n[\n"})
	c.fails(exitUsage, []string{"backup", src, "--exclude-file", filepath.Join(filepath.Dir(list), "bad.txt")}, "line 2")

	// --files-from: the paths come from a file.
	writeTree(t, filepath.Dir(list), map[string]string{
		"paths.txt": "# yang dicadangkan\n" + filepath.Join(src, "a.txt") + "\n\n" + filepath.Join(src, "data") + "\n",
		"none.txt":  "# kosong\n",
	})
	sum := message[backupSummaryOut](t, c.ok("backup", "--files-from", filepath.Join(filepath.Dir(list), "paths.txt"), "--json"), "summary")
	got = map[string]bool{}
	for _, n := range messagesOf[lsNode](t, c.ok("ls", sum.SnapshotID, "--json"), "node") {
		got[n.Path] = true
	}
	if !got[snapPath(src, "a.txt")] || !got[snapPath(src, "data/d.csv")] || got[snapPath(src, "cache")] {
		t.Errorf("--files-from: snapshot holds %v, want a.txt and data only", got)
	}
	c.fails(exitUsage, []string{"backup", "--files-from", filepath.Join(filepath.Dir(list), "none.txt")}, "names no path")
}

// TestDump: a file comes out as it was, a directory as a tar archive
// laid out as a restore would, and a path the snapshot lacks or a symlink
// is one clear error.
func TestDump(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("init")
	src := t.TempDir()
	writeTree(t, src, map[string]string{"siak.sql": "COPY penduduk FROM stdin;\n", "arsip/surat.txt": "Yth. Bupati\n"})
	if err := os.Symlink("siak.sql", filepath.Join(src, "pintasan")); err != nil {
		t.Fatal(err)
	}
	c.ok("backup", src)
	if o := c.ok("dump", "latest", filepath.Join(src, "siak.sql")); o.stdout != "COPY penduduk FROM stdin;\n" {
		t.Errorf("dump of a file wrote %q", o.stdout)
	}
	o := c.ok("dump", "latest", src)
	names := map[string]string{}
	tr := tar.NewReader(strings.NewReader(o.stdout))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("dump of a directory: not a tar archive: %v", err)
		}
		data, _ := io.ReadAll(tr)
		names[h.Name] = string(data)
	}
	rel := strings.TrimPrefix(filepath.ToSlash(src), "/")
	if names[rel+"/arsip/surat.txt"] != "Yth. Bupati\n" || names[rel+"/siak.sql"] == "" {
		t.Errorf("archive entries %v", names)
	}
	c.fails(exitFailed, []string{"dump", "latest", filepath.Join(src, "tidak-ada")}, "not in the snapshot", "lumbung ls")
	c.fails(exitFailed, []string{"dump", "latest", filepath.Join(src, "pintasan")}, "symbolic link", "siak.sql")
	c.fails(exitUsage, []string{"dump", "latest"}, "usage")
}

// TestFind: find names the snapshots that still hold a deleted file, by
// name (also ignoring case) or by whole path, in text and JSON.
func TestFind(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("init")
	src := t.TempDir()
	writeTree(t, src, map[string]string{"keuangan/Anggaran-2026.xlsx": "v1", "keuangan/catatan.txt": "x", "umum/anggaran.txt": "y"})
	first := message[backupSummaryOut](t, c.ok("backup", src, "--json"), "summary").SnapshotID
	if err := os.Remove(filepath.Join(src, "keuangan", "Anggaran-2026.xlsx")); err != nil {
		t.Fatal(err)
	}
	c.ok("backup", src)
	xlsx := snapPath(src, "keuangan/Anggaran-2026.xlsx")
	for _, tc := range []struct {
		args []string
		want []string // snapshot id prefixes and paths, in order
	}{
		{[]string{"*.xlsx"}, []string{first, xlsx}},
		{[]string{"anggaran*"}, []string{snapPath(src, "umum/anggaran.txt")}},
		{[]string{"-i", "anggaran*.xlsx"}, []string{first, xlsx}},
		{[]string{snapPath(src, "keuangan") + "/*.xlsx"}, []string{xlsx}},
	} {
		o := c.ok(append([]string{"find"}, tc.args...)...)
		matches := messagesOf[struct {
			SnapshotID string `json:"snapshot_id"`
			Path       string `json:"path"`
		}](t, c.ok(append([]string{"find", "--json"}, tc.args...)...), "match")
		for _, w := range tc.want {
			if !strings.Contains(o.stdout, w[:min(len(w), 8)]) {
				t.Errorf("find %v: %q missing from\n%s", tc.args, w, o.stdout)
			}
		}
		if tc.want[0] == first && (len(matches) != 1 || matches[0].SnapshotID != first || matches[0].Path != xlsx) {
			t.Errorf("find --json %v: %+v, want only %s in the first snapshot", tc.args, matches, xlsx)
		}
	}
	// A snapshot whose trees are damaged is named, the others still searched.
	other := t.TempDir()
	writeTree(t, other, map[string]string{"lain/anggaran-lama.xlsx": "v0"})
	before := map[string]bool{}
	for _, p := range packFiles(t, c.repo()) {
		before[p] = true
	}
	broken := message[backupSummaryOut](t, c.ok("backup", other, "--json"), "summary").SnapshotID
	for _, p := range packFiles(t, c.repo()) {
		if !before[p] {
			if err := os.WriteFile(p, []byte("rusak"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	o := c.run("find", "*.xlsx")
	if o.code != exitFailed || !strings.Contains(o.stderr, "1 of 3 snapshots could not be searched") {
		t.Errorf("find past a damaged snapshot: %v, want exit code %d saying 1 of 3 could not be searched", o, exitFailed)
	}
	if !strings.Contains(o.stdout, xlsx) || !strings.Contains(o.stderr, broken[:8]) {
		t.Errorf("find past a damaged snapshot: stdout %q, stderr %q; want %s found and %s named", o.stdout, o.stderr, xlsx, broken[:8])
	}
	if o := c.ok("find", "anggaran*", "--snapshot", first); strings.Contains(o.stdout, "Anggaran-2026") {
		t.Errorf("find without -i matched another case:\n%s", o.stdout)
	}
	if o := c.ok("find", "*.doc", "--snapshot", first); !strings.Contains(o.stdout, "0 entries found") {
		t.Errorf("find of nothing: %q", o.stdout)
	}
	c.fails(exitUsage, []string{"find", "["}, "pattern")
}

// TestTreeBombRefused: a forged snapshot whose trees double at each of 60
// levels (2^60 entries from 61 small trees) is refused with one error line
// by every command that walks it, instead of running forever.
func TestTreeBombRefused(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("init")
	ctx := context.Background()
	repo := openRepoAt(t, c.repo())
	w := repo.NewWriter(ctx)
	save := func(tr *repository.Tree) crypto.ID {
		data, err := repository.EncodeTree(tr)
		if err != nil {
			t.Fatal(err)
		}
		id, _, err := w.SaveBlob(ctx, repository.TreeBlob, data)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	now := time.Now()
	id := save(&repository.Tree{Nodes: []*repository.Node{{Name: "a.txt", Type: repository.NodeFile, ModTime: now}}})
	for range 60 {
		id = save(&repository.Tree{Nodes: []*repository.Node{
			{Name: "x", Type: repository.NodeDir, Subtree: id, ModTime: now},
			{Name: "y", Type: repository.NodeDir, Subtree: id, ModTime: now},
		}})
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.SaveSnapshot(ctx, &repository.Snapshot{Time: now, Tree: id, Paths: []string{"/bom"}}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"ls", "latest"},
		{"find", "*.txt"},
		{"dump", "latest", "/"},
		{"dump", "latest", "/x"},
		{"diff", "latest", "latest"},
		{"restore", "latest", "--target", t.TempDir()},
	} {
		o := c.run(args...)
		if o.code == exitOK || !strings.Contains(o.stderr, "never end") && !strings.Contains(o.stderr, "hostile") {
			t.Errorf("%v", o)
		}
		if len(o.stdout) > 10000 {
			t.Errorf("lumbung %v wrote %d bytes before refusing", args, len(o.stdout))
		}
	}
}
