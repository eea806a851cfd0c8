package restorer_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/checker"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
	"github.com/lumbung-id/lumbung/internal/testutil/forgery"
)

// The hostile appender (docs/format.md, "Readers and forged objects"): the
// protected host is taken over, and the attacker holds the repository
// password (so the master key) and a credential that may add files but not
// delete or overwrite them. Whatever they add, every earlier snapshot must
// still restore byte-identical, `latest` must stay the real newest, a new
// backup must still store its data, and check must name what was forged.

// scene is a repository with two real snapshots of two directories.
type scene struct {
	be         *mem.Mem
	dirA, dirB string
	s1, s2     *archiver.Result
	future     []byte // content the victim backs up only after the attack
}

func newScene(t *testing.T) *scene {
	t.Helper()
	ctx := context.Background()
	base := t.TempDir()
	sc := &scene{dirA: filepath.Join(base, "a"), dirB: filepath.Join(base, "b"), future: randBytes(99, 200<<10)}
	shared := randBytes(2, 300<<10)
	writeFile(t, filepath.Join(sc.dirA, "doc1.txt"), randBytes(1, 100<<10), 0o644)
	writeFile(t, filepath.Join(sc.dirA, "shared.bin"), shared, 0o600)
	writeFile(t, filepath.Join(sc.dirA, "sub", "small.txt"), []byte("laporan keuangan 2026\n"), 0o644)
	writeFile(t, filepath.Join(sc.dirB, "shared.bin"), shared, 0o600)
	writeFile(t, filepath.Join(sc.dirB, "doc2.txt"), randBytes(3, 1300<<10), 0o644) // several chunks
	writeFile(t, filepath.Join(sc.dirB, "sub", "x.dat"), randBytes(4, 5000), 0o644)

	repo, be := newRepo(t)
	sc.be = be
	var err error
	if sc.s1, err = archiver.Backup(ctx, repo, []string{sc.dirA}, archiver.Options{}); err != nil {
		t.Fatal(err)
	}
	if sc.s2, err = archiver.Backup(ctx, reopen(t, be), []string{sc.dirB}, archiver.Options{}); err != nil {
		t.Fatal(err)
	}
	return sc
}

// attackerRepo opens the repository as the attacker does: with the
// password, without loading the index (so their writer stores everything).
func attackerRepo(t *testing.T, be backend.Backend) *repository.Repository {
	t.Helper()
	repo, err := repository.Open(context.Background(), be, password, repoOpts)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// realPlaces lists every place of every blob the real repository indexes.
func realPlaces(t *testing.T, be backend.Backend) map[crypto.ID]repository.Location {
	t.Helper()
	out := map[crypto.ID]repository.Location{}
	reopen(t, be).Index().Each(func(id crypto.ID, loc repository.Location) { out[id] = loc })
	return out
}

func listNames(t *testing.T, be backend.Backend, ft backend.FileType) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := be.List(context.Background(), ft, func(fi backend.FileInfo) error {
		out[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// forgeIndex stores an index file naming packs that readers try first.
func forgeIndex(t *testing.T, be backend.Backend, packs []repository.IndexPack) crypto.ID {
	t.Helper()
	return forgery.FirstIndex(t, be, func(b backend.Backend) (*repository.Repository, error) {
		return repository.Open(context.Background(), b, password, repoOpts)
	}, packs)
}

// attack is what one scenario adds to the repository; it returns what check
// must name (ids, full or short, expected in the errors) and, for a forged
// snapshot, its id.
type attack func(t *testing.T, sc *scene) (named []string, forgedSnap crypto.ID)

// realIndexes lists the short ids of the index files written so far: check
// must not blame them for entries someone else forged.
func realIndexes(t *testing.T, be backend.Backend) []string {
	var out []string
	for name := range listNames(t, be, backend.IndexFile) {
		out = append(out, name[:8])
	}
	return out
}

// garbagePack stores garbage under every real blob id in packs of the
// attacker and a forged index naming them.
func garbagePack(t *testing.T, sc *scene) ([]string, crypto.ID) {
	ctx := context.Background()
	atk := attackerRepo(t, sc.be)
	places := realPlaces(t, sc.be)
	packsBefore := listNames(t, sc.be, backend.PackFile)
	indexBefore := listNames(t, sc.be, backend.IndexFile)
	w := atk.NewWriter(ctx)
	seed := uint64(1000)
	for id, loc := range places {
		seed++
		if _, err := w.SaveBlobID(ctx, loc.Type, id, randBytes(seed, int(loc.RawLength))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Replace the writer's own index by one that sorts first.
	for name := range listNames(t, sc.be, backend.IndexFile) {
		if _, ok := indexBefore[name]; !ok {
			if err := sc.be.Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: name}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var packs []repository.IndexPack
	var named []string
	for name, size := range listNames(t, sc.be, backend.PackFile) {
		if _, ok := packsBefore[name]; ok {
			continue
		}
		id, _ := crypto.ParseID(name)
		blobs, err := atk.ReadPackHeader(ctx, id, size)
		if err != nil {
			t.Fatal(err)
		}
		packs = append(packs, repository.IndexPack{ID: id, Blobs: blobs})
		named = append(named, name)
	}
	idx := forgeIndex(t, sc.be, packs)
	named = append(named, idx.Short())
	// The precondition that makes this test fail without the fallback:
	// readers try the garbage first.
	for id := range places {
		if loc, _ := reopen(t, sc.be).Index().Lookup(id); !slices.Contains(named, loc.Pack.String()) {
			t.Fatalf("blob %s: the garbage is not tried first (pack %s)", id.Short(), loc.Pack.Short())
		}
		break
	}
	return named, crypto.ID{}
}

// wrongOffsets forges an index placing every real blob in its real pack,
// but where another blob (or nothing) is.
func wrongOffsets(t *testing.T, sc *scene) ([]string, crypto.ID) {
	byPack := map[crypto.ID][]repository.PackedBlob{}
	for id, loc := range realPlaces(t, sc.be) {
		byPack[loc.Pack] = append(byPack[loc.Pack], repository.PackedBlob{Type: loc.Type, ID: id, Offset: loc.Offset, Length: loc.Length, RawLength: loc.RawLength})
	}
	var packs []repository.IndexPack
	var named []string
	for pack, blobs := range byPack {
		slices.SortFunc(blobs, func(a, b repository.PackedBlob) int { return int(a.Offset) - int(b.Offset) })
		forged := make([]repository.PackedBlob, len(blobs))
		for k, b := range blobs {
			other := blobs[(k+1)%len(blobs)]
			if len(blobs) == 1 {
				other.Offset++
			}
			forged[k] = repository.PackedBlob{Type: b.Type, ID: b.ID, Offset: other.Offset, Length: other.Length, RawLength: other.RawLength}
		}
		packs = append(packs, repository.IndexPack{ID: pack, Blobs: forged})
		named = append(named, pack.String())
	}
	idx := forgeIndex(t, sc.be, packs)
	return append(named, idx.Short()), crypto.ID{}
}

// futureSnapshot adds a snapshot dated 2099 of an empty tree, for the
// paths and host of the newest real one.
func futureSnapshot(t *testing.T, sc *scene) ([]string, crypto.ID) {
	ctx := context.Background()
	atk := attackerRepo(t, sc.be)
	data, err := repository.EncodeTree(&repository.Tree{})
	if err != nil {
		t.Fatal(err)
	}
	w := atk.NewWriter(ctx)
	tree, _, err := w.SaveBlob(ctx, repository.TreeBlob, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	newest := sc.s2.Snapshot
	id, err := atk.SaveSnapshot(ctx, &repository.Snapshot{Time: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), Tree: tree,
		Paths: newest.Paths, Hostname: newest.Hostname, Username: newest.Username})
	if err != nil {
		t.Fatal(err)
	}
	return []string{id.String()}, id
}

// missingPack forges an index naming a pack that does not exist, holding
// every real blob and the blob the victim will back up next (the attacker
// has the key, so can compute its id from content they expect).
func missingPack(t *testing.T, sc *scene) ([]string, crypto.ID) {
	atk := attackerRepo(t, sc.be)
	pack := crypto.Hash([]byte("a pack nobody stored"))
	var blobs []repository.PackedBlob
	for id, loc := range realPlaces(t, sc.be) {
		blobs = append(blobs, repository.PackedBlob{Type: loc.Type, ID: id, Offset: loc.Offset, Length: loc.Length, RawLength: loc.RawLength})
	}
	blobs = append(blobs, repository.PackedBlob{Type: repository.DataBlob, ID: atk.BlobID(sc.future),
		Offset: 0, Length: uint32(len(sc.future) + 1 + crypto.Overhead), RawLength: uint32(len(sc.future))})
	idx := forgeIndex(t, sc.be, []repository.IndexPack{{ID: pack, Blobs: blobs}})
	return []string{pack.String(), idx.Short()}, crypto.ID{}
}

func TestHostileAppender(t *testing.T) {
	cases := []struct {
		name   string
		attack attack
	}{
		{"garbage pack", garbagePack},
		{"wrong offsets in real packs", wrongOffsets},
		{"snapshot from 2099", futureSnapshot},
		{"index naming a missing pack", missingPack},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			sc := newScene(t)
			innocent := realIndexes(t, sc.be)
			named, forgedSnap := tc.attack(t, sc)

			// Every earlier snapshot restores byte-identical, each from a
			// freshly opened repository (no verdicts remembered).
			for _, s := range []struct {
				res *archiver.Result
				dir string
			}{{sc.s1, sc.dirA}, {sc.s2, sc.dirB}} {
				target := newTarget(t)
				restore(t, reopen(t, sc.be), s.res.Snapshot.Tree, restoreOpts(target))
				compareTrees(t, s.dir, filepath.Join(target, s.dir))
			}

			// latest is the real newest; a forged future one is named.
			sn, warnings, err := reopen(t, sc.be).ResolveSnapshot(ctx, "latest", repository.SnapshotFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if sn.ID != sc.s2.ID {
				t.Errorf("latest is %s, want the real newest %s", sn.ID.Short(), sc.s2.ID.Short())
			}
			if !forgedSnap.IsZero() && !strings.Contains(strings.Join(warnings, "\n"), forgedSnap.Short()) {
				t.Errorf("no warning names the forged snapshot %s: %q", forgedSnap.Short(), warnings)
			}

			// A new backup stores its data (also content the attacker
			// claimed in advance) and restores.
			dirC := filepath.Join(filepath.Dir(sc.dirA), "c")
			writeFile(t, filepath.Join(dirC, "new.bin"), sc.future, 0o644)
			writeFile(t, filepath.Join(dirC, "shared.bin"), randBytes(2, 300<<10), 0o600)
			s3, err := archiver.Backup(ctx, reopen(t, sc.be), []string{dirC}, archiver.Options{})
			if err != nil {
				t.Fatal(err)
			}
			target := newTarget(t)
			restore(t, reopen(t, sc.be), s3.Snapshot.Tree, restoreOpts(target))
			compareTrees(t, dirC, filepath.Join(target, dirC))

			// check names what was forged, and still says the real
			// snapshots restore.
			rep, err := checker.Check(ctx, reopen(t, sc.be), checker.Options{ReadData: true})
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			for _, p := range rep.Errors {
				text.WriteString(p.Object + " " + p.Message + "\n")
			}
			for _, n := range named {
				if !strings.Contains(text.String(), n) {
					t.Errorf("check does not name %s; errors:\n%s", n, text.String())
				}
			}
			for _, n := range innocent {
				if strings.Contains(text.String(), n) {
					t.Errorf("check blames the real index file %s; errors:\n%s", n, text.String())
				}
			}
			for _, id := range []crypto.ID{sc.s1.ID, sc.s2.ID, s3.ID} {
				if !slices.Contains(rep.Restorable, id.String()) || slices.Contains(rep.Damaged, id.String()) {
					t.Errorf("check does not list real snapshot %s as restorable: restorable %v, damaged %v", id.Short(), rep.Restorable, rep.Damaged)
				}
			}
		})
	}
}

func restoreOpts(target string) restorer.Options { return restorer.Options{Target: target} }

// A pack that vanishes after the index was loaded (maintenance removed the
// garbage meanwhile): its reads fail, and the blobs come from their other
// places.
func TestRestoreFallsBackWhenPackVanishes(t *testing.T) {
	ctx := context.Background()
	sc := newScene(t)
	named, _ := garbagePack(t, sc)
	repo := reopen(t, sc.be)
	removed := 0
	for _, n := range named {
		if len(n) != 2*crypto.IDSize {
			continue // the index file's short id
		}
		if err := sc.be.Remove(ctx, backend.Handle{Type: backend.PackFile, Name: n}); err != nil {
			t.Fatal(err)
		}
		removed++
	}
	if removed == 0 {
		t.Fatal("no garbage pack to remove")
	}
	for _, s := range []struct {
		res *archiver.Result
		dir string
	}{{sc.s1, sc.dirA}, {sc.s2, sc.dirB}} {
		target := newTarget(t)
		restore(t, repo, s.res.Snapshot.Tree, restoreOpts(target))
		compareTrees(t, s.dir, filepath.Join(target, s.dir))
	}
}
