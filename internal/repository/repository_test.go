package repository_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/testutil"
)

var testOpts = repository.Options{KDF: crypto.TestKDF}

// openIndexed opens the repository in be with password and loads its index.
func openIndexed(t *testing.T, be backend.Backend, password string, opts repository.Options) *repository.Repository {
	t.Helper()
	repo, err := repository.Open(context.Background(), be, []byte(password), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.LoadIndex(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return repo
}

// initMem makes a repository in memory with opts and the password
// "rahasia".
func initMem(t *testing.T, opts repository.Options) (*repository.Repository, *mem.Mem) {
	t.Helper()
	be := mem.New()
	repo, err := repository.Init(context.Background(), be, []byte("rahasia"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return repo, be
}

func TestWriteReopenRead(t *testing.T) {
	ctx := context.Background()
	repo, be := initMem(t, testOpts)
	w := repo.NewWriter(ctx)
	blobs := map[crypto.ID][]byte{}
	for i := range 200 {
		var data []byte
		if i%2 == 0 {
			data = testutil.RandBytes(uint64(i), 1+i*1000)
		} else {
			data = bytes.Repeat([]byte("NIK 3201012345678901 Budi Santoso; "), 1+i*10)
		}
		id, added, err := w.SaveBlob(ctx, repository.DataBlob, data)
		if err != nil || !added {
			t.Fatalf("save %d: added=%v err=%v", i, added, err)
		}
		blobs[id] = data
		if _, added, _ := w.SaveBlob(ctx, repository.DataBlob, data); added {
			t.Fatalf("duplicate blob %d added twice", i)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	if _, err := repository.Open(ctx, be, []byte("salah"), testOpts); !errors.Is(err, crypto.ErrWrongPassword) {
		t.Fatalf("wrong password: got %v", err)
	}
	repo2 := openIndexed(t, be, "rahasia", testOpts)
	if repo2.Index().Len() != len(blobs) {
		t.Fatalf("index has %d blobs, want %d", repo2.Index().Len(), len(blobs))
	}
	for id, want := range blobs {
		got, err := repo2.LoadBlob(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("blob %s differs", id.Short())
		}
	}
	// Every pack header lists exactly what the index says.
	n := 0
	err := be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		id, _ := crypto.ParseID(fi.Name)
		bl, err := repo2.ReadPackHeader(ctx, id, fi.Size)
		n += len(bl)
		return err
	})
	if err != nil || n != len(blobs) {
		t.Fatalf("pack headers: %d blobs, err %v", n, err)
	}
}

// Blobs saved from many goroutines at once are sealed straight into shared
// pack buffers: with packs that fill every few dozen blobs, every blob must still
// load back intact, and every pack must hold exactly what the index says.
func TestConcurrentSaveSmallPacks(t *testing.T) {
	ctx := context.Background()
	opts := repository.Options{KDF: crypto.TestKDF, PackSize: 1 << 20,
		Chunker: repository.ChunkerParams{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10}}
	repo, be := initMem(t, opts)
	w := repo.NewWriter(ctx)
	blobs := saveConcurrently(t, w, 8, 60, func(g, i int) (repository.BlobType, []byte) {
		seed := uint64(g*1000 + i)
		data := testutil.RandBytes(seed, 1+int(seed*7919)%(128<<10))
		switch {
		case i%3 == 0:
			data = bytes.Repeat([]byte("KK 3201 RT 02 RW 05; "), 1+len(data)/20)[:len(data)]
		case i == 59:
			// Larger than a pack: a pack of its own.
			return repository.TreeBlob, testutil.RandBytes(seed, 3<<19)
		}
		return repository.DataBlob, data
	})
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.SaveBlob(ctx, repository.DataBlob, []byte("late")); err == nil {
		t.Fatal("a blob saved after Commit was accepted")
	}
	repo2 := openIndexed(t, be, "rahasia", opts)
	checkBlobs(t, repo2, blobs)
	n, packs := 0, 0
	err := be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		id, _ := crypto.ParseID(fi.Name)
		bl, err := repo2.ReadPackHeader(ctx, id, fi.Size)
		n += len(bl)
		packs++
		return err
	})
	if err != nil || n != len(blobs) {
		t.Fatalf("pack headers: %d blobs, want %d, err %v", n, len(blobs), err)
	}
	if packs < 10 {
		t.Fatalf("only %d packs: the small pack size was not applied", packs)
	}
}

// Blobs just below, at and above the size that switches the writer from
// small to large scratch buffers, compressible and not, saved by many
// goroutines at once, all read back intact: no scratch buffer is handed to
// a second saver while its blob is still being sealed.
func TestConcurrentSaveAroundScratchSizes(t *testing.T) {
	ctx := context.Background()
	repo, be := initMem(t, testOpts)
	w := repo.NewWriter(ctx)
	sizes := []int{64, 12 << 10, repository.SmallBlob - 1, repository.SmallBlob, repository.SmallBlob + 1, 1 << 20}
	blobs := saveConcurrently(t, w, 6, len(sizes), func(g, i int) (repository.BlobType, []byte) {
		seed, n := uint64(g*100+i), sizes[i]
		data := testutil.RandBytes(seed, n)
		if g%2 == 0 {
			line := fmt.Sprintf("NIK 32010%07d Siti Aminah RT %02d; ", seed, i)
			data = bytes.Repeat([]byte(line), n/len(line)+1)[:n]
		}
		binary.LittleEndian.PutUint64(data, seed) // every blob distinct
		return repository.DataBlob, data
	})
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 6*len(sizes) {
		t.Fatalf("%d distinct blobs, want %d", len(blobs), 6*len(sizes))
	}
	checkBlobs(t, openIndexed(t, be, "rahasia", testOpts), blobs)
}

// saveConcurrently saves perG blobs made by blob(g, i) from each of
// goroutines goroutines at once and returns them by id.
func saveConcurrently(t *testing.T, w *repository.Writer, goroutines, perG int, blob func(g, i int) (repository.BlobType, []byte)) map[crypto.ID][]byte {
	t.Helper()
	var mu sync.Mutex
	blobs := map[crypto.ID][]byte{}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				typ, data := blob(g, i)
				id, _, err := w.SaveBlob(context.Background(), typ, data)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				blobs[id] = data
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return blobs
}

// checkBlobs reads every blob back from repo and compares it.
func checkBlobs(t *testing.T, repo *repository.Repository, blobs map[crypto.ID][]byte) {
	t.Helper()
	for id, want := range blobs {
		got, err := repo.LoadBlob(context.Background(), id, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("blob %s of %d bytes: read back %d bytes, %v", id.Short(), len(want), len(got), err)
		}
	}
}

// readAheadCounter counts the read-ahead hints a backend gets, per file.
type readAheadCounter struct {
	backend.Backend
	mu    sync.Mutex
	hints map[string]int
}

func (c *readAheadCounter) ReadAhead(_ context.Context, h backend.Handle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hints[h.Type.String()+"/"+h.Name]++
}

// Loading trees asks the backend once per pack to fetch it ahead (the trees
// a walk loads next mostly sit in the same packs); loading file data does
// not (a restore reads its ranges itself).
func TestTreePacksReadAhead(t *testing.T) {
	ctx := context.Background()
	repo, be := initMem(t, testOpts)
	w := repo.NewWriter(ctx)
	var trees, data []crypto.ID
	for i := range 20 {
		enc, err := repository.EncodeTree(&repository.Tree{Nodes: []*repository.Node{{Name: fmt.Sprint("f", i), Type: repository.NodeFile}}})
		if err != nil {
			t.Fatal(err)
		}
		id, _, err := w.SaveBlob(ctx, repository.TreeBlob, enc)
		if err != nil {
			t.Fatal(err)
		}
		trees = append(trees, id)
		id, _, err = w.SaveBlob(ctx, repository.DataBlob, testutil.RandBytes(uint64(i), 1000))
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, id)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	counter := &readAheadCounter{Backend: be, hints: map[string]int{}}
	repo = openIndexed(t, counter, "rahasia", testOpts)
	for _, id := range data {
		if _, err := repo.LoadBlob(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(counter.hints) != 0 {
		t.Fatalf("loading file data asked for read-ahead: %v", counter.hints)
	}
	for range 2 {
		for _, id := range trees {
			if _, err := repo.LoadTree(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	loc, _ := repo.Index().Lookup(trees[0])
	want := map[string]int{backend.PackFile.String() + "/" + loc.Pack.String(): 1}
	if !maps.Equal(counter.hints, want) {
		t.Errorf("read-ahead hints %v, want one for the trees' pack %v", counter.hints, want)
	}
}
