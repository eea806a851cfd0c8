package checker_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/faulty"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/checker"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/testutil"
	"github.com/lumbung-id/lumbung/internal/ui"
)

var (
	password = []byte("rahasia")
	testOpts = repository.Options{
		KDF:      crypto.TestKDF,
		PackSize: 1 << 20,
		Chunker:  repository.ChunkerParams{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10},
	}
)

// fixture is a repository with two snapshots of src: the first holds
// srv/db/a.sql, the second adds srv/docs/b.txt. Each backup wrote one data
// pack, one tree pack and one index file, so damage to the first data pack
// affects a.sql (in both snapshots) and nothing else.
type fixture struct {
	be        backend.Backend
	snaps     [2]crypto.ID
	dataPacks [2]crypto.ID // data pack of each backup
	treePacks [2]crypto.ID
	index     []crypto.ID
}

func newFixture(t *testing.T, be backend.Backend) *fixture {
	t.Helper()
	ctx := context.Background()
	repo, err := repository.Init(ctx, be, password, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	testutil.WriteFile(t, filepath.Join(src, "srv", "db", "a.sql"), testutil.RandBytes(1, 300<<10))
	f := &fixture{be: be}
	seen := map[crypto.ID]bool{}
	for i := range 2 {
		if i == 1 {
			testutil.WriteFile(t, filepath.Join(src, "srv", "docs", "b.txt"), testutil.RandBytes(2, 100<<10))
		}
		res, err := archiver.Backup(ctx, repo, []string{src}, archiver.Options{Time: time.Date(2025, 1, 1+i, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		f.snaps[i] = res.ID
		for id, typ := range packTypes(t, repo, be) {
			if seen[id] {
				continue
			}
			seen[id] = true
			if typ == repository.DataBlob {
				f.dataPacks[i] = id
			} else {
				f.treePacks[i] = id
			}
		}
	}
	if f.dataPacks[0].IsZero() || f.dataPacks[1].IsZero() || f.treePacks[0].IsZero() || f.treePacks[1].IsZero() || len(seen) != 4 {
		t.Fatalf("fixture: unexpected packs %v", seen)
	}
	f.index = listIDs(t, be, backend.IndexFile)
	if len(f.index) != 2 {
		t.Fatalf("fixture: %d index files, want 2", len(f.index))
	}
	return f
}

// packTypes maps every stored pack to the type of its blobs.
func packTypes(t *testing.T, repo *repository.Repository, be backend.Backend) map[crypto.ID]repository.BlobType {
	t.Helper()
	ctx := context.Background()
	out := map[crypto.ID]repository.BlobType{}
	err := be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err != nil {
			return err
		}
		blobs, err := repo.ReadPackHeader(ctx, id, fi.Size)
		if err != nil {
			return err
		}
		out[id] = blobs[0].Type
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func listIDs(t *testing.T, be backend.Backend, typ backend.FileType) []crypto.ID {
	t.Helper()
	var ids []crypto.ID
	err := be.List(context.Background(), typ, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err == nil {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// rewrite replaces a stored file by fn(content), or removes it when fn
// returns nil.
func rewrite(t *testing.T, be backend.Backend, h backend.Handle, fn func([]byte) []byte) {
	t.Helper()
	ctx := context.Background()
	data, err := be.Load(ctx, h, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	if data = fn(data); data != nil {
		if err := be.Save(ctx, h, data); err != nil {
			t.Fatal(err)
		}
	}
}

func flipByte(off int) func([]byte) []byte {
	return func(b []byte) []byte { b[off] ^= 0x40; return b }
}

func truncate(b []byte) []byte { return b[:len(b)/2] }

func remove([]byte) []byte { return nil }

func packHandle(id crypto.ID) backend.Handle {
	return backend.Handle{Type: backend.PackFile, Name: id.String()}
}

// check opens the repository afresh (as the command does, without loading
// the index) and checks it.
func check(t *testing.T, be backend.Backend, opts checker.Options) *checker.Report {
	t.Helper()
	ctx := context.Background()
	repo, err := repository.Open(ctx, be, password, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := checker.Check(ctx, repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors == nil || rep.Warnings == nil {
		t.Error("Errors and Warnings must be empty slices, not nil, so JSON shows []")
	}
	return rep
}

func logReport(t *testing.T, rep *checker.Report) {
	t.Helper()
	for _, p := range rep.Errors {
		t.Logf("error: %s %s: %s %q", p.Kind, p.Object, p.Message, p.Files)
	}
	for _, p := range rep.Warnings {
		t.Logf("warning: %s %s: %s", p.Kind, p.Object, p.Message)
	}
}

// findProblem returns the problem of kind about object, or fails.
func findProblem(t *testing.T, ps []checker.Problem, kind string, object crypto.ID) checker.Problem {
	t.Helper()
	for _, p := range ps {
		if p.Kind == kind && p.Object == object.String() {
			return p
		}
	}
	t.Fatalf("no %s problem about %s in %+v", kind, object.Short(), ps)
	return checker.Problem{}
}

// wantFiles checks that files are exactly the paths with the given
// suffixes (one each).
func wantFiles(t *testing.T, files []string, suffixes ...string) {
	t.Helper()
	if len(files) != len(suffixes) {
		t.Fatalf("files %q, want %d ending in %q", files, len(suffixes), suffixes)
	}
	for _, s := range suffixes {
		if !slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, s) }) {
			t.Fatalf("files %q: none ends in %q", files, s)
		}
	}
}

func TestCleanRepository(t *testing.T) {
	for _, readData := range []bool{false, true} {
		name := map[bool]string{false: "structure", true: "read-data"}[readData]
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, mem.New())
			rep := check(t, f.be, checker.Options{ReadData: readData})
			logReport(t, rep)
			if !rep.OK() || len(rep.Errors) != 0 || len(rep.Warnings) != 0 {
				t.Fatalf("clean repository: %d errors, %d warnings", len(rep.Errors), len(rep.Warnings))
			}
			if rep.Snapshots != 2 || rep.Packs != 4 || rep.IndexFiles != 2 || rep.Trees < 5 || rep.Blobs < 7 {
				t.Fatalf("counts: %+v", rep)
			}
			if readData && (rep.PacksRead != 4 || rep.BytesRead == 0) {
				t.Fatalf("read-data read %d packs, %d bytes", rep.PacksRead, rep.BytesRead)
			}
			if !readData && (rep.PacksRead != 0 || rep.BytesRead != 0) {
				t.Fatalf("structure check read %d packs in full", rep.PacksRead)
			}
		})
	}
}

func TestLocalBackend(t *testing.T) {
	be, err := local.Create(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, be)
	if rep := check(t, be, checker.Options{ReadData: true}); !rep.OK() || len(rep.Warnings) != 0 {
		logReport(t, rep)
		t.Fatal("clean local repository not OK")
	}
	rewrite(t, be, packHandle(f.dataPacks[1]), flipByte(100))
	rep := check(t, be, checker.Options{ReadData: true})
	logReport(t, rep)
	p := findProblem(t, rep.Errors, "pack", f.dataPacks[1])
	wantFiles(t, p.Files, "/src/srv/docs/b.txt")
}

// TestDamage damages one object and checks what check says, with and
// without reading data.
func TestDamage(t *testing.T) {
	type result struct {
		ok       bool
		kind     string // kind of the expected error
		object   func(*fixture) crypto.ID
		files    []string // suffixes of the affected files
		contains []string // in the message
		warnings int      // at least this many
	}
	data0 := func(f *fixture) crypto.ID { return f.dataPacks[0] }
	tests := []struct {
		name string
		harm func(t *testing.T, f *fixture)
		// without and with ReadData
		structure, readData result
	}{
		{
			name: "flipped byte in a data pack",
			harm: func(t *testing.T, f *fixture) { rewrite(t, f.be, packHandle(f.dataPacks[0]), flipByte(10)) },
			// Blob contents are only read with ReadData: the structure
			// (header, index, trees) is intact, so a plain check passes.
			structure: result{ok: true},
			readData: result{kind: "pack", object: data0, files: []string{"/src/srv/db/a.sql"},
				contains: []string{"content does not match its name", "1 of its", "snapshots", "restore them from another layer"}},
		},
		{
			name:      "truncated data pack",
			harm:      func(t *testing.T, f *fixture) { rewrite(t, f.be, packHandle(f.dataPacks[0]), truncate) },
			structure: result{kind: "pack", object: data0, files: []string{"/src/srv/db/a.sql"}, contains: []string{"header cannot be read", "cut off", "at risk", "--read-data"}},
			readData:  result{kind: "pack", object: data0, files: []string{"/src/srv/db/a.sql"}, contains: []string{"content does not match its name", "affected"}},
		},
		{
			name:      "deleted data pack",
			harm:      func(t *testing.T, f *fixture) { rewrite(t, f.be, packHandle(f.dataPacks[0]), remove) },
			structure: result{kind: "pack", object: data0, files: []string{"/src/srv/db/a.sql"}, contains: []string{"missing from storage", "affected"}},
			readData:  result{kind: "pack", object: data0, files: []string{"/src/srv/db/a.sql"}, contains: []string{"missing from storage"}},
		},
		{
			name: "damaged tree blob",
			harm: func(t *testing.T, f *fixture) { rewrite(t, f.be, packHandle(f.treePacks[0]), flipByte(10)) },
			// Trees are read by the walk, so this shows without ReadData.
			structure: result{kind: "pack", object: func(f *fixture) crypto.ID { return f.treePacks[0] }, contains: []string{"damaged"}},
			readData:  result{kind: "pack", object: func(f *fixture) crypto.ID { return f.treePacks[0] }, contains: []string{"content does not match its name"}},
		},
		{
			name: "deleted index files",
			harm: func(t *testing.T, f *fixture) {
				for _, id := range f.index {
					rewrite(t, f.be, backend.Handle{Type: backend.IndexFile, Name: id.String()}, remove)
				}
			},
			// The packs are reported as unindexed (warnings), and the blobs
			// the snapshots need as "in no index, but pack X holds them"
			// (errors naming the files): a backup re-indexes them.
			structure: result{kind: "index", object: data0, files: []string{"/src/srv/db/a.sql"}, contains: []string{"in no index, but pack", "run a backup"}, warnings: 4},
			readData:  result{kind: "index", object: data0, files: []string{"/src/srv/db/a.sql"}, contains: []string{"in no index, but pack"}, warnings: 4},
		},
		{
			name: "damaged snapshot file",
			harm: func(t *testing.T, f *fixture) {
				rewrite(t, f.be, backend.Handle{Type: backend.SnapshotFile, Name: f.snaps[0].String()}, flipByte(20))
			},
			structure: result{kind: "snapshot", object: func(f *fixture) crypto.ID { return f.snaps[0] }, contains: []string{"cannot be read", "other snapshots are not affected"}},
			readData:  result{kind: "snapshot", object: func(f *fixture) crypto.ID { return f.snaps[0] }, contains: []string{"cannot be read"}},
		},
	}
	for _, tt := range tests {
		for _, readData := range []bool{false, true} {
			name := tt.name + map[bool]string{false: "/structure", true: "/read-data"}[readData]
			t.Run(name, func(t *testing.T) {
				f := newFixture(t, mem.New())
				tt.harm(t, f)
				want := tt.structure
				if readData {
					want = tt.readData
				}
				rep := check(t, f.be, checker.Options{ReadData: readData})
				logReport(t, rep)
				if rep.OK() != want.ok {
					t.Fatalf("OK() = %v, want %v", rep.OK(), want.ok)
				}
				if len(rep.Warnings) < want.warnings {
					t.Fatalf("%d warnings, want at least %d", len(rep.Warnings), want.warnings)
				}
				if want.ok {
					return
				}
				p := findProblem(t, rep.Errors, want.kind, want.object(f))
				for _, s := range want.contains {
					if !strings.Contains(p.Message, s) {
						t.Errorf("message %q does not contain %q", p.Message, s)
					}
				}
				if want.files != nil {
					wantFiles(t, p.Files, want.files...)
				}
			})
		}
	}
}

func TestFlippedByteNamesSnapshotsAndFiles(t *testing.T) {
	f := newFixture(t, mem.New())
	rewrite(t, f.be, packHandle(f.dataPacks[0]), flipByte(10))
	rep := check(t, f.be, checker.Options{ReadData: true})
	if len(rep.Errors) != 1 {
		logReport(t, rep)
		t.Fatalf("%d errors, want 1", len(rep.Errors))
	}
	p := rep.Errors[0]
	for _, s := range []string{"pack " + f.dataPacks[0].Short(), f.snaps[0].Short(), f.snaps[1].Short(), "a.sql"} {
		if !strings.Contains(p.Message, s) {
			t.Errorf("message %q does not name %q", p.Message, s)
		}
	}
	// b.txt (second data pack) is fine.
	if strings.Contains(p.Message, "b.txt") {
		t.Errorf("message names an intact file: %q", p.Message)
	}
}

func TestDamagedTreeNamesDirectory(t *testing.T) {
	f := newFixture(t, mem.New())
	rewrite(t, f.be, packHandle(f.treePacks[0]), flipByte(10))
	rep := check(t, f.be, checker.Options{ReadData: true})
	logReport(t, rep)
	p := findProblem(t, rep.Errors, "pack", f.treePacks[0])
	if len(p.Files) == 0 || !strings.HasSuffix(p.Files[0], "/") {
		t.Fatalf("damaged tree: files %q, want a directory", p.Files)
	}
}

func TestDamagedSnapshotOthersChecked(t *testing.T) {
	f := newFixture(t, mem.New())
	rewrite(t, f.be, backend.Handle{Type: backend.SnapshotFile, Name: f.snaps[0].String()}, flipByte(20))
	// Damage only the data the first snapshot alone... a.sql is in both, so
	// damage to it must still be found through the second snapshot.
	rewrite(t, f.be, packHandle(f.dataPacks[0]), remove)
	rep := check(t, f.be, checker.Options{})
	logReport(t, rep)
	if rep.Snapshots != 1 {
		t.Fatalf("%d snapshots read, want 1", rep.Snapshots)
	}
	findProblem(t, rep.Errors, "snapshot", f.snaps[0])
	p := findProblem(t, rep.Errors, "pack", f.dataPacks[0])
	wantFiles(t, p.Files, "/src/srv/db/a.sql")
	if !strings.Contains(p.Message, "snapshot "+f.snaps[1].Short()) {
		t.Fatalf("message %q does not name snapshot %s", p.Message, f.snaps[1].Short())
	}
}

// TestAbortedWriter: a writer that stored a full pack and was then aborted
// leaves a pack no index names. That is harmless (the next backup adopts
// it), so it is a warning and the check passes.
func TestAbortedWriter(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	repo, err := repository.Init(ctx, be, password, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	w := repo.NewWriter(ctx)
	for i := range 5 {
		if _, _, err := w.SaveBlob(ctx, repository.DataBlob, testutil.RandBytes(uint64(100+i), 256<<10)); err != nil {
			t.Fatal(err)
		}
	}
	waitForPacks(t, be, 1)
	w.Abort()
	if n := len(listIDs(t, be, backend.IndexFile)); n != 0 {
		t.Fatalf("aborted writer left %d index files", n)
	}
	for _, readData := range []bool{false, true} {
		rep := check(t, be, checker.Options{ReadData: readData})
		logReport(t, rep)
		if !rep.OK() {
			t.Fatalf("read-data %v: unindexed pack reported as an error", readData)
		}
		if len(rep.Warnings) != 1 || rep.Warnings[0].Kind != "pack" || !strings.Contains(rep.Warnings[0].Message, "next backup will index it") {
			t.Fatalf("read-data %v: warnings %+v, want one about the unindexed pack", readData, rep.Warnings)
		}
	}
}

func waitForPacks(t *testing.T, be backend.Backend, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(listIDs(t, be, backend.PackFile)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no pack uploaded")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// loadRecorder records which packs are read in full.
type loadRecorder struct {
	backend.Backend
	mu    sync.Mutex
	whole map[string]int
}

func (r *loadRecorder) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	data, err := r.Backend.Load(ctx, h, offset, length)
	if err == nil && h.Type == backend.PackFile && offset == 0 {
		if fi, err := r.Backend.Stat(ctx, h); err == nil && fi.Size == int64(len(data)) {
			r.mu.Lock()
			r.whole[h.Name]++
			r.mu.Unlock()
		}
	}
	return data, err
}

func (r *loadRecorder) read() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for n, k := range r.whole {
		if k != 1 {
			panic("pack read in full more than once: " + n)
		}
		names = append(names, n)
	}
	slices.Sort(names)
	clear(r.whole)
	return names
}

func TestReadDataSubset(t *testing.T) {
	ctx := context.Background()
	inner := mem.New()
	repo, err := repository.Init(ctx, inner, password, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	w := repo.NewWriter(ctx)
	for i := range 40 { // 4 blobs per 1 MiB pack: 10 packs
		if _, _, err := w.SaveBlob(ctx, repository.DataBlob, testutil.RandBytes(uint64(1000+i), 256<<10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	n := len(listIDs(t, inner, backend.PackFile))
	if n < 10 {
		t.Fatalf("%d packs, want at least 10", n)
	}
	rec := &loadRecorder{Backend: inner, whole: map[string]int{}}

	run := func(opts checker.Options) (*checker.Report, []string) {
		t.Helper()
		rep := check(t, rec, opts)
		logReport(t, rep)
		if !rep.OK() || len(rep.Warnings) != 0 {
			t.Fatal("clean repository not OK")
		}
		return rep, rec.read()
	}
	tests := []struct {
		name string
		opts checker.Options
		want int
	}{
		{"none", checker.Options{}, 0},
		{"half", checker.Options{ReadDataSubset: 0.5, Seed: 1}, (n + 1) / 2},
		{"tiny", checker.Options{ReadDataSubset: 0.0001, Seed: 1}, 1},
		{"all by subset", checker.Options{ReadDataSubset: 1, Seed: 1}, n},
		{"all", checker.Options{ReadData: true}, n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, read := run(tt.opts)
			if rep.PacksRead != tt.want || len(read) != tt.want {
				t.Fatalf("read %d packs (report says %d), want %d", len(read), rep.PacksRead, tt.want)
			}
		})
	}

	_, a := run(checker.Options{ReadDataSubset: 0.5, Seed: 1})
	_, b := run(checker.Options{ReadDataSubset: 0.5, Seed: 1})
	_, c := run(checker.Options{ReadDataSubset: 0.5, Seed: 2})
	if !slices.Equal(a, b) {
		t.Fatal("the same seed chose different packs")
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds chose the same packs")
	}
	rep, _ := run(checker.Options{ReadDataSubset: 0.5})
	if rep.Seed == 0 {
		t.Fatal("a random subset must report its seed")
	}
}

func TestKeysLocksAndStrays(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mem.New())
	garbage := []byte(`{"kdf":"argon2id","salt":"AAAA"}`)
	if err := f.be.Save(ctx, backend.Handle{Type: backend.KeyFile, Name: crypto.Hash(garbage).String()}, garbage); err != nil {
		t.Fatal(err)
	}
	lockJunk := []byte("not a lock")
	if err := f.be.Save(ctx, backend.Handle{Type: backend.LockFile, Name: crypto.Hash(lockJunk).String()}, lockJunk); err != nil {
		t.Fatal(err)
	}
	if err := f.be.Save(ctx, backend.Handle{Type: backend.IndexFile, Name: "abcd"}, []byte("stray")); err != nil {
		t.Fatal(err)
	}
	// A live lock (a backup running) is nothing to report.
	repo, err := repository.Open(ctx, f.be, password, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := repo.Lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock(ctx)

	rep := check(t, f.be, checker.Options{})
	logReport(t, rep)
	if len(rep.Errors) != 1 || rep.Errors[0].Kind != "key" || rep.Errors[0].Object != crypto.Hash(garbage).String() {
		t.Fatalf("errors %+v, want one about the damaged key", rep.Errors)
	}
	kinds := map[string]bool{}
	for _, w := range rep.Warnings {
		kinds[w.Kind+":"+w.Object] = true
	}
	if len(rep.Warnings) != 2 || !kinds["lock:"+crypto.Hash(lockJunk).String()] || !kinds["index:abcd"] {
		t.Fatalf("warnings %+v, want the unreadable lock and the stray index file", rep.Warnings)
	}
	// Check never removes anything, not even junk.
	if n := len(listIDs(t, f.be, backend.LockFile)); n != 2 {
		t.Fatalf("%d lock files after check, want 2", n)
	}
}

func TestCannotRun(t *testing.T) {
	ctx := context.Background()
	fb := faulty.Wrap(mem.New())
	f := newFixture(t, fb)
	repo, err := repository.Open(ctx, f.be, password, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := checker.Check(cctx, repo, checker.Options{ReadData: true}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v", err)
	}
	fb.Hang(true)
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := checker.Check(tctx, repo, checker.Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging storage: got %v", err)
	}
	fb.Reset()
	if _, err := checker.Check(ctx, repo, checker.Options{ReadDataSubset: 1.5}); err == nil {
		t.Fatal("subset 1.5 accepted")
	}
}

// TestHostileStorage: storage that returns garbage must give errors, not
// panics or hangs.
func TestHostileStorage(t *testing.T) {
	for _, tt := range []struct {
		name string
		harm func(*faulty.Faulty)
	}{
		{"corrupt loads", func(f *faulty.Faulty) { f.CorruptLoads(true) }},
		{"truncated loads", func(f *faulty.Faulty) { f.TruncateLoads(true) }},
		{"failing loads", func(f *faulty.Faulty) { f.Seed(7); f.FailLoads(0.3) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			fb := faulty.Wrap(mem.New())
			f := newFixture(t, fb)
			repo, err := repository.Open(ctx, f.be, password, testOpts)
			if err != nil {
				t.Fatal(err)
			}
			tt.harm(fb)
			rep, err := checker.Check(ctx, repo, checker.Options{ReadData: true})
			if err != nil {
				t.Fatal(err)
			}
			logReport(t, rep)
			if rep.OK() {
				t.Fatal("garbage from storage passed the check")
			}
		})
	}
}

// readOnly fails the test on any write: check must never modify the
// repository.
type readOnly struct {
	backend.Backend
	t *testing.T
}

func (r readOnly) Save(_ context.Context, h backend.Handle, _ []byte) error {
	r.t.Errorf("check saved %v", h)
	return errors.New("read-only")
}

func (r readOnly) Remove(_ context.Context, h backend.Handle) error {
	r.t.Errorf("check removed %v", h)
	return errors.New("read-only")
}

// progress counts what check reports.
type progress struct {
	mu          sync.Mutex
	ops         []string
	total, done int64
	bytes       int64
}

func (p *progress) Start(op string, total ui.Counts) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ops = append(p.ops, op)
	p.total = total.Files
}

func (p *progress) Add(c ui.Counts) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += c.Files
	p.bytes += c.Bytes
}
func (p *progress) Item(string)        {}
func (p *progress) Warn(string, error) {}
func (p *progress) Finish()            {}

func TestReadOnlyAndProgress(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mem.New())
	rewrite(t, f.be, packHandle(f.dataPacks[0]), flipByte(10))
	rewrite(t, f.be, packHandle(f.treePacks[1]), truncate)
	rewrite(t, f.be, backend.Handle{Type: backend.IndexFile, Name: f.index[0].String()}, remove)
	be := readOnly{Backend: f.be, t: t}
	repo, err := repository.Open(ctx, be, password, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	prog := &progress{}
	rep, err := checker.Check(ctx, repo, checker.Options{ReadData: true, Progress: prog})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	if rep.OK() {
		t.Fatal("damaged repository passed")
	}
	if len(prog.ops) == 0 || prog.ops[0] != "check" || prog.total != 4 || prog.done != 4 || prog.bytes == 0 {
		t.Fatalf("progress: ops %q, %d of %d packs, %d bytes", prog.ops, prog.done, prog.total, prog.bytes)
	}
}

// TestDuplicates: two backups that ran at the same time each stored the
// same blob. Harmless: a warning.
func TestDuplicates(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	if _, err := repository.Init(ctx, be, password, testOpts); err != nil {
		t.Fatal(err)
	}
	data := testutil.RandBytes(9, 100<<10)
	for i := range 2 {
		// A separate session that has not seen the other's index.
		repo, err := repository.Open(ctx, be, password, testOpts)
		if err != nil {
			t.Fatal(err)
		}
		w := repo.NewWriter(ctx)
		if _, _, err := w.SaveBlob(ctx, repository.DataBlob, data); err != nil {
			t.Fatal(err)
		}
		if _, _, err := w.SaveBlob(ctx, repository.DataBlob, testutil.RandBytes(uint64(10+i), 1000)); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rep := check(t, be, checker.Options{ReadData: true})
	logReport(t, rep)
	if !rep.OK() || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0].Message, "1 blob is stored in more than one pack") {
		t.Fatalf("want OK with one warning about the duplicate, got %+v", rep)
	}
}

// TestManyFilesAffected: the file list is capped, with a note of how many
// more there are.
func TestManyFilesAffected(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	repo, err := repository.Init(ctx, be, password, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	for i := range 30 {
		// Nested a few levels, to exercise the walk.
		dir := filepath.Join(src, "d"+string(rune('a'+i%3)), "e"+string(rune('a'+i%5)))
		testutil.WriteFile(t, filepath.Join(dir, "f"+string(rune('A'+i))+".txt"), testutil.RandBytes(uint64(200+i), 1000+i))
	}
	if _, err := archiver.Backup(ctx, repo, []string{src}, archiver.Options{}); err != nil {
		t.Fatal(err)
	}
	var data crypto.ID
	for id, typ := range packTypes(t, repo, be) {
		if typ == repository.DataBlob {
			data = id
		}
	}
	rewrite(t, be, packHandle(data), remove)
	rep := check(t, be, checker.Options{})
	logReport(t, rep)
	p := findProblem(t, rep.Errors, "pack", data)
	if len(p.Files) != 21 || p.Files[20] != "(+10 more)" || !strings.Contains(p.Message, "30 files affected") || !strings.Contains(p.Message, "and 27 more") {
		t.Fatalf("files %q, message %q", p.Files, p.Message)
	}
	if rep.Trees != 1+len(strings.Split(strings.Trim(filepath.ToSlash(src), "/"), "/"))+3+15 {
		t.Fatalf("%d trees", rep.Trees)
	}
}
