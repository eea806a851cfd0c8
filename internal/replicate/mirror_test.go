package replicate_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/faulty"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/replicate"
	"github.com/lumbung-id/lumbung/internal/testutil"
)

func twoSnapshots(t *testing.T, s *source) {
	t.Helper()
	s.backup(t, map[string][]byte{"db/a.sql": testutil.RandBytes(1, 2500<<10), "docs/b.txt": testutil.RandBytes(2, 300<<10)})
	s.backup(t, map[string][]byte{"db/a.sql": testutil.RandBytes(1, 2500<<10), "docs/b.txt": testutil.RandBytes(3, 600<<10), "c.bin": testutil.RandBytes(4, 500<<10)})
}

func TestMirrorBetweenLocalRepositories(t *testing.T) {
	ctx := context.Background()
	srcBe, err := local.Create(ctx, t.TempDir()+"/src")
	if err != nil {
		t.Fatal(err)
	}
	dstBe, err := local.Create(ctx, t.TempDir()+"/dst")
	if err != nil {
		t.Fatal(err)
	}
	s := newSource(t, srcBe)
	twoSnapshots(t, s)

	var last replicate.Progress
	res, err := replicate.Copy(ctx, srcBe, dstBe, replicate.Options{Progress: func(p replicate.Progress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != replicate.ModeMirror {
		t.Errorf("mode %q, want mirror (empty destination)", res.Mode)
	}
	if c := res.Counts(); c[replicate.Copied] != 2 || len(res.Snapshots) != 2 || !res.OK() {
		t.Fatalf("snapshots %+v", res.Snapshots)
	}
	if last.Objects != res.Objects || last.Bytes != res.Bytes || res.Objects == 0 {
		t.Errorf("last progress %+v, result objects %d bytes %d", last, res.Objects, res.Bytes)
	}
	// Every file of the source is at the destination (mirror = same names).
	for _, ft := range []backend.FileType{backend.KeyFile, backend.PackFile, backend.IndexFile, backend.SnapshotFile} {
		src, dst := names(t, srcBe, ft), names(t, dstBe, ft)
		if len(src) != len(dst) {
			t.Errorf("%v: %d at source, %d at destination", ft, len(src), len(dst))
		}
	}
	checkRepo(t, dstBe, pwA)
	repo := openRepo(t, dstBe, pwA)
	for _, id := range s.snaps {
		s.restoresAs(t, repo, id, id)
	}

	// Nothing is missing: the second copy stores nothing.
	res, err = replicate.Copy(ctx, srcBe, dstBe, replicate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Objects != 0 || res.Counts()[replicate.Skipped] != 2 {
		t.Errorf("second copy stored %d objects, snapshots %+v", res.Objects, res.Snapshots)
	}
}

// TestMirrorResumesAfterInterruptions interrupts the copy at random object
// counts (a destination Save fails) until it completes. After every
// interruption the destination passes check and every snapshot it holds
// restores byte-identical.
func TestMirrorResumesAfterInterruptions(t *testing.T) {
	ctx := context.Background()
	s := newSource(t, mem.New())
	twoSnapshots(t, s)
	total := 0
	for _, ft := range []backend.FileType{backend.KeyFile, backend.PackFile, backend.IndexFile, backend.SnapshotFile} {
		total += len(names(t, s.be, ft))
	}
	inner := mem.New()
	dst := faulty.Wrap(inner)
	rng := rand.New(rand.NewPCG(42, 0))
	interrupted := 0
	for round := 0; ; round++ {
		if round > 100 {
			t.Fatal("copy never completed")
		}
		// Three ways to be interrupted: a Save that fails, a Save that
		// stores and then reports failure, and the process stopping
		// (context cancelled) after a random number of objects.
		opts := replicate.Options{Concurrency: 1 + rng.IntN(3)}
		rctx, cancel := context.WithCancel(ctx)
		switch round % 3 {
		case 0:
			dst.FailNthSave(1 + rng.IntN(4))
		case 1:
			dst.FailAfterStore(true)
			dst.FailNthSave(1 + rng.IntN(4))
		case 2:
			stopAt := int64(1 + rng.IntN(4))
			opts.Progress = func(p replicate.Progress) {
				if p.Objects >= stopAt {
					cancel()
				}
			}
		}
		res, err := replicate.Copy(rctx, s.be, dst, opts)
		cancel()
		dst.Reset()
		if err != nil {
			if !errors.Is(err, faulty.ErrInjected) && !errors.Is(err, context.Canceled) {
				t.Fatalf("round %d: %v", round, err)
			}
			interrupted++
		}
		if _, err := inner.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err == nil {
			checkRepo(t, inner, pwA)
			repo := openRepo(t, inner, pwA)
			for name := range names(t, inner, backend.SnapshotFile) {
				id, _ := crypto.ParseID(name)
				s.restoresAs(t, repo, id, id)
			}
		}
		if err == nil {
			if !res.OK() || len(res.Snapshots) != 2 {
				t.Fatalf("round %d: finished but %+v", round, res.Snapshots)
			}
			break
		}
	}
	t.Logf("%d interruptions of a %d-object copy", interrupted, total)
	if interrupted < 3 {
		t.Errorf("only %d interruptions of a %d-object copy: the test does not exercise resuming", interrupted, total)
	}
	if got := len(names(t, inner, backend.SnapshotFile)); got != 2 {
		t.Errorf("%d snapshots at the destination, want 2", got)
	}
	// Once more: nothing to store, and every object (and the config) is
	// reported as already there.
	res, err := replicate.Copy(ctx, s.be, dst, replicate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Objects != 0 || res.Reused != int64(total+1) {
		t.Errorf("repeated copy stored %d objects and found %d already there, want 0 and %d", res.Objects, res.Reused, total+1)
	}
}

// TestMirrorRefusesCorruptPack: a pack whose bytes no longer match its name
// is not stored. Without the key no snapshot is copied while it is missing;
// with the source password exactly the snapshots that need it are held back.
func TestMirrorRefusesCorruptPack(t *testing.T) {
	ctx := context.Background()
	srcBe := mem.New()
	s := newSource(t, srcBe)
	s.backup(t, map[string][]byte{"a.bin": testutil.RandBytes(1, 300<<10)})
	before := names(t, srcBe, backend.PackFile)
	s.backup(t, map[string][]byte{"a.bin": testutil.RandBytes(1, 300<<10), "b.bin": testutil.RandBytes(2, 300<<10)})
	// Damage a data pack only the second snapshot needs.
	victim := newDataPack(t, srcBe, pwA, before)
	rewritePack(t, srcBe, victim, func(data []byte) { data[len(data)/2] ^= 0x40 })
	h := backend.Handle{Type: backend.PackFile, Name: victim}

	dst := mem.New()
	res, err := replicate.Copy(ctx, srcBe, dst, replicate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refused) != 1 || res.Refused[0].Object != h.String() || !strings.Contains(res.Refused[0].Reason, "does not match its name") {
		t.Fatalf("refused %+v, want only %v", res.Refused, h)
	}
	if _, err := dst.Stat(ctx, h); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("the damaged pack was stored: %v", err)
	}
	if c := res.Counts(); c[replicate.Failed] != 2 || res.OK() {
		t.Errorf("snapshots %+v, want both failed", res.Snapshots)
	}
	if n := len(names(t, dst, backend.SnapshotFile)) + len(names(t, dst, backend.IndexFile)); n != 0 {
		t.Errorf("%d index/snapshot files copied although a pack is missing", n)
	}
	checkRepo(t, dst, pwA) // the packs that did arrive are harmless

	// With the key, the first snapshot (which does not need the pack) is
	// copied and restores; the second is reported with the pack's name.
	res, err = replicate.Copy(ctx, srcBe, dst, replicate.Options{SrcPassword: pwA})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]replicate.SnapshotResult{}
	for _, r := range res.Snapshots {
		got[r.ID] = r
	}
	if r := got[s.snaps[0].String()]; r.Status != replicate.Copied {
		t.Errorf("first snapshot: %+v", r)
	}
	if r := got[s.snaps[1].String()]; r.Status != replicate.Failed || !strings.Contains(r.Reason, victim) {
		t.Errorf("second snapshot: %+v", r)
	}
	if _, err := dst.Stat(ctx, h); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("the damaged pack was stored: %v", err)
	}
	checkRepo(t, dst, pwA)
	s.restoresAs(t, openRepo(t, dst, pwA), s.snaps[0], s.snaps[0])
}

func TestMirrorRefusesDifferentRepository(t *testing.T) {
	ctx := context.Background()
	src, dst := mem.New(), mem.New()
	initRepo(t, src, pwA)
	initRepo(t, dst, pwA)
	_, err := replicate.Copy(ctx, src, dst, replicate.Options{Mode: replicate.ModeMirror})
	if !errors.Is(err, replicate.ErrDifferentRepository) {
		t.Fatalf("got %v, want ErrDifferentRepository", err)
	}
	// Auto mode re-encrypts instead, which needs both passwords.
	_, err = replicate.Copy(ctx, src, dst, replicate.Options{})
	if !errors.Is(err, replicate.ErrNeedPassword) {
		t.Fatalf("got %v, want ErrNeedPassword", err)
	}
}

func TestMirrorChosenSnapshotsAndDataset(t *testing.T) {
	ctx := context.Background()
	s := newSource(t, mem.New())
	twoSnapshots(t, s)
	dst := mem.New()
	missingID := strings.Repeat("ab", 32)
	res, err := replicate.Copy(ctx, s.be, dst, replicate.Options{Snapshots: []string{s.snaps[1].String(), missingID}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]replicate.Status{}
	for _, r := range res.Snapshots {
		got[r.ID] = r.Status
	}
	if got[s.snaps[1].String()] != replicate.Copied || got[missingID] != replicate.Failed || len(got) != 2 {
		t.Errorf("results %+v", res.Snapshots)
	}
	if n := names(t, dst, backend.SnapshotFile); len(n) != 1 || !n[s.snaps[1].String()] {
		t.Errorf("destination snapshots %v", n)
	}
	// A dataset filter needs the key; another dataset selects nothing.
	if _, err := replicate.Copy(ctx, s.be, mem.New(), replicate.Options{Dataset: "siak"}); !errors.Is(err, replicate.ErrNeedPassword) {
		t.Errorf("dataset without password: %v", err)
	}
	res, err = replicate.Copy(ctx, s.be, mem.New(), replicate.Options{Dataset: "simpeg", SrcPassword: pwA})
	if err != nil || len(res.Snapshots) != 0 {
		t.Errorf("other dataset: %v %+v", err, res)
	}
	// A snapshot named explicitly but of another dataset is reported, not
	// dropped in silence.
	res, err = replicate.Copy(ctx, s.be, mem.New(), replicate.Options{Dataset: "simpeg", SrcPassword: pwA, Snapshots: []string{s.snaps[0].String()}})
	if err != nil || len(res.Snapshots) != 1 || res.Snapshots[0].Status != replicate.Failed || !strings.Contains(res.Snapshots[0].Reason, "belongs to dataset") {
		t.Errorf("explicit snapshot of another dataset: %v %+v", err, res)
	}
}
