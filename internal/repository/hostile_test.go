package repository_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/testutil"
	"github.com/lumbung-id/lumbung/internal/testutil/forgery"
)

// Tests of what a hostile appender (the repository key plus a credential
// that may only add files) can do at the repository level; the full
// scenarios (backup, restore, check) are in internal/restorer.

var hostilePW = []byte("rahasia")

func openLoaded(t *testing.T, be backend.Backend) *repository.Repository {
	t.Helper()
	r, err := repository.Open(context.Background(), be, hostilePW, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadIndex(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return r
}

// saveReal stores blobs through a writer and returns their ids.
func saveReal(t *testing.T, r *repository.Repository, blobs ...[]byte) []crypto.ID {
	t.Helper()
	ctx := context.Background()
	w := r.NewWriter(ctx)
	var ids []crypto.ID
	for _, b := range blobs {
		id, _, err := w.SaveBlob(ctx, repository.DataBlob, b)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return ids
}

// forge stores an index file naming packs that readers try first.
func forge(t *testing.T, be backend.Backend, packs []repository.IndexPack) crypto.ID {
	t.Helper()
	return forgery.FirstIndex(t, be, func(b backend.Backend) (*repository.Repository, error) {
		return repository.Open(context.Background(), b, hostilePW, testOpts)
	}, packs)
}

func TestLoadBlobTriesEveryPlace(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		// forge adds a bogus place for id (really at loc) and returns it.
		forge func(t *testing.T, atk *repository.Repository, be backend.Backend, id crypto.ID, loc repository.Location) repository.Location
	}{
		{"garbage in a pack of the attacker", func(t *testing.T, atk *repository.Repository, be backend.Backend, id crypto.ID, loc repository.Location) repository.Location {
			w := atk.NewWriter(ctx) // the attacker's index is empty: it stores
			if _, err := w.SaveBlobID(ctx, repository.DataBlob, id, testutil.RandBytes(7, int(loc.RawLength))); err != nil {
				t.Fatal(err)
			}
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			l, _ := atk.Index().Lookup(id)
			forge(t, be, []repository.IndexPack{{ID: l.Pack, Blobs: []repository.PackedBlob{{Type: l.Type, ID: id, Offset: l.Offset, Length: l.Length, RawLength: l.RawLength}}}})
			return l
		}},
		{"wrong offset in the real pack", func(t *testing.T, atk *repository.Repository, be backend.Backend, id crypto.ID, loc repository.Location) repository.Location {
			l := loc
			l.Offset, l.RawLength = loc.Offset+loc.Length, 5 // the next blob
			forge(t, be, []repository.IndexPack{{ID: l.Pack, Blobs: []repository.PackedBlob{{Type: l.Type, ID: id, Offset: l.Offset, Length: l.Length, RawLength: l.RawLength}}}})
			return l
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := mem.New()
			r, err := repository.Init(ctx, be, hostilePW, testOpts)
			if err != nil {
				t.Fatal(err)
			}
			want := testutil.RandBytes(1, 5000)
			ids := saveReal(t, r, want, testutil.RandBytes(2, 5000))
			good, _ := openLoaded(t, be).Index().Lookup(ids[0])
			atk, err := repository.Open(ctx, be, hostilePW, testOpts)
			if err != nil {
				t.Fatal(err)
			}
			bogus := tc.forge(t, atk, be, ids[0], good)

			victim := openLoaded(t, be)
			if first, _ := victim.Index().Lookup(ids[0]); first != bogus {
				t.Fatalf("precondition: the forged place %+v is not tried first (%+v)", bogus, first)
			}
			got, err := victim.LoadBlob(ctx, ids[0], nil)
			if err != nil {
				t.Fatalf("LoadBlob: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("LoadBlob returned other data")
			}
			if first, _ := victim.Index().Lookup(ids[0]); first != good {
				t.Errorf("after the forged place failed, Lookup still prefers it: %+v", first)
			}

			// With the real pack gone too, the error names both places.
			if err := be.Remove(ctx, backend.Handle{Type: backend.PackFile, Name: good.Pack.String()}); err != nil {
				t.Fatal(err)
			}
			_, err = openLoaded(t, be).LoadBlob(ctx, ids[0], nil)
			if err == nil {
				t.Fatal("LoadBlob succeeded with no intact place")
			}
			msg := err.Error()
			if !strings.Contains(msg, bogus.Pack.Short()) || !strings.Contains(msg, good.Pack.Short()) || !strings.Contains(msg, "2 places") {
				t.Errorf("error does not name each place tried: %v", err)
			}
		})
	}
}

// A blob known only from an index entry pointing at a pack storage does not
// hold is not known: a writer stores it rather than deduplicating against
// a place nobody can read.
func TestWriterIgnoresPlacesInMissingPacks(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, err := repository.Init(ctx, be, hostilePW, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	saveReal(t, r, testutil.RandBytes(1, 3000))
	future := testutil.RandBytes(9, 4000) // content the host will back up later
	id := r.BlobID(future)
	forge(t, be, []repository.IndexPack{{ID: crypto.Hash([]byte("never stored")), Blobs: []repository.PackedBlob{
		{Type: repository.DataBlob, ID: id, Length: uint32(len(future) + 1 + crypto.Overhead), RawLength: uint32(len(future))}}}})

	victim := openLoaded(t, be)
	if victim.Index().Has(id) {
		t.Fatal("a blob placed only in a missing pack counts as stored")
	}
	if missing := victim.Index().MissingPacks(); len(missing) != 1 {
		t.Fatalf("missing packs %v, want the forged one", missing)
	}
	w := victim.NewWriter(ctx)
	if _, added, err := w.SaveBlob(ctx, repository.DataBlob, future); err != nil || !added {
		t.Fatalf("SaveBlob: added %v, err %v; want it stored", added, err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := openLoaded(t, be).LoadBlob(ctx, id, nil)
	if err != nil || !bytes.Equal(got, future) {
		t.Fatalf("the blob does not load back: %v", err)
	}
}

func TestLatestPassesOverForgedSnapshots(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, err := repository.Init(ctx, be, hostilePW, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	w := r.NewWriter(ctx)
	empty, err := repository.EncodeTree(&repository.Tree{})
	if err != nil {
		t.Fatal(err)
	}
	tree, _, err := w.SaveBlob(ctx, repository.TreeBlob, empty)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	save := func(when time.Time, tree crypto.ID) crypto.ID {
		id, err := r.SaveSnapshot(ctx, &repository.Snapshot{Time: when, Tree: tree, Paths: []string{"/srv/data"}, Hostname: "srv"})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	realID := save(now.Add(-time.Hour), tree)
	save(now.Add(-2*time.Hour), tree)
	future := save(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), tree)
	skewed := save(now.Add(12*time.Hour), tree) // a clock a little fast: still taken
	noTree := save(now.Add(-time.Minute), crypto.Hash([]byte("no such tree")))

	sn, warns, err := openLoaded(t, be).ResolveSnapshot(ctx, "latest", repository.SnapshotFilter{Hostname: "srv"})
	if err != nil {
		t.Fatal(err)
	}
	if sn.ID != skewed {
		t.Errorf("latest is %s, want %s (12 hours ahead is within the skew)", sn.ID.Short(), skewed.Short())
	}
	if len(warns) != 1 || !strings.Contains(warns[0], future.Short()) {
		t.Errorf("warnings %q, want one naming %s", warns, future.Short())
	}

	if err := be.Remove(ctx, backend.Handle{Type: backend.SnapshotFile, Name: skewed.String()}); err != nil {
		t.Fatal(err)
	}
	sn, warns, err = openLoaded(t, be).ResolveSnapshot(ctx, "latest", repository.SnapshotFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if sn.ID != realID {
		t.Errorf("latest is %s, want %s", sn.ID.Short(), realID.Short())
	}
	if len(warns) != 2 || !strings.Contains(strings.Join(warns, "\n"), noTree.Short()) {
		t.Errorf("warnings %q, want the future one and the one without a tree (%s)", warns, noTree.Short())
	}
	if got, err := openLoaded(t, be).FindSnapshot(ctx, "latest", repository.SnapshotFilter{}); err != nil || got.ID != realID {
		t.Errorf("FindSnapshot(latest) = %s, %v", got.ID.Short(), err)
	}

	// Only forged ones left: no latest, and the error says why.
	_, warns, err = openLoaded(t, be).ResolveSnapshot(ctx, "latest", repository.SnapshotFilter{Hostname: "nobody"})
	if !errors.Is(err, repository.ErrNoSnapshot) || len(warns) != 0 {
		t.Errorf("no match: err %v, warnings %q", err, warns)
	}
	for _, id := range []crypto.ID{realID} {
		if err := be.Remove(ctx, backend.Handle{Type: backend.SnapshotFile, Name: id.String()}); err != nil {
			t.Fatal(err)
		}
	}
	var older crypto.ID
	if err := be.List(ctx, backend.SnapshotFile, func(fi backend.FileInfo) error {
		if id, _ := crypto.ParseID(fi.Name); id != future && id != noTree {
			older = id
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := be.Remove(ctx, backend.Handle{Type: backend.SnapshotFile, Name: older.String()}); err != nil {
		t.Fatal(err)
	}
	_, warns, err = openLoaded(t, be).ResolveSnapshot(ctx, "latest", repository.SnapshotFilter{})
	if !errors.Is(err, repository.ErrNoSnapshot) || len(warns) != 2 {
		t.Errorf("only forged snapshots: err %v, warnings %q", err, warns)
	}
}

// flaky fails every pack read as a network would.
type flaky struct{ *mem.Mem }

func (f flaky) Load(ctx context.Context, h backend.Handle, off, n int64) ([]byte, error) {
	if h.Type == backend.PackFile {
		return nil, errors.New("connection reset by peer")
	}
	return f.Mem.Load(ctx, h, off, n)
}

// Storage trouble while checking the newest snapshot's tree is an error,
// not a reason to pick older data.
func TestLatestFailsOnStorageTrouble(t *testing.T) {
	ctx := context.Background()
	m := mem.New()
	r, err := repository.Init(ctx, m, hostilePW, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	w := r.NewWriter(ctx)
	empty, _ := repository.EncodeTree(&repository.Tree{})
	tree, _, err := w.SaveBlob(ctx, repository.TreeBlob, empty)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := r.SaveSnapshot(ctx, &repository.Snapshot{Time: time.Now().Add(time.Duration(i-2) * time.Hour), Tree: tree, Paths: []string{"/srv"}}); err != nil {
			t.Fatal(err)
		}
	}
	sn, warns, err := openLoaded(t, flaky{m}).ResolveSnapshot(ctx, "latest", repository.SnapshotFilter{})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("got snapshot %s, warnings %q, err %v; want the storage error", sn.ID.Short(), warns, err)
	}
}

// TestForgedKeySlotDoesNotLockOutOwner: whoever knows the password can make
// another repository with it and add that repository's key slot (a valid
// slot for the same password, wrapping another master key). Open must pass
// over it, however the slots sort, and open with the real key.
func TestForgedKeySlotDoesNotLockOutOwner(t *testing.T) {
	ctx := context.Background()
	// A real slot in the upper half of the names, so that forged slots
	// sorting before it come up quickly (half of them do) and all of them
	// stay within the 32 slots ForeignKeySlots tries: a real slot low in the
	// order took up to ~100 forged slots and left some untried.
	var be *mem.Mem
	var realKey crypto.ID
	for be == nil || realKey.String() < "80" {
		be = mem.New()
		real, err := repository.Init(ctx, be, hostilePW, testOpts)
		if err != nil {
			t.Fatal(err)
		}
		realKey = real.KeyID()
	}
	forged := 0
	for tries := 0; forged < 3; tries++ { // until three forged slots sort before the real one
		if tries == 200 {
			t.Fatalf("no forged key slot sorting before %s in %d tries", realKey.Short(), tries)
		}
		other := mem.New()
		if _, err := repository.Init(ctx, other, hostilePW, testOpts); err != nil {
			t.Fatal(err)
		}
		err := other.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
			data, err := other.Load(ctx, backend.Handle{Type: backend.KeyFile, Name: fi.Name}, 0, 0)
			if err != nil {
				return err
			}
			if fi.Name < realKey.String() {
				forged++
			}
			return be.Save(ctx, backend.Handle{Type: backend.KeyFile, Name: fi.Name}, data)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	r, err := repository.Open(ctx, be, hostilePW, testOpts)
	if err != nil {
		t.Fatalf("a forged key slot locked the owner out: %v", err)
	}
	if r.KeyID() != realKey {
		t.Errorf("opened with key %s, want the repository's own %s", r.KeyID().Short(), realKey.Short())
	}
	// Every forged slot is found (before and after the real one); a slot of
	// this repository under another password is not foreign.
	other, err := r.AddKey(ctx, []byte("kata sandi admin lain"), "admin")
	if err != nil {
		t.Fatal(err)
	}
	same, err := r.AddKey(ctx, hostilePW, "second slot, same password")
	if err != nil {
		t.Fatal(err)
	}
	foreign, untried, err := r.ForeignKeySlots(ctx)
	if err != nil || untried != 0 {
		t.Fatalf("ForeignKeySlots: %v (untried %d)", err, untried)
	}
	var all []string
	if err := be.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error { all = append(all, fi.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	want := len(all) - 3 // all but the real, the other password's and the second own slot
	if len(foreign) != want {
		t.Errorf("%d foreign slots found, want %d", len(foreign), want)
	}
	for _, id := range foreign {
		if id == realKey || id == other || id == same {
			t.Errorf("slot %s of this repository reported as foreign", id.Short())
		}
	}
	// A password that opens only forged slots still gets a clear error.
	only := mem.New()
	if _, err := repository.Init(ctx, only, []byte("lain"), testOpts); err != nil {
		t.Fatal(err)
	}
	if _, err := repository.Open(ctx, only, hostilePW, testOpts); !errors.Is(err, crypto.ErrWrongPassword) {
		t.Errorf("wrong password: got %v", err)
	}
}
