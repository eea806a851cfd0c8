package checker_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/checker"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// A blob with one damaged place and one intact place is restorable:
// readers try every place. Check reports the damaged pack, says the blobs
// are also stored elsewhere, and lists the snapshots as restorable. Either
// copy is damaged in turn, so that the damaged one is listed first (index
// files are merged in order of their ids) in one of the cases.
func TestDamagedPlaceWithIntactCopy(t *testing.T) {
	for _, damageCopy := range []bool{false, true} {
		t.Run(map[bool]string{false: "original damaged", true: "copy damaged"}[damageCopy], func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, mem.New())
			repo, err := repository.Open(ctx, f.be, password, testOpts)
			if err != nil {
				t.Fatal(err)
			}
			if err := repo.LoadIndex(ctx, nil); err != nil {
				t.Fatal(err)
			}
			// Copy every blob of the first data pack into a new pack, from
			// a session that has not loaded the index (so it stores them
			// again).
			blobs := packBlobs(t, repo, f.dataPacks[0])
			other, err := repository.Open(ctx, f.be, password, testOpts)
			if err != nil {
				t.Fatal(err)
			}
			w := other.NewWriter(ctx)
			for _, b := range blobs {
				data, err := repo.LoadBlob(ctx, b.ID, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.SaveBlobID(ctx, b.Type, b.ID, data); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			damaged := f.dataPacks[0]
			if damageCopy {
				loc, _ := other.Index().Lookup(blobs[0].ID)
				damaged = loc.Pack
			}
			rewrite(t, f.be, packHandle(damaged), flipByte(100))

			rep := check(t, f.be, checker.Options{ReadData: true})
			logReport(t, rep)
			p := findProblem(t, rep.Errors, "pack", damaged)
			if !strings.Contains(p.Message, "also stored in another pack") || len(p.Files) != 0 {
				t.Errorf("damaged pack: %q, files %q; want its blobs named as stored elsewhere and no file affected", p.Message, p.Files)
			}
			for _, sn := range f.snaps {
				if !slices.Contains(rep.Restorable, sn.String()) {
					t.Errorf("snapshot %s is not listed as restorable (restorable %v, damaged %v)", sn.Short(), rep.Restorable, rep.Damaged)
				}
			}
			if len(rep.Damaged) != 0 {
				t.Errorf("damaged snapshots %v, want none", rep.Damaged)
			}
		})
	}
}

// Without an intact copy, the snapshots that need the damaged data are
// listed as damaged and the others as restorable.
func TestRestorableAndDamagedSnapshots(t *testing.T) {
	f := newFixture(t, mem.New())
	rewrite(t, f.be, packHandle(f.dataPacks[1]), flipByte(100)) // b.txt, only in the second snapshot
	rep := check(t, f.be, checker.Options{ReadData: true})
	logReport(t, rep)
	if !slices.Equal(rep.Restorable, []string{f.snaps[0].String()}) || !slices.Equal(rep.Damaged, []string{f.snaps[1].String()}) {
		t.Fatalf("restorable %v, damaged %v; want the first restorable and the second damaged", rep.Restorable, rep.Damaged)
	}
}

// A snapshot dated far in the future is reported by id; its data is fine.
func TestSnapshotFromTheFuture(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mem.New())
	repo, err := repository.Open(ctx, f.be, password, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := repo.LoadSnapshot(ctx, f.snaps[1])
	if err != nil {
		t.Fatal(err)
	}
	sn.Time = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	id, err := repo.SaveSnapshot(ctx, sn)
	if err != nil {
		t.Fatal(err)
	}
	sn.Time = time.Now().Add(time.Hour) // a clock an hour fast is not news
	if _, err := repo.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	rep := check(t, f.be, checker.Options{})
	logReport(t, rep)
	p := findProblem(t, rep.Errors, "snapshot", id)
	if !strings.Contains(p.Message, "2099") || len(rep.Errors) != 1 {
		t.Errorf("errors %+v, want exactly one naming the snapshot dated 2099", rep.Errors)
	}
	if !slices.Contains(rep.Restorable, id.String()) {
		t.Errorf("its data is intact, yet it is not listed as restorable: %v", rep.Restorable)
	}
}

func packBlobs(t *testing.T, repo *repository.Repository, pack crypto.ID) []repository.PackedBlob {
	t.Helper()
	ctx := context.Background()
	fi, err := repo.Backend().Stat(ctx, packHandle(pack))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := repo.ReadPackHeader(ctx, pack, fi.Size)
	if err != nil {
		t.Fatal(err)
	}
	return blobs
}
