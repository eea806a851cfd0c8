package rest_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/backendtest"
	"github.com/lumbung-id/lumbung/internal/backend/rest"
	"github.com/lumbung-id/lumbung/internal/reposerver"
)

// BenchmarkSavePack measures storing 8 MiB packs (the default pack size,
// so through upload sessions) via a real server on loopback TLS, four at
// a time like the archiver's uploaders.
func BenchmarkSavePack(b *testing.B) {
	b.Run("session", func(b *testing.B) { benchSave(b, 0, 8<<20) })
	b.Run("put", func(b *testing.B) { benchSave(b, 32<<20, 8<<20) })
}

// BenchmarkSaveSession16M measures 16 MiB objects through upload sessions
// in the default 16 MiB chunks: where the server's finish (hashing and
// storing the received file) costs most.
func BenchmarkSaveSession16M(b *testing.B) { benchSave(b, 0, 16<<20) }

func benchSave(b *testing.B, threshold, size int) {
	s := newServer(b, reposerver.Options{})
	tok := s.token("bench", reposerver.ScopeAppend, "r", 0)
	s.create("r", tok)
	o := s.opts("r", tok)
	o.SessionThreshold = threshold
	be, err := rest.New(o)
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	base := backendtest.Data(1, size)
	b.SetBytes(int64(size))
	b.SetParallelism(2) // 2 × GOMAXPROCS goroutines
	var workers atomic.Int64
	b.ResetTimer()
	cpu0, cpuOK := processCPU()
	defer func() {
		if cpu1, ok := processCPU(); ok && cpuOK && b.N > 0 {
			b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
		}
	}()
	b.RunParallel(func(pb *testing.PB) {
		id := workers.Add(1)
		data := make([]byte, size)
		copy(data, base)
		for i := 0; pb.Next(); i++ {
			v := blake3.Sum256(fmt.Appendf(nil, "%d-%d", id, i))
			copy(data, v[:])
			sum := blake3.Sum256(data)
			if err := be.Save(b.Context(), backend.Handle{Type: backend.PackFile, Name: fmt.Sprintf("%x", sum[:])}, data); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
