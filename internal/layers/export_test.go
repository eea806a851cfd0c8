package layers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/replicate"
	"github.com/lumbung-id/lumbung/internal/repository"
)

var (
	testPassword = []byte("kata-sandi")
	testRepoOpts = repository.Options{
		KDF:      crypto.TestKDF,
		PackSize: 1 << 20,
		Chunker:  repository.ChunkerParams{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10},
	}
)

// layer1 makes a local repository at dir with one snapshot of dataset
// "siak" and one of "simpeg", and returns it.
func makeLayer1(t *testing.T, dir string) *local.Local {
	t.Helper()
	ctx := context.Background()
	be, err := local.Create(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := repository.Init(ctx, be, testPassword, testRepoOpts)
	if err != nil {
		t.Fatal(err)
	}
	for i, ds := range []string{"siak", "simpeg"} {
		src := filepath.Join(t.TempDir(), ds)
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(strings.Repeat("data penduduk "+ds+"\n", 20000))
		if err := os.WriteFile(filepath.Join(src, "a.txt"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := archiver.Backup(ctx, repo, []string{src}, archiver.Options{Dataset: ds, Time: now.Add(-time.Duration(2-i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	return be
}

func TestExportAndVerify(t *testing.T) {
	ctx := context.Background()
	src := makeLayer1(t, filepath.Join(t.TempDir(), "lokal"))
	dir := filepath.Join(t.TempDir(), "usb")
	res, err := Export(ctx, src, dir, ExportOptions{Dataset: "siak", Password: testPassword, Version: "0.1.0-test", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m == nil || len(m.Snapshots) != 1 || m.Dataset != "siak" || m.LumbungVersion != "0.1.0-test" || !m.CreatedAt.Equal(now) {
		t.Fatalf("manifest %+v", m)
	}
	if len(m.Files) < 5 || m.Files[0].Path != "repository/config" {
		t.Errorf("manifest files %+v", m.Files)
	}
	rep, err := VerifyExport(ctx, dir, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Files != len(m.Files) || rep.Newest() == nil || rep.Newest().ID != m.Snapshots[0].ID {
		t.Fatalf("verify: %+v", rep)
	}
	// Exporting again is a no-op copy and a fresh manifest.
	res, err = Export(ctx, src, dir, ExportOptions{Dataset: "siak", Password: testPassword})
	if err != nil || res.Copy.Objects != 0 {
		t.Fatalf("second export: %v, %+v", err, res.Copy)
	}

	// Damage one pack on the "disk": verify says so.
	var pack string
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "repository/data/") {
			pack = filepath.Join(dir, filepath.FromSlash(f.Path))
			break
		}
	}
	b, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	b[10] ^= 1
	if err := os.WriteFile(pack, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err = VerifyExport(ctx, dir, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(rep.Problems[0], "is damaged: its content differs from the manifest") {
		t.Fatalf("damaged export verified: %+v", rep.Problems)
	}
	v := rep.Verification(now)
	if v.OK || v.Errors != len(rep.Problems) || v.Message != rep.Problems[0] {
		t.Errorf("verification record %+v", v)
	}
}

// An export of a dataset the source holds no snapshot of fails before it
// copies anything, and leaves no half-made repository on the disk.
func TestExportOfNothingFails(t *testing.T) {
	ctx := context.Background()
	src := makeLayer1(t, filepath.Join(t.TempDir(), "lokal"))
	dir := t.TempDir()
	res, err := Export(ctx, src, dir, ExportOptions{Dataset: "bapenda", Password: testPassword})
	if !errors.Is(err, replicate.ErrNoSnapshots) || !strings.Contains(err.Error(), `dataset "bapenda"`) {
		t.Fatalf("export of a dataset without snapshots: %v, want ErrNoSnapshots naming it", err)
	}
	if res != nil && res.Copy != nil && res.Copy.Objects != 0 {
		t.Errorf("%d objects copied for nothing", res.Copy.Objects)
	}
	if _, err := os.Stat(filepath.Join(dir, ExportRepoDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an empty repository was left at the destination: %v", err)
	}
	// The real dataset exports into the same directory afterwards.
	if _, err := Export(ctx, src, dir, ExportOptions{Dataset: "siak", Password: testPassword}); err != nil {
		t.Fatalf("export after the failed one: %v", err)
	}
}

func TestVerifyRefusesManifestOutsideRepository(t *testing.T) {
	for _, p := range []string{"repository/config", "repository/data/ab/abcd"} {
		if !safeManifestPath(p) {
			t.Errorf("%q refused", p)
		}
	}
	for _, p := range []string{"../etc/passwd", "repository/../../x", "/etc/passwd", "repository/./x", "other/x", `repository\..\x`} {
		if safeManifestPath(p) {
			t.Errorf("%q accepted", p)
		}
	}
}

// TestReplicateExportStatus runs the whole flow on local directories: a
// first layer with a password, a province mirror without one (created by
// the first copy), an offline export that is verified and then unplugged;
// status follows each step.
func TestReplicateExportStatus(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	src := makeLayer1(t, filepath.Join(base, "lokal"))
	passFile := filepath.Join(base, "siak.pass")
	if err := os.WriteFile(passFile, append(testPassword, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	usbDir := filepath.Join(base, "usb")
	cfgText := `datasets:
  siak:
    paths: [/srv/siak]
    layers:
      - name: lokal
        repository: ` + src.Dir() + `
        role: local
        media: disk
        password: {file: ` + passFile + `}
      - name: provinsi
        repository: ` + filepath.Join(base, "provinsi") + `
        role: regional
        media: server
        bandwidth: 100MB
      - name: usb
        repository: ` + usbDir + `
        role: offline
        media: removable
`
	cfg, err := Load(strings.NewReader(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Datasets["siak"]
	state, err := OpenState(StatePath(base, ""))
	if err != nil {
		t.Fatal(err)
	}
	status := func() DatasetStatus {
		return DatasetStatusOf(ctx, d, StatusOptions{State: state, Now: func() time.Time { return now }})
	}

	st := status()
	if !st.Layers[0].Reachable || st.Layers[0].Newest == nil || st.Layers[0].Snapshots != 1 {
		t.Fatalf("lokal: %+v", st.Layers[0])
	}
	if st.Layers[1].Reachable || st.Verdict.Copies != 1 {
		t.Errorf("before replication: %+v, verdict %+v", st.Layers[1], st.Verdict)
	}

	copies := ReplicateDataset(ctx, d, CopyOptions{})
	if len(copies) != 2 || !copies[0].OK() || copies[0].Result.Counts()[replicate.Copied] != 1 || copies[1].Skipped == "" {
		t.Fatalf("replicate: %+v", copies)
	}
	exp, err := ExportLayer(ctx, d, d.Layers[2], "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	st = status()
	l := st.Layers
	if !l[1].Reachable || l[1].Newest == nil || *l[1].Newest != *l[0].Newest || l[1].Error != "" {
		t.Errorf("provinsi (mirror without password): %+v", l[1])
	}
	if !l[2].Reachable || l[2].Newest == nil || l[2].Newest.ID != exp.Manifest.Snapshots[0].ID {
		t.Errorf("usb (plugged in): %+v", l[2])
	}
	if st.Verdict.Copies != 3 || st.Verdict.OK || st.Verdict.UnmetRules()[0] != RuleErrors {
		t.Errorf("verdict before verification %+v", st.Verdict)
	}

	// Verify every layer (the offline one as export --verify would), then
	// unplug the disk and reopen the state as a new process would.
	for _, name := range []string{"lokal", "provinsi"} {
		if err := state.Record("siak", name, Verification{Time: now, OK: true}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := VerifyExport(ctx, usbDir, testPassword)
	if err != nil || !rep.OK() {
		t.Fatalf("verify export: %v %+v", err, rep)
	}
	if err := state.Record("siak", "usb", rep.Verification(now)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(usbDir, usbDir+"-in-the-safe"); err != nil {
		t.Fatal(err)
	}
	if state, err = OpenState(StatePath(base, "")); err != nil {
		t.Fatal(err)
	}
	st = status()
	if st.Layers[2].Reachable || st.Layers[2].Newest == nil || !st.Layers[2].Counted {
		t.Errorf("usb (unplugged): %+v", st.Layers[2])
	}
	v := st.Verdict
	if v.Copies != 3 || v.ImmutableOrOffline != 1 || v.Offsite != 1 || v.MediaKinds != 3 || !v.OK {
		t.Errorf("verdict after verification %+v", v)
	}
	if st.Layers[0].AgeSeconds != 2*3600 {
		t.Errorf("age %d s, want 7200", st.Layers[0].AgeSeconds)
	}
}
