package replicate_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/faulty"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/replicate"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/testutil"
)

func TestReencryptCopiesOnlyNewBlobs(t *testing.T) {
	ctx := context.Background()
	s := newSource(t, mem.New())
	files := map[string][]byte{"db/a.sql": testutil.RandBytes(1, 300<<10), "docs/b.txt": testutil.RandBytes(2, 60<<10), "docs/c.txt": testutil.RandBytes(3, 10<<10)}
	first := s.backup(t, files)
	dstBe := mem.New()
	initRepo(t, dstBe, pwB)
	opts := replicate.Options{SrcPassword: pwA, DstPassword: pwB}

	res, err := replicate.Copy(ctx, s.be, dstBe, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != replicate.ModeReencrypt || len(res.Snapshots) != 1 || res.Snapshots[0].Status != replicate.Copied {
		t.Fatalf("mode %q, snapshots %+v", res.Mode, res.Snapshots)
	}
	firstNew := res.BlobsNew
	if want := s.sums[0].DataBlobs + s.sums[0].TreeBlobs; firstNew != want {
		t.Errorf("first copy wrote %d blobs, the source backup %d", firstNew, want)
	}

	// Most data stays; one file changes and one is added.
	files["docs/b.txt"] = testutil.RandBytes(4, 60<<10)
	files["new.txt"] = testutil.RandBytes(5, 20<<10)
	second := s.backup(t, files)
	newAtSource := s.sums[1].DataBlobs + s.sums[1].TreeBlobs
	res, err = replicate.Copy(ctx, s.be, dstBe, opts)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]replicate.SnapshotResult{}
	for _, r := range res.Snapshots {
		byID[r.ID] = r
	}
	if byID[first.String()].Status != replicate.Skipped || byID[second.String()].Status != replicate.Copied {
		t.Fatalf("snapshots %+v", res.Snapshots)
	}
	if res.BlobsNew != newAtSource {
		t.Errorf("second copy wrote %d blobs; the source backup added %d", res.BlobsNew, newAtSource)
	}
	// Unchanged files and directories are mapped through the first copy
	// without being read again at the source.
	if res.BlobsRead != s.sums[1].DataBlobs {
		t.Errorf("second copy read %d data blobs at the source; only the %d new ones need reading", res.BlobsRead, s.sums[1].DataBlobs)
	}
	t.Logf("trees read %d, new at source %d, blobs read %d", res.TreesRead, s.sums[1].TreeBlobs, res.BlobsRead)
	if res.TreesRead != s.sums[1].TreeBlobs {
		t.Errorf("second copy rewrote %d trees; only the %d changed directories need it", res.TreesRead, s.sums[1].TreeBlobs)
	}
	if res.BlobsNew >= firstNew {
		t.Errorf("second copy wrote %d blobs, not fewer than the first (%d): no dedup", res.BlobsNew, firstNew)
	}

	checkRepo(t, dstBe, pwB)
	dst := openRepo(t, dstBe, pwB)
	for _, id := range s.snaps {
		s.restoresAs(t, dst, mustID(t, byID[id.String()].DestID), id)
	}
	// The copy is sealed with the destination's key: the source password
	// does not open it.
	if _, err := repository.Open(ctx, dstBe, pwA, testOpts); err == nil {
		t.Error("the source password opens the destination")
	}
	// The second snapshot's parent is mapped to the destination's first.
	sn, err := dst.LoadSnapshot(ctx, mustID(t, byID[second.String()].DestID))
	if err != nil {
		t.Fatal(err)
	}
	if sn.Parent == nil || sn.Parent.String() != byID[first.String()].DestID || sn.Dataset != "siak" {
		t.Errorf("copied snapshot parent %v dataset %q", sn.Parent, sn.Dataset)
	}
}

func mustID(t *testing.T, s string) crypto.ID {
	t.Helper()
	id, err := crypto.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestReencryptResumes interrupts a re-encrypting copy repeatedly; the
// destination always passes check, and the final result restores.
func TestReencryptResumes(t *testing.T) {
	ctx := context.Background()
	s := newSource(t, mem.New())
	twoSnapshots(t, s)
	inner := mem.New()
	initRepo(t, inner, pwB)
	dst := faulty.Wrap(inner)
	rng := rand.New(rand.NewPCG(7, 0))
	interrupted := 0
	var res *replicate.Result
	for round := 0; ; round++ {
		if round > 100 {
			t.Fatal("copy never completed")
		}
		opts := replicate.Options{SrcPassword: pwA, DstPassword: pwB}
		rctx, cancel := context.WithCancel(ctx)
		if round%2 == 0 {
			dst.FailNthSave(1 + rng.IntN(4))
		} else {
			stopAt := int64(1 + rng.IntN(40))
			opts.Progress = func(p replicate.Progress) {
				if p.Objects >= stopAt {
					cancel()
				}
			}
		}
		var err error
		res, err = replicate.Copy(rctx, s.be, dst, opts)
		cancel()
		dst.Reset()
		checkRepo(t, inner, pwB)
		if err == nil {
			break
		}
		if !errors.Is(err, faulty.ErrInjected) && !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: %v", round, err)
		}
		interrupted++
	}
	t.Logf("%d interruptions", interrupted)
	if interrupted < 2 {
		t.Errorf("only %d interruptions", interrupted)
	}
	repo := openRepo(t, inner, pwB)
	all, err := repo.Snapshots(ctx, nil)
	if err != nil || len(all) != 2 {
		t.Fatalf("%d snapshots at the destination (%v), want 2", len(all), err)
	}
	for i, id := range s.snaps {
		s.restoresAs(t, repo, all[i].ID, id)
	}
	if got := len(names(t, inner, backend.SnapshotFile)); got != 2 {
		t.Errorf("%d snapshot files, want 2 (a resumed copy must not duplicate)", got)
	}
	_ = res
}

// TestReencryptDamagedSourceBlob: a snapshot whose data cannot be read is
// reported failed and not written; the others are copied.
func TestReencryptDamagedSourceBlob(t *testing.T) {
	ctx := context.Background()
	srcBe := mem.New()
	s := newSource(t, srcBe)
	s.backup(t, map[string][]byte{"a.bin": testutil.RandBytes(1, 100<<10)})
	before := names(t, srcBe, backend.PackFile)
	s.backup(t, map[string][]byte{"a.bin": testutil.RandBytes(1, 100<<10), "b.bin": testutil.RandBytes(9, 100<<10)})
	// Damage a data pack only the second snapshot uses.
	rewritePack(t, srcBe, newDataPack(t, srcBe, pwA, before), func(data []byte) {
		for i := 0; i < len(data)/2; i++ {
			data[i] ^= 0xff
		}
	})

	dstBe := mem.New()
	initRepo(t, dstBe, pwB)
	res, err := replicate.Copy(ctx, srcBe, dstBe, replicate.Options{SrcPassword: pwA, DstPassword: pwB})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Counts()
	if c[replicate.Copied] != 1 || c[replicate.Failed] != 1 {
		t.Fatalf("snapshots %+v", res.Snapshots)
	}
	checkRepo(t, dstBe, pwB)
}

// TestReencryptPassesOverGarbageIndex: storage that does not check names
// (S3 with stolen agent keys) can hold garbage under an index name. A
// re-encrypting copy reports it and copies the snapshot from the real index.
func TestReencryptPassesOverGarbageIndex(t *testing.T) {
	ctx := context.Background()
	s := newSource(t, mem.New())
	snap := s.backup(t, map[string][]byte{"db/a.sql": testutil.RandBytes(11, 200<<10)})
	garbage := mustID(t, "00000000"+strings.Repeat("ab", 28)) // sorts first
	if err := s.be.Save(ctx, backend.Handle{Type: backend.IndexFile, Name: garbage.String()}, testutil.RandBytes(12, 4096)); err != nil {
		t.Fatal(err)
	}
	dstBe := mem.New()
	initRepo(t, dstBe, pwB)
	res, err := replicate.Copy(ctx, s.be, dstBe, replicate.Options{SrcPassword: pwA, DstPassword: pwB})
	if err != nil {
		t.Fatalf("a garbage index file at the source stopped the copy: %v", err)
	}
	if len(res.Snapshots) != 1 || res.Snapshots[0].Status != replicate.Copied {
		t.Fatalf("snapshots %+v", res.Snapshots)
	}
	if len(res.Refused) != 1 || res.Refused[0].Object != "index/"+garbage.String() {
		t.Errorf("the garbage index is not reported: %+v", res.Refused)
	}
	dst := openRepo(t, dstBe, pwB)
	if err := dst.LoadIndex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	copied, err := dst.Snapshots(ctx, nil)
	if err != nil || len(copied) != 1 {
		t.Fatalf("destination snapshots: %v, %v", copied, err)
	}
	s.restoresAs(t, dst, copied[0].ID, snap)
}
