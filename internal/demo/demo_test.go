package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// decodeSteps reads the demo's --json output: one Step per line.
func decodeSteps(t *testing.T, out []byte) []Step {
	t.Helper()
	var steps []Step
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var s Step
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("demo output is not one JSON object per step: %v", err)
		}
		steps = append(steps, s)
	}
	return steps
}

// stepData returns the named step's data re-decoded into v, and the
// step's position in the output (-1 when missing).
func stepData(t *testing.T, steps []Step, name string, v any) int {
	t.Helper()
	for i, s := range steps {
		if s.Step != name {
			continue
		}
		b, err := json.Marshal(s.Data)
		if err == nil {
			err = json.Unmarshal(b, v)
		}
		if err != nil {
			t.Fatalf("step %s: data %s: %v", name, b, err)
		}
		return i
	}
	t.Errorf("step %q missing from the demo output", name)
	return -1
}

// serverAddr is host:port of a rest: location.
func serverAddr(t *testing.T, loc string) string {
	t.Helper()
	u, err := url.Parse(strings.TrimPrefix(loc, "rest:"))
	if err != nil || u.Scheme != "https" {
		t.Fatalf("server location %q is not rest:https://...: %v", loc, err)
	}
	return u.Host
}

// TestDemoRunsEndToEnd runs the whole demo and checks that it showed the
// three layers, a met 3-2-1-1-0 verdict, and a restore from the server
// layer after the local repository was deleted; then that the server is
// stopped and no secret was left behind.
func TestDemoRunsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := Run(context.Background(), Options{Dir: dir, SizeMiB: 4, Out: &out, Stderr: &bytes.Buffer{}, JSON: true}); err != nil {
		t.Fatal(err)
	}
	steps := decodeSteps(t, out.Bytes())
	var order []string
	for _, s := range steps {
		order = append(order, s.Step)
	}
	want := []string{"generate", "init", "backup-1", "change", "backup-2", "restore", "verify", "undelete", "check",
		"serve", "config", "replicate", "check-server", "export", "export-verify", "status",
		"ransomware", "restore-server", "verify-server", "done"}
	if !slices.Equal(order, want) {
		t.Errorf("demo steps:\n got %v\nwant %v", order, want)
	}

	var serve struct {
		Location    string `json:"location"`
		Fingerprint string `json:"fingerprint"`
		TokenName   string `json:"token_name"`
		TokenScope  string `json:"token_scope"`
	}
	stepData(t, steps, "serve", &serve)
	if !strings.HasPrefix(serve.Location, "rest:https://127.0.0.1:") || !strings.HasSuffix(serve.Location, "?fingerprint="+serve.Fingerprint) ||
		!strings.HasPrefix(serve.Fingerprint, "sha256:") || serve.TokenName != tokenName || serve.TokenScope != "append" {
		t.Errorf("serve step: %+v", serve)
	}
	if bytes.Contains(out.Bytes(), []byte("lbg_")) {
		t.Error("the demo printed a token")
	}

	var status struct {
		Layers []struct {
			Name    string `json:"name"`
			Role    string `json:"role"`
			Counted bool   `json:"counted"`
		} `json:"layers"`
		Verdict struct {
			OK                 bool `json:"ok"`
			Copies             int  `json:"copies"`
			Offsite            int  `json:"offsite"`
			ImmutableOrOffline int  `json:"immutable_or_offline"`
		} `json:"verdict"`
		Why map[string][]string `json:"why"`
	}
	stepData(t, steps, "status", &status)
	var layerNames []string
	for _, l := range status.Layers {
		layerNames = append(layerNames, l.Name+"/"+l.Role)
		if !l.Counted {
			t.Errorf("layer %s does not count as a copy", l.Name)
		}
	}
	if want := []string{"lokal/local", "provinsi/regional", "offline/offline"}; !slices.Equal(layerNames, want) {
		t.Errorf("status layers %v, want %v", layerNames, want)
	}
	v := status.Verdict
	if !v.OK || v.Copies != 3 || v.Offsite != 1 || v.ImmutableOrOffline != 1 {
		t.Errorf("verdict %+v, want 3-2-1-1-0 met", v)
	}
	for _, rule := range []string{"copies", "media", "offsite", "immutable", "errors"} {
		if len(status.Why[rule]) != 1 || !strings.HasPrefix(status.Why[rule][0], "✓") {
			t.Errorf("why %s: %q, want one line saying it is met", rule, status.Why[rule])
		}
	}
	if !strings.Contains(strings.Join(status.Why["offsite"], ""), "loopback") {
		t.Errorf("offsite reason does not explain the loopback server: %q", status.Why["offsite"])
	}

	// The restore came from the server, after the local repository was
	// deleted, and gave back every file.
	var restored struct {
		Layer, Location, Target string
		Files                   int
	}
	iRestore := stepData(t, steps, "restore-server", &restored)
	var verified, verifiedLocal struct{ Files int }
	stepData(t, steps, "verify-server", &verified)
	stepData(t, steps, "verify", &verifiedLocal)
	var deleted struct{ Deleted string }
	if iRansom := stepData(t, steps, "ransomware", &deleted); iRansom < 0 || iRestore < iRansom || deleted.Deleted != filepath.Join(dir, "repo") {
		t.Errorf("the server restore (step %d) did not follow the deletion of the local repository (step %d, %q)", iRestore, iRansom, deleted.Deleted)
	}
	if restored.Layer != layerServer || restored.Location != serve.Location || restored.Files == 0 {
		t.Errorf("restore-server step: %+v, want a restore from %s", restored, serve.Location)
	}
	if verified.Files == 0 || verified.Files != verifiedLocal.Files {
		t.Errorf("verified %d files restored from the server, %d locally", verified.Files, verifiedLocal.Files)
	}
	src := filepath.Join(dir, "data", "pemda-contoh")
	if n, err := compareTrees(src, restoredPath(restored.Target, src)); err != nil || n != verified.Files {
		t.Errorf("the tree restored from the server: %d files, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "repo")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the local repository still exists (%v): the restore did not have to use the server", err)
	}

	// The server is gone, and so is the token file.
	if c, err := net.DialTimeout("tcp", serverAddr(t, serve.Location), 2*time.Second); err == nil {
		c.Close()
		t.Error("the demo's server still accepts connections after the demo")
	}
	if _, err := os.Stat(filepath.Join(dir, tokenFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("token file left behind: %v", err)
	}

	// A second run in the same place refuses instead of mixing repositories.
	if err := Run(context.Background(), Options{Dir: dir, SizeMiB: 4, Out: &out}); err == nil {
		t.Fatal("demo reused a non-empty work directory")
	}
}

// cancelOn is the demo's output; it cancels the run when a step appears,
// like Ctrl-C at that moment.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	step   string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Contains(p, []byte(`"step":"`+c.step+`"`)) {
		c.cancel()
	}
	return c.buf.Write(p)
}

// TestDemoInterruptedStopsServer interrupts the demo right after its server
// started: the run reports the interruption, the server no longer accepts
// connections and the token file is gone.
func TestDemoInterruptedStopsServer(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOn{step: "serve", cancel: cancel}
	err := Run(ctx, Options{Dir: dir, SizeMiB: 1, Out: out, JSON: true})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted demo returned %v, want context.Canceled", err)
	}
	var serve map[string]any
	steps := decodeSteps(t, out.buf.Bytes())
	stepData(t, steps, "serve", &serve)
	loc, _ := serve["location"].(string)
	if c, err := net.DialTimeout("tcp", serverAddr(t, loc), 2*time.Second); err == nil {
		c.Close()
		t.Error("the server still accepts connections after the demo was interrupted")
	}
	if _, err := os.Stat(filepath.Join(dir, tokenFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("token file left behind: %v", err)
	}
	if slices.ContainsFunc(steps, func(s Step) bool { return s.Step == "done" }) {
		t.Error("an interrupted demo said it was done")
	}
}

func TestCompareTreesDetectsDifference(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("same"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := compareTrees(a, b); err != nil {
		t.Fatalf("identical trees: %v", err)
	}
	if err := os.WriteFile(filepath.Join(b, "f"), []byte("diff"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := compareTrees(a, b); err == nil {
		t.Fatal("differing content not detected")
	}
}
