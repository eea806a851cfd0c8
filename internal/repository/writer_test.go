package repository_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// gatedPacks holds every pack Save until its gate is opened.
type gatedPacks struct {
	*mem.Mem
	gate chan struct{}
}

func (g *gatedPacks) Save(ctx context.Context, h backend.Handle, data []byte) error {
	if h.Type == backend.PackFile {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Mem.Save(ctx, h, data)
}

// WaitBacklog blocks while n or more packs wait for the backend, returns
// once they are stored, and gives up with the caller's context.
func TestWriterWaitBacklog(t *testing.T) {
	ctx := t.Context()
	be := &gatedPacks{Mem: mem.New(), gate: make(chan struct{})}
	repo, err := repository.Init(ctx, be, []byte("rahasia"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	w := repo.NewWriter(ctx)
	if err := w.WaitBacklog(ctx, 1); err != nil {
		t.Fatalf("WaitBacklog with nothing queued: %v", err)
	}
	// Incompressible 5 MiB blobs: each starts a new 8 MiB pack, so four
	// blobs send three packs, which the gate holds.
	saved := make(chan error, 1)
	go func() {
		for range 4 {
			blob := make([]byte, 5<<20)
			rand.Read(blob)
			if _, _, err := w.SaveBlob(ctx, repository.DataBlob, blob); err != nil {
				saved <- err
				return
			}
		}
		saved <- nil
	}()
	// Until the three packs are queued: WaitBacklog(3) no longer returns.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		short, cancel := context.WithTimeout(ctx, time.Millisecond)
		err := w.WaitBacklog(short, 3)
		cancel()
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("three packs never queued (%+v)", w.Stats())
		}
	}
	waited := make(chan error, 1)
	go func() { waited <- w.WaitBacklog(ctx, 2) }()
	select {
	case err := <-waited:
		t.Fatalf("WaitBacklog(2) returned (%v) while three packs waited for the backend", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.WaitBacklog(cancelled, 1); err == nil {
		t.Error("WaitBacklog with a cancelled context and packs queued returned nil")
	}
	close(be.gate)
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("WaitBacklog after the packs were stored: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitBacklog still waiting after the backend stored every pack")
	}
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitBacklog(ctx, 1); err != nil {
		t.Fatalf("WaitBacklog after Commit: %v", err)
	}
}
