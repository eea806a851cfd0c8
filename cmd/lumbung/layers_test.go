package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/replicate"
	"github.com/lumbung-id/lumbung/internal/testutil"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// The layer tests run the dataset commands (backup, copy, export, status,
// restore and check with --config) against real repositories: local
// directories and an in-process `lumbung serve`.

// layerSetup is a config with three layers of dataset siak: a local
// directory, a repository server and an offline directory.
type layerSetup struct {
	c                      *cli
	dir, config            string
	lokal, usb, serverData string
	src                    string
	passFile, tokenFile    string
	listen, fp             string
	stop                   func()
}

func newLayerSetup(t *testing.T) *layerSetup {
	t.Helper()
	s := &layerSetup{c: newCLI(t), dir: t.TempDir(), serverData: t.TempDir(), src: t.TempDir()}
	s.config = filepath.Join(s.dir, "lumbung.yaml")
	s.lokal = filepath.Join(s.dir, "lokal")
	s.usb = filepath.Join(s.dir, "usb")
	s.passFile = filepath.Join(s.dir, "siak.pass")
	s.tokenFile = filepath.Join(s.dir, "prov.token")
	if err := os.WriteFile(s.passFile, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.listen, s.fp, s.stop = startServe(t, s.serverData)
	tok := message[struct {
		Token string `json:"token"`
	}](t, s.c.ok("token", "create", "--data", s.serverData, "--name", "opd-siak", "--scope", "append", "--repo", "siak", "--json"), "token_created")
	if err := os.WriteFile(s.tokenFile, []byte(tok.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.writeConfig(t)
	s.c.withRepo(s.lokal).ok("init")
	return s
}

// writeConfig writes the config for the server's current address.
func (s *layerSetup) writeConfig(t *testing.T) {
	t.Helper()
	cfg := fmt.Sprintf(`datasets:
  siak:
    paths: [%q]
    excludes: ["*.tmp"]
    layers:
      - name: lokal
        repository: %q
        role: local
        media: disk
        password: {file: %q}
      - name: provinsi
        repository: "rest:https://%s/siak?fingerprint=%s"
        role: regional
        media: server
        token: {file: %q}
      - name: usb
        repository: %q
        role: offline
        media: removable
`, s.src, s.lokal, s.passFile, s.listen, s.fp, s.tokenFile, s.usb)
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// run runs a dataset command with --config.
func (s *layerSetup) run(args ...string) output {
	s.c.t.Helper()
	return s.c.run(append(args, "--config", s.config)...)
}

type layerStatusOut struct {
	Name             string `json:"name"`
	Reachable        bool   `json:"reachable"`
	Error            string `json:"error"`
	Snapshots        int    `json:"snapshots"`
	Counted          bool   `json:"counted"`
	LastVerification *struct {
		OK bool `json:"ok"`
	} `json:"last_verification"`
	Newest *struct {
		ID string `json:"id"`
	} `json:"newest"`
	LastReplication *layers.Replication `json:"last_replication"`
}

// replication returns the outcome of the last replication to layer name
// ("" when none is recorded).
func (d datasetStatusOut) replication(t *testing.T, name string) string {
	t.Helper()
	if r := d.layer(t, name).LastReplication; r != nil {
		return r.Outcome
	}
	return ""
}

type datasetStatusOut struct {
	Dataset string           `json:"dataset"`
	Layers  []layerStatusOut `json:"layers"`
	Verdict struct {
		OK     bool `json:"ok"`
		Copies int  `json:"copies"`
		Unmet  []struct {
			Rule    string            `json:"rule"`
			Message map[string]string `json:"message"`
		} `json:"unmet"`
	} `json:"verdict"`
}

func (d datasetStatusOut) layer(t *testing.T, name string) layerStatusOut {
	t.Helper()
	for _, l := range d.Layers {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("status has no layer %s: %+v", name, d)
	return layerStatusOut{}
}

func (d datasetStatusOut) unmet() []string {
	var out []string
	for _, u := range d.Verdict.Unmet {
		if len(out) == 0 || out[len(out)-1] != u.Rule {
			out = append(out, u.Rule)
		}
	}
	return out
}

type replicationOut struct {
	From   string          `json:"from"`
	Layers []layerCopyJSON `json:"layers"`
}

func copyOutcome(r replicationOut) map[string]string {
	m := map[string]string{}
	for _, l := range r.Layers {
		m[l.Layer] = l.Status
	}
	return m
}

// TestLayersEndToEnd is the workflow: a backup reaches every
// layer, status names the unmet rules until every copy exists and is
// verified, a layer that goes down fails the replication (exit 4) and shows
// as unreachable, and restore --layer auto falls back to the next layer
// when the nearer ones are gone, restoring byte-identical data.
func TestLayersEndToEnd(t *testing.T) {
	s := newLayerSetup(t)
	writeTree(t, s.src, map[string]string{
		"penduduk.csv": strings.Repeat("3201010101900001;BUDI;SUKAMAJU\n", 3000),
		"arsip/a.bin":  string(testutil.RandBytes(7, 3<<20)),
		"cache.tmp":    "excluded",
	})
	// Later changes only add baru.txt: the first snapshot is src without it.
	first := func(rel string) bool { return rel == "cache.tmp" || rel == "baru.txt" }

	o := s.run("backup", "--dataset", "siak", "--json")
	if o.code != exitOK {
		t.Fatalf("backup: %v", o)
	}
	snap1 := message[backupSummaryOut](t, o, "summary").SnapshotID
	if got := copyOutcome(message[replicationOut](t, o, "replication")); got["provinsi"] != "ok" || got["usb"] != "skipped" || len(got) != 2 {
		t.Errorf("replication after the backup: %v", got)
	}
	// The snapshot is in the first layer with its dataset, and on the server.
	snaps := decodeAll[[]struct {
		ID      string `json:"id"`
		Dataset string `json:"dataset"`
	}](t, s.c.withRepo(s.lokal).ok("snapshots", "--json"))
	if len(snaps) != 1 || snaps[0].ID != snap1 {
		t.Fatalf("snapshots of lokal: %+v, want %s", snaps, snap1)
	}
	if _, err := os.Stat(filepath.Join(s.serverData, "repos", "siak", "snapshots", snap1)); err != nil {
		t.Errorf("the server does not hold the snapshot: %v", err)
	}

	// Status: two copies, nothing verified, no offline copy yet.
	o = s.run("status", "--json")
	if o.code != exitUnprotected {
		t.Fatalf("status before the export: want exit %d: %v", exitUnprotected, o)
	}
	st := message[datasetStatusOut](t, o, "dataset_status")
	if l := st.layer(t, "provinsi"); !l.Reachable || l.Snapshots != 1 || l.Newest == nil || l.Newest.ID != snap1 {
		t.Errorf("status of provinsi: %+v", l)
	}
	if got := strings.Join(st.unmet(), ","); got != "copies,immutable,errors" {
		t.Errorf("unmet rules before export: %s (%+v)", got, st.Verdict)
	}
	for _, u := range st.Verdict.Unmet {
		if u.Message["en"] == "" || u.Message["id"] == "" {
			t.Errorf("unmet %s without a message in both languages: %v", u.Rule, u.Message)
		}
	}
	text := s.run("status")
	// The offline layer was never exported: that is what status says, in
	// its line and in the verdict, not that it is unreachable.
	for _, want := range []string{"LAPISAN", "provinsi", "3-2-1-1-0: BELUM TERPENUHI", "usb: belum pernah diekspor / tidak terhubung (biasa untuk lapisan offline)"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("status text lacks %q:\n%s", want, text.stdout)
		}
	}
	if strings.Contains(text.stdout, "tidak terjangkau") || strings.Contains(text.stdout, "verifikasi terakhirnya yang dihitung") {
		t.Errorf("status calls the never-exported offline layer unreachable or verified:\n%s", text.stdout)
	}
	if en := s.c.with("LUMBUNG_LANG", "en").run("status", "--config", s.config); !strings.Contains(en.stdout, "3-2-1-1-0: NOT MET") || !strings.Contains(en.stderr, "siak (copies, immutable, errors)") ||
		!strings.Contains(en.stdout, "usb: never exported / not connected (normal for offline)") || strings.Contains(en.stdout, "unreachable") {
		t.Errorf("status in English: %v", en)
	}

	// Export to the offline layer, verify everything: the rule holds.
	o = s.run("export", "--dataset", "siak", "--json")
	if o.code != exitOK {
		t.Fatalf("export: %v", o)
	}
	ex := message[struct {
		Result struct {
			Manifest struct {
				Snapshots []struct {
					ID string `json:"id"`
				} `json:"snapshots"`
			} `json:"manifest"`
		} `json:"result"`
	}](t, o, "export")
	if len(ex.Result.Manifest.Snapshots) != 1 || ex.Result.Manifest.Snapshots[0].ID != snap1 {
		t.Errorf("export manifest: %+v", ex)
	}
	if o := s.run("export", "--verify", s.usb, "--json"); o.code != exitOK || !message[struct {
		OK bool `json:"ok"`
	}](t, o, "export_verification").OK {
		t.Fatalf("export --verify: %v", o)
	}
	for _, layer := range []string{"lokal", "provinsi"} {
		o := s.run("check", "--dataset", "siak", "--layer", layer, "--read-data")
		if o.code != exitOK || !strings.Contains(o.stdout, "restorable snapshots (1): "+snap1[:8]) {
			t.Fatalf("check of %s: %v", layer, o)
		}
	}
	o = s.run("status", "--json")
	st = message[datasetStatusOut](t, o, "dataset_status")
	if o.code != exitOK || !st.Verdict.OK || st.Verdict.Copies != 3 {
		t.Fatalf("status with every copy verified: %v", o)
	}
	if text := s.run("status"); !strings.Contains(text.stdout, "3-2-1-1-0: TERPENUHI") {
		t.Errorf("status text: %s", text.stdout)
	}

	// The server goes down: the backup still lands in lokal, exit code 4.
	s.stop()
	writeTree(t, s.src, map[string]string{"baru.txt": "berkas baru\n"})
	o = s.run("backup", "--dataset", "siak", "--json")
	if o.code != exitLayers || !strings.Contains(o.stderr, "provinsi") {
		t.Fatalf("backup with the server down: want exit %d naming provinsi: %v", exitLayers, o)
	}
	if got := copyOutcome(message[replicationOut](t, o, "replication")); got["provinsi"] != "failed" {
		t.Errorf("replication with the server down: %v", got)
	}
	snap2 := message[backupSummaryOut](t, o, "summary").SnapshotID
	if n := len(decodeAll[[]snapshotJSONOut](t, s.c.withRepo(s.lokal).ok("snapshots", "--json"))); n != 2 {
		t.Errorf("lokal holds %d snapshots after the second backup, want 2", n)
	}
	o = s.run("status", "--json", "--timeout", "3s")
	st = message[datasetStatusOut](t, o, "dataset_status")
	if o.code != exitUnprotected || st.layer(t, "provinsi").Reachable || st.replication(t, "provinsi") != "failed" {
		t.Errorf("status with the server down: %v", o)
	}
	if l := st.layer(t, "lokal"); l.Newest == nil || l.Newest.ID != snap2 {
		t.Errorf("lokal's newest: %+v, want %s", l, snap2)
	}
	if text := s.run("status", "--timeout", "3s"); !strings.Contains(text.stdout, "replikasi terakhir") || !strings.Contains(text.stdout, "tidak terjangkau") {
		t.Errorf("status text with the server down:\n%s", text.stdout)
	}

	// lokal is lost too: restore falls back past both to the offline copy.
	if err := os.RemoveAll(s.lokal); err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	o = s.run("restore", "--dataset", "siak", "--layer", "auto", "latest", "--target", target, "--json")
	if o.code != exitOK || !strings.Contains(o.stderr, "skipped layer lokal") || !strings.Contains(o.stderr, "skipped layer provinsi") ||
		!strings.Contains(o.stderr, "restoring from layer usb") {
		t.Fatalf("restore --layer auto with lokal and provinsi gone: %v", o)
	}
	compareTrees(t, s.src, filepath.Join(target, s.src), first)
	for _, name := range []string{"cache.tmp", "baru.txt"} {
		if _, err := os.Stat(filepath.Join(target, s.src, name)); err == nil {
			t.Errorf("%s is in the restored first snapshot", name)
		}
	}

	// The server is back (same data, new port): it is the nearest layer.
	s.listen, s.fp, s.stop = startServe(t, s.serverData)
	s.writeConfig(t)
	target = t.TempDir()
	o = s.run("restore", "--dataset", "siak", "latest", "--target", target, "--json")
	if o.code != exitOK || !strings.Contains(o.stderr, "restoring from layer provinsi") {
		t.Fatalf("restore --layer auto with lokal gone: %v", o)
	}
	sum := message[struct {
		Layer      string `json:"layer"`
		SnapshotID string `json:"snapshot_id"`
		Skipped    []struct {
			Layer string `json:"layer"`
		} `json:"skipped_layers"`
	}](t, o, "summary")
	if sum.Layer != "provinsi" || sum.SnapshotID != snap1 || len(sum.Skipped) != 1 || sum.Skipped[0].Layer != "lokal" {
		t.Errorf("restore summary: %+v", sum)
	}
	compareTrees(t, s.src, filepath.Join(target, s.src), first)

	// Forcing a layer, and the usage errors.
	s.c.fails(exitNoRepository, []string{"restore", "--config", s.config, "--dataset", "siak", "--layer", "lokal", "latest", "--target", t.TempDir()}, "layer lokal", "no repository")
	s.c.fails(exitUsage, []string{"restore", "--config", s.config, "--dataset", "siak", "--layer", "nosuch", "latest", "--target", t.TempDir()}, "no layer \"nosuch\"")
	s.c.fails(exitUsage, []string{"restore", "--config", s.config, "--dataset", "nope", "latest", "--target", t.TempDir()}, "no dataset \"nope\"", "siak")
	s.c.fails(exitFailed, []string{"status", "--config", filepath.Join(s.dir, "missing.yaml")}, "missing.yaml")
}

// TestCopyCommand copies explicitly between layers: a snapshot prefix, then
// everything, and refuses an offline destination.
func TestCopyCommand(t *testing.T) {
	s := newLayerSetup(t)
	writeTree(t, s.src, map[string]string{"a.txt": "satu\n"})
	// Replication to provinsi fails while its token is wrong: exit 4.
	good, err := os.ReadFile(s.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.tokenFile, []byte("lbg_wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := s.run("backup", "--dataset", "siak", "--json")
	if o.code != exitLayers {
		t.Fatalf("backup with a wrong token: %v", o)
	}
	snap := message[backupSummaryOut](t, o, "summary").SnapshotID
	if err := os.WriteFile(s.tokenFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	o = s.run("copy", "--dataset", "siak", "--to", "provinsi", snap[:8], "--json")
	if o.code != exitOK {
		t.Fatalf("copy: %v", o)
	}
	res := message[struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Result struct {
			Snapshots []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"snapshots"`
		} `json:"result"`
	}](t, o, "copy")
	if res.From != "lokal" || res.To != "provinsi" || len(res.Result.Snapshots) != 1 || res.Result.Snapshots[0].ID != snap || res.Result.Snapshots[0].Status != "copied" {
		t.Errorf("copy result: %+v", res)
	}
	// Again: already there.
	o = s.run("copy", "--dataset", "siak", "--to", "provinsi")
	if o.code != exitOK || !strings.Contains(o.stdout, "snapshot "+snap[:8]+": skipped") || !strings.Contains(o.stdout, "layer provinsi: ok") {
		t.Errorf("second copy: %v", o)
	}
	st := message[datasetStatusOut](t, s.run("status", "--json"), "dataset_status")
	if st.replication(t, "provinsi") != "ok" {
		t.Errorf("status after the copy: replication %+v", st.layer(t, "provinsi").LastReplication)
	}
	s.c.fails(exitUsage, []string{"copy", "--config", s.config, "--to", "usb"}, "offline", "export")
	s.c.fails(exitUsage, []string{"copy", "--config", s.config}, "--to")
	s.c.fails(exitUsage, []string{"copy", "--config", s.config, "--from", "lokal", "--to", "lokal"}, "same layer")
}

// TestCommandDataset backs up a command's output, and fails clearly when the
// command fails, without a snapshot.
func TestCommandDataset(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte(testPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(command string) string {
		cfg := filepath.Join(dir, "lumbung.yaml")
		body := fmt.Sprintf(`datasets:
  siak-db:
    command: %s
    stdin_filename: siak.dump
    layers:
      - name: lokal
        repository: %q
        role: local
        media: disk
        password: {file: %q}
`, command, repo, pass)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	c.withRepo(repo).ok("init")
	cfg := write(`[sh, -c, "printf 'PGDMP isi dump %s' siak"]`)
	o := c.ok("backup", "--config", cfg, "--json")
	snap := message[backupSummaryOut](t, o, "summary").SnapshotID
	if reps := message[replicationOut](t, o, "replication"); len(reps.Layers) != 0 {
		t.Errorf("a dataset with one layer replicated to %+v", reps.Layers)
	}
	target := t.TempDir()
	c.ok("restore", "--config", cfg, "--dataset", "siak-db", "latest", "--target", target)
	if got := readFile(t, filepath.Join(target, "siak.dump")); got != "PGDMP isi dump siak" {
		t.Errorf("restored dump: %q", got)
	}
	snaps := decodeAll[[]struct {
		ID      string `json:"id"`
		Dataset string `json:"dataset"`
	}](t, c.withRepo(repo).ok("snapshots", "--json"))
	if len(snaps) != 1 || snaps[0].ID != snap || snaps[0].Dataset != "siak-db" {
		t.Errorf("snapshots: %+v", snaps)
	}

	// A failing command (output cut short) leaves no snapshot.
	cfg = write(`[sh, -c, "printf 'PGDMP separuh'; echo 'pg_dump: error: connection to server failed' >&2; exit 3"]`)
	c.fails(exitFailed, []string{"backup", "--config", cfg}, "connection to server failed", "no snapshot was saved", "exit status 3")
	cfg = write(`["/nonexistent/pg_dump"]`)
	c.fails(exitFailed, []string{"backup", "--config", cfg}, "start command", "/nonexistent/pg_dump")
	if n := len(decodeAll[[]snapshotJSONOut](t, c.withRepo(repo).ok("snapshots", "--json"))); n != 1 {
		t.Errorf("%d snapshots after the failing commands, want 1", n)
	}
	c.fails(exitUsage, []string{"backup", "--config", cfg, "/srv"}, "come from the config")
}

// TestExportVerify exports to a directory, verifies it, then damages one
// file: --verify fails naming it.
func TestExportVerify(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	repo, pass, src := filepath.Join(dir, "repo"), filepath.Join(dir, "pass"), t.TempDir()
	if err := os.WriteFile(pass, []byte(testPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "lumbung.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`datasets:
  arsip:
    paths: [%q]
    layers:
      - {name: lokal, repository: %q, role: local, media: disk, password: {file: %q}}
`, src, repo, pass)), 0o600); err != nil {
		t.Fatal(err)
	}
	writeTree(t, src, map[string]string{"surat.txt": "isi surat\n", "big.bin": string(testutil.RandBytes(9, 2<<20))})
	c.withRepo(repo).ok("init")
	c.ok("backup", "--config", cfg, "--dataset", "arsip")
	usb := filepath.Join(t.TempDir(), "usb")
	c.fails(exitUsage, []string{"export", "--config", cfg}, "no offline layer", "--to")
	c.ok("export", "--config", cfg, "--to", usb)
	o := c.ok("export", "--verify", usb, "--config", cfg)
	if !strings.Contains(o.stdout, "the export restores") {
		t.Errorf("export --verify: %v", o)
	}
	// Without a config: the password as for --repo commands.
	c.ok("export", "--verify", usb, "--json")
	c.with("LUMBUNG_PASSWORD", "salah").fails(exitWrongPassword, []string{"export", "--verify", usb})

	// Damage one pack.
	packs := packFiles(t, filepath.Join(usb, "repository"))
	if len(packs) == 0 {
		t.Fatal("the export holds no pack")
	}
	victim := packs[0]
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(victim, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(usb, victim)
	o = c.fails(exitFailed, []string{"export", "--verify", usb, "--config", cfg}, filepath.ToSlash(rel), "damaged")
	if !strings.Contains(o.stdout, "error: "+filepath.ToSlash(rel)) {
		t.Errorf("the text report does not name the damaged file: %s", o.stdout)
	}
	o = c.run("export", "--verify", usb, "--config", cfg, "--json")
	rep := message[struct {
		OK     bool `json:"ok"`
		Report struct {
			Problems []string `json:"problems"`
		} `json:"report"`
	}](t, o, "export_verification")
	if o.code != exitFailed || rep.OK || len(rep.Report.Problems) == 0 || !strings.Contains(rep.Report.Problems[0], filepath.ToSlash(rel)) {
		t.Errorf("export --verify --json of a damaged export: %v", o)
	}
	// No manifest: not a finished export.
	if err := os.Remove(filepath.Join(usb, "manifest.json")); err != nil {
		t.Fatal(err)
	}
	c.fails(exitFailed, []string{"export", "--verify", usb, "--config", cfg}, "manifest.json")
}

func TestDefaultConfigPath(t *testing.T) {
	c := newCLI(t)
	// LUMBUNG_CONFIG is used when --config is not given.
	c.with("LUMBUNG_CONFIG", filepath.Join(t.TempDir(), "none.yaml")).fails(exitFailed, []string{"status"}, "none.yaml")
	if p := defaultConfigPath(func(string) string { return "" }); p == "" || !strings.HasSuffix(filepath.ToSlash(p), "lumbung/lumbung.yaml") {
		t.Errorf("default config path: %q", p)
	}
}

// TestPrintReplication: one line per layer, and only failures fail.
func TestPrintReplication(t *testing.T) {
	ok := &replicate.Result{Snapshots: []replicate.SnapshotResult{{ID: "aa", Status: replicate.Copied}}}
	paused := &replicate.Result{Paused: true, Snapshots: []replicate.SnapshotResult{{ID: "bb", Status: replicate.Paused}}}
	broken := &replicate.Result{Snapshots: []replicate.SnapshotResult{{ID: "0123456789abcdef", Status: replicate.Failed, Reason: "blob damaged"}}}
	for _, c := range []struct {
		name   string
		copies []layers.LayerCopy
		line   string
		fails  bool
	}{
		{"ok", []layers.LayerCopy{{Layer: "prov", Result: ok}}, "layer prov: ok\n", false},
		{"paused", []layers.LayerCopy{{Layer: "prov", Result: paused}}, "layer prov: paused by window (outside its replication window; the next run continues)\n", false},
		{"skipped", []layers.LayerCopy{{Layer: "usb", Skipped: "offline layer: written by export"}}, "layer usb: skipped: offline layer: written by export\n", false},
		{"error", []layers.LayerCopy{{Layer: "prov", Error: "server down"}}, "layer prov: failed: server down\n", true},
		{"snapshot failed", []layers.LayerCopy{{Layer: "s3", Result: broken}}, "layer s3: failed: snapshot 01234567: blob damaged\n", true},
		{"no result", []layers.LayerCopy{{Layer: "s3"}}, "layer s3: failed: nothing was copied\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			err := printReplication(ui.NewPrinter(&b, false), "lokal", c.copies)
			if b.String() != c.line {
				t.Errorf("printed %q, want %q", b.String(), c.line)
			}
			if (err != nil) != c.fails || (err != nil && !errors.Is(err, errLayersFailed)) {
				t.Errorf("error %v, want failure %v", err, c.fails)
			}
		})
	}
}

// TestBackupPausedLayer: a layer outside its replication window is paused,
// which is not a failure (exit 0), and status shows it.
func TestBackupPausedLayer(t *testing.T) {
	c := newCLI(t)
	dir, src := t.TempDir(), t.TempDir()
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte(testPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	// A window that opens in two hours: closed now.
	now := time.Now()
	window := now.Add(2*time.Hour).Format("15:04") + "-" + now.Add(3*time.Hour).Format("15:04")
	cfg := filepath.Join(dir, "lumbung.yaml")
	writeCfg := func(window string) {
		t.Helper()
		nas := fmt.Sprintf("{name: nas, repository: %q, role: regional, media: server}", filepath.Join(dir, "l2"))
		if window != "" {
			nas = fmt.Sprintf("{name: nas, repository: %q, role: regional, media: server, window: %q}", filepath.Join(dir, "l2"), window)
		}
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`datasets:
  arsip:
    paths: [%q]
    layers:
      - {name: lokal, repository: %q, role: local, media: disk, password: {file: %q}}
      - %s
`, src, filepath.Join(dir, "l1"), pass, nas)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(window)
	writeTree(t, src, map[string]string{"a.txt": "isi\n"})
	c.withRepo(filepath.Join(dir, "l1")).ok("init")
	o := c.ok("backup", "--config", cfg)
	if !strings.Contains(o.stdout, "layer nas: paused by window") {
		t.Errorf("backup text: %s", o.stdout)
	}
	o = c.run("status", "--config", cfg, "--json")
	if st := message[datasetStatusOut](t, o, "dataset_status"); st.replication(t, "nas") != "paused" || o.code != exitUnprotected {
		t.Errorf("status: %v", o)
	}
	// The next backup is still outside the window: paused again, not
	// failed because the first copy left something at the new layer.
	o = c.ok("backup", "--config", cfg)
	if !strings.Contains(o.stdout, "layer nas: paused by window") {
		t.Errorf("second backup text: %s", o.stdout)
	}
	// Once the window is open, the copy to the new layer goes through.
	writeCfg("")
	o = c.ok("backup", "--config", cfg)
	if !strings.Contains(o.stdout, "layer nas: ok") {
		t.Errorf("backup in the window: %s", o.stdout)
	}
}

// {env: NAME} secrets come from the command's own environment (e.getenv),
// not from the process's: in-process runs can use them.
func TestLayerSecretFromCommandEnv(t *testing.T) {
	c := newCLI(t)
	dir, src := t.TempDir(), t.TempDir()
	cfg := filepath.Join(dir, "lumbung.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`datasets:
  arsip:
    paths: [%q]
    layers:
      - {name: lokal, repository: %q, role: local, media: disk, password: {env: LUMBUNG_TEST_LAYER_PASSWORD}}
`, src, filepath.Join(dir, "l1"))), 0o600); err != nil {
		t.Fatal(err)
	}
	writeTree(t, src, map[string]string{"a.txt": "isi\n"})
	c.withRepo(filepath.Join(dir, "l1")).ok("init")
	if o := c.run("backup", "--config", cfg); o.code == exitOK || !strings.Contains(o.stderr, "LUMBUNG_TEST_LAYER_PASSWORD is empty or not set") {
		t.Errorf("backup without the variable: %v", o)
	}
	c.with("LUMBUNG_TEST_LAYER_PASSWORD", testPassword).ok("backup", "--config", cfg)
}
