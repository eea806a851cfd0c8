package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"time"
)

// startProfiling honours LUMBUNG_CPUPROFILE, LUMBUNG_MEMPROFILE and
// LUMBUNG_TRACE (an execution trace: which goroutines ran when), for
// support engineers chasing a slow or memory-hungry run on a real server:
// the CPU profile covers the whole command; the heap profile is the one
// taken when the live heap was largest (checked every 50 ms), which is
// what decides peak memory. The returned function writes them out.
func startProfiling(getenv func(string) string) (stop func()) {
	var stops []func()
	if path := getenv("LUMBUNG_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "lumbung: LUMBUNG_CPUPROFILE: %v (continuing without it)\n", err)
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if path := getenv("LUMBUNG_TRACE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = trace.Start(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "lumbung: LUMBUNG_TRACE: %v (continuing without it)\n", err)
		} else {
			stops = append(stops, func() { trace.Stop(); f.Close() })
		}
	}
	if path := getenv("LUMBUNG_MEMPROFILE"); path != "" {
		runtime.MemProfileRate = 64 << 10
		done := make(chan struct{})
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			var peak uint64
			var best bytes.Buffer
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					if best.Len() == 0 {
						pprof.Lookup("heap").WriteTo(&best, 0)
					}
					if err := os.WriteFile(path, best.Bytes(), 0o600); err != nil {
						fmt.Fprintf(os.Stderr, "lumbung: LUMBUNG_MEMPROFILE: %v\n", err)
					}
					return
				case <-tick.C:
					metrics.Read(sample)
					if v := sample[0].Value.Uint64(); v > peak {
						peak = v
						best.Reset()
						pprof.Lookup("heap").WriteTo(&best, 0)
					}
				}
			}
		}()
		stops = append(stops, func() { close(done); <-finished })
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
