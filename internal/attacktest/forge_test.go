package attacktest

import (
	"slices"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/testutil"
)

// forged are the validly encrypted objects the attacker added to a layer
// with the repository password and the agent's credential, each meant to
// hide or replace the real snapshots.
type forged struct {
	// garbagePack is a pack of the attacker's bytes; wrongIndex places
	// every real blob in it.
	garbagePack, wrongIndex crypto.ID
	// ghostIndex places every real blob in a pack that does not exist.
	ghostIndex crypto.ID
	// future is a snapshot dated 2099 with an empty tree: without the
	// readers' clock bound, "latest" would restore nothing for ever.
	future crypto.ID
	// treeless is dated just after the real newest, with a root tree
	// that does not exist: "latest" must pass over it.
	treeless crypto.ID
	// planted are garbage files under names that are not their hash
	// (S3 only: the repository server refuses such names); plantedIndex
	// are those of them stored as index files.
	planted, plantedIndex []crypto.ID
	// keySlots are key slots of other repositories made with the stolen
	// password (see forgeKeySlots). They are valid key files; check names
	// them because they open with the password but wrap another master key.
	keySlots []crypto.ID
	// files are the stored bytes of the forged files (for PUTs over real
	// names of the same kind).
	files map[backend.Handle][]byte
}

// ids are every forged object, to tell the checker's findings apart.
func (f *forged) ids() []crypto.ID {
	return slices.Concat([]crypto.ID{f.garbagePack, f.wrongIndex, f.ghostIndex, f.future, f.treeless}, f.planted, f.keySlots)
}

// forge adds the bogus objects to the layer l through the repository API,
// with the password and the credential of the agent's config: exactly
// what the attacker can do. The layer must accept every addition: adding
// is what an append credential is for.
func forge(t *testing.T, l *layers.Layer, hist *history) *forged {
	t.Helper()
	ctx := t.Context()
	be, err := l.Open(ctx)
	if err != nil {
		t.Fatalf("the attacker opens layer %s: %v", l.Name, err)
	}
	defer be.Close()
	repo, err := repository.Open(ctx, be, []byte(password), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.LoadIndex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	f := &forged{files: map[backend.Handle][]byte{}}

	// A pack of garbage, and index files claiming the real blobs live in
	// it or in a pack that does not exist.
	var blobs []repository.PackedBlob
	var off uint32
	repo.Index().Each(func(id crypto.ID, loc repository.Location) {
		blobs = append(blobs, repository.PackedBlob{Type: loc.Type, ID: id, Offset: off, Length: loc.Length, RawLength: loc.RawLength})
		off += loc.Length
	})
	if len(blobs) == 0 {
		t.Fatalf("layer %s has no indexed blobs to forge", l.Name)
	}
	garbage := testutil.RandBytes(666, int(off))
	f.garbagePack = crypto.Hash(garbage)
	f.save(t, be, backend.Handle{Type: backend.PackFile, Name: f.garbagePack.String()}, garbage)
	if f.wrongIndex, err = repo.SaveIndexFile(ctx, []repository.IndexPack{{ID: f.garbagePack, Blobs: blobs}}); err != nil {
		t.Fatalf("the attacker adds an index file to layer %s: %v", l.Name, err)
	}
	if f.ghostIndex, err = repo.SaveIndexFile(ctx, []repository.IndexPack{{ID: crypto.Hash([]byte("no such pack")), Blobs: blobs}}); err != nil {
		t.Fatal(err)
	}

	// Snapshots of the dataset that would be "latest": one dated 2099
	// with an empty tree (stored properly), one dated after the real
	// newest with a tree that does not exist.
	w := repo.NewWriter(ctx)
	empty, err := repository.EncodeTree(&repository.Tree{})
	if err != nil {
		t.Fatal(err)
	}
	emptyID, _, err := w.SaveBlob(ctx, repository.TreeBlob, empty)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("the attacker commits an empty tree to layer %s: %v", l.Name, err)
	}
	newest, err := repo.LoadSnapshot(ctx, hist.ids[len(hist.ids)-1])
	if err != nil {
		t.Fatal(err)
	}
	bogus := *newest
	bogus.Parent, bogus.Summary = nil, nil
	bogus.Time, bogus.Tree = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), emptyID
	if f.future, err = repo.SaveSnapshot(ctx, &bogus); err != nil {
		t.Fatal(err)
	}
	bogus.Time, bogus.Tree = newest.Time.Add(time.Minute), crypto.Hash([]byte("no such tree"))
	if f.treeless, err = repo.SaveSnapshot(ctx, &bogus); err != nil {
		t.Fatal(err)
	}
	for _, h := range []backend.Handle{
		{Type: backend.IndexFile, Name: f.wrongIndex.String()},
		{Type: backend.SnapshotFile, Name: f.future.String()},
	} {
		data, err := be.Load(ctx, h, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.files[h] = data
	}
	return f
}

func (f *forged) save(t *testing.T, be backend.Backend, h backend.Handle, data []byte) {
	t.Helper()
	if err := be.Save(t.Context(), h, data); err != nil {
		t.Fatalf("the attacker adds %v: %v", h, err)
	}
	f.files[h] = data
}

// forgedOf returns a forged file of type ft, if the attacker made one.
func (f *forged) forgedOf(ft backend.FileType) ([]byte, bool) {
	for h, data := range f.files {
		if h.Type == ft {
			return data, true
		}
	}
	return nil, false
}
