package repository_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
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

// A blob copied in its stored form into a repository with other keys reads
// back as the same data there, under the id that repository gives it, and
// stays compressed without being compressed again.
func TestSaveStoredBlobAcrossRepositories(t *testing.T) {
	ctx := context.Background()
	src, err := repository.Init(ctx, mem.New(), []byte("sumber"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	dstBe := mem.New()
	dst, err := repository.Init(ctx, dstBe, []byte("tujuan"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	text := bytes.Repeat([]byte("3201010101010001\tBudi Santoso\tSukamaju\n"), 4000)
	random := make([]byte, 300<<10)
	rand.Read(random)

	ids := saveReal(t, src, text, random)

	dw := dst.NewWriter(ctx)
	if !dw.Compresses() {
		t.Fatal("the destination does not compress with default options")
	}
	var dstIDs []crypto.ID
	for i, id := range ids {
		data, stored, err := src.LoadBlobStored(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && len(stored) >= len(data)/4 {
			t.Fatalf("the text's stored form is %d bytes for %d of data: not compressed", len(stored), len(data))
		}
		d := dst.BlobID(data)
		if d == id {
			t.Fatal("both repositories give the blob the same id: keys not independent")
		}
		if added, err := dw.SaveStoredBlob(ctx, repository.DataBlob, d, len(data), stored); err != nil || !added {
			t.Fatalf("save stored blob: added %v, %v", added, err)
		}
		dstIDs = append(dstIDs, d)
	}
	if _, err := dw.SaveStoredBlob(ctx, repository.DataBlob, crypto.Hash([]byte("x")), 1, []byte{7, 'x'}); err == nil {
		t.Error("SaveStoredBlob accepted an unknown codec")
	}
	if err := dw.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	again := openIndexed(t, dstBe, "tujuan", testOpts)
	for i, want := range [][]byte{text, random} {
		got, err := again.LoadBlob(ctx, dstIDs[i], nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("blob %d in the destination: %d bytes, %v", i, len(got), err)
		}
		loc, _ := again.Index().Lookup(dstIDs[i])
		if i == 0 && int(loc.Length) >= len(text)/4 {
			t.Errorf("the text is stored in %d bytes in the destination: not kept compressed", loc.Length)
		}
	}
}
