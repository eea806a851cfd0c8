package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStartProfilingWritesProfiles(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"LUMBUNG_CPUPROFILE": filepath.Join(dir, "cpu.prof"),
		"LUMBUNG_MEMPROFILE": filepath.Join(dir, "mem.prof"),
	}
	stop := startProfiling(func(k string) string { return env[k] })
	sink := make([][]byte, 0, 64)
	for range 64 {
		sink = append(sink, make([]byte, 64<<10))
	}
	_ = sink
	stop()
	for _, name := range []string{"cpu.prof", "mem.prof"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		// pprof profiles are gzip-compressed protocol buffers.
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s is not a gzip-compressed profile (%d bytes)", name, len(b))
		}
	}
}

func TestStartProfilingOffByDefault(t *testing.T) {
	stop := startProfiling(func(string) string { return "" })
	stop() // must not block or write anything
}
