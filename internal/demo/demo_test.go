package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestDemoRunsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := Run(context.Background(), Options{Dir: dir, SizeMiB: 4, Out: &out, Stderr: &bytes.Buffer{}, JSON: true}); err != nil {
		t.Fatal(err)
	}
	steps := map[string]bool{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var s Step
		if err := dec.Decode(&s); err != nil {
			t.Fatal(err)
		}
		steps[s.Step] = true
	}
	for _, want := range []string{"generate", "init", "backup-1", "change", "backup-2", "restore", "verify", "check", "done"} {
		if !steps[want] {
			t.Errorf("step %q missing from demo output", want)
		}
	}
	// A second run in the same place refuses instead of mixing repositories.
	if err := Run(context.Background(), Options{Dir: dir, SizeMiB: 4, Out: &out}); err == nil {
		t.Fatal("demo reused a non-empty work directory")
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
