package reposerver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/location"
	"github.com/lumbung-id/lumbung/internal/backend/rest"
	"github.com/lumbung-id/lumbung/internal/checker"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/reposerver"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
)

var (
	pullPassword = []byte("kata-sandi-siak-kabupaten")
	// Small packs, so that a few MiB make several packs to interrupt
	// between and to tamper with.
	pullRepoOpts = repository.Options{
		KDF:      crypto.TestKDF,
		PackSize: 1 << 20,
		Chunker:  repository.ChunkerParams{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10},
	}
)

// kabSite is a kabupaten server holding repository "siak", backed up to
// by its host with an append token.
type kabSite struct {
	srv   *testServer
	loc   string // rest location of siak, without a token
	be    backend.Backend
	repo  *repository.Repository
	dir   string
	snaps []crypto.ID
	files map[crypto.ID]map[string][]byte
}

func newKab(t *testing.T) *kabSite {
	t.Helper()
	k := &kabSite{srv: newTestServer(t, reposerver.Options{}), dir: filepath.Join(t.TempDir(), "siak"), files: map[crypto.ID]map[string][]byte{}}
	k.loc = "rest:" + k.srv.ts.URL + "/siak?fingerprint=" + k.srv.fp
	agent := k.srv.token("agent-siak", reposerver.ScopeAppend, "siak", 0)
	be, err := location.CreateWith(t.Context(), k.loc, location.Credentials{Token: agent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	k.be = be
	if k.repo, err = repository.Init(t.Context(), be, pullPassword, pullRepoOpts); err != nil {
		t.Fatal(err)
	}
	return k
}

// backup makes the directory hold files and backs it up.
func (k *kabSite) backup(t *testing.T, files map[string][]byte) crypto.ID {
	t.Helper()
	if err := os.RemoveAll(k.dir); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		p := filepath.Join(k.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts := archiver.Options{Dataset: "siak", Hostname: "srv-siak", Time: time.Date(2026, 11, 1+len(k.snaps), 1, 0, 0, 0, time.UTC)}
	res, err := archiver.Backup(t.Context(), k.repo, []string{k.dir}, opts)
	if err != nil {
		t.Fatal(err)
	}
	k.files[res.ID] = files
	k.snaps = append(k.snaps, res.ID)
	return res.ID
}

// objects returns the names of every key, pack, index file and snapshot
// at the kabupaten, as "type/name".
func (k *kabSite) objects(t *testing.T) map[string]bool {
	t.Helper()
	return listObjects(t, k.be)
}

func listObjects(t *testing.T, be backend.Backend) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, ft := range []backend.FileType{backend.KeyFile, backend.PackFile, backend.IndexFile, backend.SnapshotFile} {
		err := be.List(t.Context(), ft, func(fi backend.FileInfo) error {
			out[backend.Handle{Type: ft, Name: fi.Name}.String()] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// digest hashes every file under dir, so a test can tell that nothing
// changed there.
func digest(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameDigest(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func randData(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 42})
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

// province is the upper server, with one pull job "kab-siak" from k.
type province struct {
	srv *testServer
	loc string
}

// newProvince starts the province server. With scheduled, the job runs
// every hour from the start; otherwise only when asked (PullNow). open,
// when set, replaces how the source is opened.
func newProvince(t *testing.T, k *kabSite, scheduled bool, open func(context.Context, location.Credentials) (backend.Backend, error)) *province {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "kab.token")
	if err := os.WriteFile(tokenFile, []byte(k.srv.token(fmt.Sprintf("prov-pull-%d", rand.Int()), reposerver.ScopeRead, "siak", 0)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := reposerver.PullSpec{Name: "kab-siak", From: k.loc, TokenFile: tokenFile, To: "siak", Open: open}
	if scheduled {
		spec.Every = time.Hour
	}
	ts := newTestServerWith(t, reposerver.Options{}, func(s *reposerver.Server) {
		if err := s.AddPull(spec); err != nil {
			t.Fatal(err)
		}
	})
	return &province{srv: ts, loc: "rest:" + ts.ts.URL + "/siak?fingerprint=" + ts.fp}
}

func (p *province) pull(t *testing.T, ctx context.Context) reposerver.PullStatus {
	t.Helper()
	st, err := p.srv.srv.PullNow(ctx, "kab-siak")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// open opens the pulled repository as its owner would, through the
// province server with a read token there and the kabupaten's password.
func (p *province) open(t *testing.T) (backend.Backend, *repository.Repository) {
	t.Helper()
	be, err := location.OpenWith(t.Context(), p.loc, location.Credentials{Token: p.srv.token(fmt.Sprintf("owner-%d", rand.Int()), reposerver.ScopeRead, "siak", 0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	repo, err := repository.Open(t.Context(), be, pullPassword, pullRepoOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.LoadIndex(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	return be, repo
}

// verify runs check --read-data on the province's copy, restores each of
// want and compares it with what the kabupaten backed up, and checks that
// the province holds exactly the snapshots want.
func (p *province) verify(t *testing.T, k *kabSite, want ...crypto.ID) {
	t.Helper()
	be, repo := p.open(t)
	rep, err := checker.Check(t.Context(), repo, checker.Options{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rep.Errors {
		t.Errorf("check at the province: %s %s: %s", e.Kind, e.Object, e.Message)
	}
	have := map[string]bool{}
	for o := range listObjects(t, be) {
		if name, ok := strings.CutPrefix(o, backend.SnapshotFile.String()+"/"); ok {
			have[name] = true
		}
	}
	if len(have) != len(want) {
		t.Errorf("the province has %d snapshots, want %d", len(have), len(want))
	}
	for _, id := range want {
		if !have[id.String()] {
			t.Errorf("snapshot %s is not at the province", id.Short())
			continue
		}
		sn, err := repo.LoadSnapshot(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		target := t.TempDir()
		if _, err := restorer.Restore(t.Context(), repo, sn.Tree, restorer.Options{Target: target}); err != nil {
			t.Fatalf("restore %s at the province: %v", id.Short(), err)
		}
		for name, data := range k.files[id] {
			got, err := os.ReadFile(filepath.Join(target, k.dir, name))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("restored %s of %s at the province differs from the original (%v)", name, id.Short(), err)
			}
		}
	}
}

// snapshotsAt returns the snapshot names stored in the province's data
// directory, read from disk.
func (p *province) snapshotsAt(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(p.srv.data, "repos", "siak", backend.SnapshotFile.Dir()))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestPullMirrorsThroughServers: the province pulls from the kabupaten
// with only a read token; the copy checks, restores byte-identical and is
// the same repository (same password). The next pull copies exactly the
// new objects. The source is unchanged and saw no refused request.
func TestPullMirrorsThroughServers(t *testing.T) {
	k := newKab(t)
	snap1 := k.backup(t, map[string][]byte{"a.bin": randData(1, 2<<20), "sub/b.txt": []byte("data kependudukan\n")})
	prov := newProvince(t, k, false, nil)

	before := digest(t, filepath.Join(k.srv.data, "repos"))
	st := prov.pull(t, t.Context())
	if st.Result != reposerver.PullOK || st.SnapshotsCopied != 1 || st.Error != "" {
		t.Fatalf("first pull: %+v", st)
	}
	// Everything: keys, packs, index files, the snapshot, and the config.
	if want := int64(len(k.objects(t)) + 1); st.Objects != want {
		t.Errorf("first pull stored %d objects, want %d", st.Objects, want)
	}
	prov.verify(t, k, snap1)
	if after := digest(t, filepath.Join(k.srv.data, "repos")); !sameDigest(before, after) {
		t.Error("the first pull changed files at the source")
	}

	old := k.objects(t)
	snap2 := k.backup(t, map[string][]byte{"a.bin": randData(1, 2<<20), "sub/b.txt": []byte("data kependudukan\n"), "c.bin": randData(2, 1<<20)})
	newObjects := 0
	for o := range k.objects(t) {
		if !old[o] {
			newObjects++
		}
	}
	before = digest(t, filepath.Join(k.srv.data, "repos"))
	st = prov.pull(t, t.Context())
	if st.Result != reposerver.PullOK || st.SnapshotsCopied != 1 || st.SnapshotsPresent != 1 {
		t.Fatalf("second pull: %+v", st)
	}
	if newObjects < 3 || st.Objects != int64(newObjects) {
		t.Errorf("second pull stored %d objects, want the %d new ones", st.Objects, newObjects)
	}
	prov.verify(t, k, snap1, snap2)

	// A third pull has nothing to do.
	if st = prov.pull(t, t.Context()); st.Result != reposerver.PullOK || st.Objects != 0 {
		t.Errorf("third pull: %+v", st)
	}
	if after := digest(t, filepath.Join(k.srv.data, "repos")); !sameDigest(before, after) {
		t.Error("the pull changed files at the source")
	}
	if a := k.srv.audit.String(); a != "" {
		t.Errorf("the source's audit log has refusals:\n%s", a)
	}

	// The status is kept in the state file too.
	list, err := reposerver.ReadPullStatus(prov.srv.data)
	if err != nil || len(list) != 1 || list[0].Name != "kab-siak" || list[0].Result != reposerver.PullOK || list[0].LastOK.IsZero() {
		t.Errorf("pull-state.json: %+v, %v", list, err)
	}
	if list[0].From != k.loc || strings.Contains(fmt.Sprint(list), reposerver.TokenPrefix) {
		t.Errorf("the state shows %q as the source (and must never show a token): %+v", list[0].From, list)
	}
}

// cancelAfter cancels a pull after n pack loads, as a server shutdown or
// a dropped link in the middle of a copy would.
type cancelAfter struct {
	backend.Backend
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Load(ctx context.Context, h backend.Handle, off, n int64) ([]byte, error) {
	if h.Type == backend.PackFile && c.n.Add(-1) < 0 {
		c.cancel()
		return nil, context.Canceled
	}
	return c.Backend.Load(ctx, h, off, n)
}

// failingTransport fails every request for a pack after the first ok.
type failingTransport struct {
	rt http.RoundTripper
	ok atomic.Int64
}

func (f *failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/data/") && r.Method == http.MethodGet && f.ok.Add(-1) < 0 {
		return nil, errors.New("connection reset by the regional link")
	}
	return f.rt.RoundTrip(r)
}

// TestPullInterrupted: a pull cut short (cancelled, or a link that fails
// under it) leaves no snapshot at the province, keeps what was stored, and
// the next run completes.
func TestPullInterrupted(t *testing.T) {
	for _, tc := range []string{"cancel", "faulty-transport"} {
		t.Run(tc, func(t *testing.T) {
			k := newKab(t)
			snap := k.backup(t, map[string][]byte{"a.bin": randData(3, 4<<20)})
			var fault atomic.Bool
			fault.Store(true)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			open := func(ctx context.Context, cred location.Credentials) (backend.Backend, error) {
				opts, err := rest.ParseLocation(strings.TrimPrefix(k.loc, "rest:"))
				if err != nil {
					return nil, err
				}
				opts.Token = cred.Token
				if !fault.Load() {
					return rest.Open(ctx, opts)
				}
				if tc == "cancel" {
					be, err := rest.Open(ctx, opts)
					if err != nil {
						return nil, err
					}
					c := &cancelAfter{Backend: be, cancel: cancel}
					c.n.Store(2)
					return c, nil
				}
				opts.Retries, opts.RetryBase, opts.RetryMax = 1, time.Millisecond, time.Millisecond
				opts.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
					f := &failingTransport{rt: rt}
					f.ok.Store(2)
					return f
				}
				return rest.Open(ctx, opts)
			}
			prov := newProvince(t, k, false, open)
			packs := 0
			for o := range k.objects(t) {
				if strings.HasPrefix(o, backend.PackFile.String()+"/") {
					packs++
				}
			}
			if packs < 4 {
				t.Fatalf("only %d packs: the test needs more to interrupt between", packs)
			}

			st := prov.pull(t, ctx)
			if st.Result == reposerver.PullOK || st.Error == "" || st.SnapshotsCopied != 0 {
				t.Fatalf("interrupted pull: %+v", st)
			}
			if s := prov.snapshotsAt(t); len(s) != 0 {
				t.Fatalf("the province has snapshots %v after an interrupted pull", s)
			}
			first := st.Objects

			fault.Store(false)
			st = prov.pull(t, t.Context())
			if st.Result != reposerver.PullOK || st.SnapshotsCopied != 1 {
				t.Fatalf("pull after the interruption: %+v", st)
			}
			if first == 0 || st.Objects+first != int64(len(k.objects(t))+1) {
				t.Errorf("the pulls stored %d + %d objects, want %d in all (the second reusing the first's)", first, st.Objects, len(k.objects(t))+1)
			}
			prov.verify(t, k, snap)
		})
	}
}

// TestPullRefusesTamperedObject: a pack changed on the kabupaten's disk
// fails its check on arrival; it is not stored, the run reports it, and the
// snapshot that needs it is not copied, while the earlier one stays sound.
func TestPullRefusesTamperedObject(t *testing.T) {
	k := newKab(t)
	snap1 := k.backup(t, map[string][]byte{"a.bin": randData(4, 1<<20)})
	prov := newProvince(t, k, false, nil)
	if st := prov.pull(t, t.Context()); st.Result != reposerver.PullOK {
		t.Fatalf("first pull: %+v", st)
	}

	old := k.objects(t)
	snap2 := k.backup(t, map[string][]byte{"a.bin": randData(4, 1<<20), "b.bin": randData(5, 2<<20)})
	var victim string
	for o := range k.objects(t) {
		if name, ok := strings.CutPrefix(o, backend.PackFile.String()+"/"); ok && !old[o] {
			victim = name
			break
		}
	}
	if victim == "" {
		t.Fatal("the second backup wrote no pack")
	}
	path := filepath.Join(k.srv.data, "repos", "siak", backend.PackFile.Dir(), victim[:2], victim)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	st := prov.pull(t, t.Context())
	if st.Result != reposerver.PullIncomplete || st.RefusedCount != 1 || len(st.Refused) != 1 || !strings.Contains(st.Refused[0].Object, victim) {
		t.Fatalf("pull of a tampered pack: %+v", st)
	}
	if st.SnapshotsCopied != 0 || st.SnapshotsNotCopied != 1 || !strings.Contains(st.Error, "refused") {
		t.Errorf("pull of a tampered pack: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(prov.srv.data, "repos", "siak", backend.PackFile.Dir(), victim[:2], victim)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the tampered pack was stored at the province (%v)", err)
	}
	for _, s := range prov.snapshotsAt(t) {
		if s == snap2.String() {
			t.Fatal("the snapshot needing the tampered pack was copied")
		}
	}
	prov.verify(t, k, snap1)
	if a := k.srv.audit.String(); a != "" {
		t.Errorf("the source's audit log has refusals:\n%s", a)
	}
}

// TestPullScheduledAndAdmin: a job added before the server runs pulls on
// its own; an admin sees its status at GET /v1/admin/pull and can run it
// now; a read token may not.
func TestPullScheduledAndAdmin(t *testing.T) {
	k := newKab(t)
	snap1 := k.backup(t, map[string][]byte{"a.txt": []byte("satu")})
	prov := newProvince(t, k, true, nil)
	admin := prov.srv.token("root", reposerver.ScopeAdmin, reposerver.AllRepos, 0)
	reader := prov.srv.token("viewer", reposerver.ScopeRead, reposerver.AllRepos, 0)

	status := func() reposerver.PullStatus {
		t.Helper()
		r := prov.srv.must(prov.srv.do("GET", "/v1/admin/pull", admin, nil), http.StatusOK, "pull status")
		var list []reposerver.PullStatus
		if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list) != 1 {
			t.Fatalf("pull status: %q (%v)", r.body, err)
		}
		return list[0]
	}
	waitFor := func(what string, ok func(reposerver.PullStatus) bool) reposerver.PullStatus {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			st := status()
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within a minute: %+v", what, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	st := waitFor("first scheduled run", func(st reposerver.PullStatus) bool { return st.Result != "" && !st.Running })
	if st.Result != reposerver.PullOK || st.SnapshotsCopied != 1 || st.NextRun.Sub(st.LastStart) != time.Hour {
		t.Fatalf("first scheduled run: %+v", st)
	}
	prov.verify(t, k, snap1)

	snap2 := k.backup(t, map[string][]byte{"a.txt": []byte("dua")})
	prov.srv.must(prov.srv.do("POST", "/v1/admin/pull/kab-siak", admin, nil), http.StatusAccepted, "run now")
	waitFor("run on request", func(s reposerver.PullStatus) bool { return s.LastStart.After(st.LastStart) && !s.Running })
	prov.verify(t, k, snap1, snap2)

	prov.srv.must(prov.srv.do("GET", "/v1/admin/pull/kab-siak", admin, nil), http.StatusOK, "one job")
	prov.srv.must(prov.srv.do("GET", "/v1/admin/pull/nope", admin, nil), http.StatusNotFound, "no job")
	prov.srv.must(prov.srv.do("POST", "/v1/admin/pull/nope", admin, nil), http.StatusNotFound, "no job")
	prov.srv.must(prov.srv.do("GET", "/v1/admin/pull", reader, nil), http.StatusForbidden, "status with a read token")
	prov.srv.must(prov.srv.do("POST", "/v1/admin/pull/kab-siak", reader, nil), http.StatusForbidden, "run with a read token")
	if !prov.srv.auditHas("viewer", "/v1/admin/pull") {
		t.Error("the refused status request is not in the audit log")
	}
}

// TestPullNeverOverlaps: while a run is going, another is refused.
func TestPullNeverOverlaps(t *testing.T) {
	k := newKab(t)
	k.backup(t, map[string][]byte{"a.txt": []byte("satu")})
	entered, release := make(chan struct{}), make(chan struct{})
	prov := newProvince(t, k, false, func(ctx context.Context, cred location.Credentials) (backend.Backend, error) {
		close(entered)
		<-release
		return location.OpenWith(ctx, k.loc, cred)
	})
	done := make(chan reposerver.PullStatus)
	go func() {
		st, _ := prov.srv.srv.PullNow(t.Context(), "kab-siak")
		done <- st
	}()
	<-entered
	if _, err := prov.srv.srv.PullNow(t.Context(), "kab-siak"); !errors.Is(err, reposerver.ErrPullBusy) {
		t.Errorf("a second run while one is going: %v, want ErrPullBusy", err)
	}
	if st := prov.srv.srv.PullStatus(); len(st) != 1 || !st[0].Running {
		t.Errorf("status while running: %+v", st)
	}
	close(release)
	if st := <-done; st.Result != reposerver.PullOK {
		t.Errorf("the run: %+v", st)
	}
	if _, err := prov.srv.srv.PullNow(t.Context(), "nope"); !errors.Is(err, reposerver.ErrNoPullJob) {
		t.Errorf("unknown job: %v", err)
	}
}

func TestParsePullSpec(t *testing.T) {
	from := "rest:https://kab.example:8443/siak?fingerprint=sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in, err string
		check   func(reposerver.PullSpec) bool
	}{
		{in: "name=kab-bogor,from=" + from + ",token-file=/etc/lumbung/kab.token,to=siak,every=2h,window=19:00-06:00,bandwidth=20Mbit",
			check: func(p reposerver.PullSpec) bool {
				return p.Name == "kab-bogor" && p.From == from && p.TokenFile == "/etc/lumbung/kab.token" && p.To == "siak" &&
					p.Every == 2*time.Hour && p.Window != nil && p.Window.String() == "19:00-06:00" && p.BytesPerSecond == 2_500_000
			}},
		{in: "from=" + from + ",token-file=t,to=siak",
			check: func(p reposerver.PullSpec) bool {
				return p.Name == "siak" && p.Every == time.Hour && p.Window == nil && p.BytesPerSecond == 0
			}},
		{in: "from=/srv/kab/siak,to=siak", check: func(p reposerver.PullSpec) bool { return p.TokenFile == "" }},
		{in: "from=" + from + ",to=siak", err: "token-file"},
		{in: "from=" + from + ",token-file=t", err: "to= are required"},
		{in: "to=siak", err: "from= and to="},
		{in: "from=" + from + ",token-file=t,to=Siak", err: "invalid repository name"},
		{in: "from=" + from + ",token-file=t,to=siak,every=10s", err: "too often"},
		{in: "from=" + from + ",token-file=t,to=siak,every=often", err: "duration"},
		{in: "from=" + from + ",token-file=t,to=siak,window=7-9", err: "HH:MM"},
		{in: "from=" + from + ",token-file=t,to=siak,bandwidth=fast", err: "bandwidth"},
		{in: "from=" + from + ",token-file=t,to=siak,colour=red", err: "unknown key"},
		{in: "from=" + from + ",token-file=t,to=siak,to=dukcapil", err: "twice"},
		{in: "from=" + from + ",token-file=t,to=siak,name=a/b", err: "invalid job name"},
		{in: "from=" + from + ",token-file=t,to=siak,justaword", err: "key=value"},
	} {
		p, err := reposerver.ParsePullSpec(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParsePullSpec(%q): %v, want an error with %q", tc.in, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("ParsePullSpec(%q): %v", tc.in, err)
		case tc.err == "" && !tc.check(p):
			t.Errorf("ParsePullSpec(%q) = %+v", tc.in, p)
		}
	}
}

func TestReadPullFile(t *testing.T) {
	from := "rest:https://kab.example:8443/siak?fingerprint=sha256:" + strings.Repeat("ab", 32)
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "pull.txt")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	specs, err := reposerver.ReadPullFile(write("# pull jobs of the province\n\n" +
		"name=kab-bogor,from=" + from + ",token-file=/etc/lumbung/bogor.token,to=bogor-siak\n" +
		"   # Kota Bandung, at night only\r\n" +
		"name=kota-bandung,from=" + from + ",token-file=/etc/lumbung/bandung.token,to=bandung-siak,window=19:00-06:00\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[0].Name != "kab-bogor" || specs[1].To != "bandung-siak" || specs[1].Window == nil {
		t.Errorf("specs %+v", specs)
	}
	_, err = reposerver.ReadPullFile(write("from=" + from + ",token-file=t,to=siak\nfrom=" + from + ",to=dukcapil\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "token-file") {
		t.Errorf("bad second line: %v", err)
	}
	if _, err := reposerver.ReadPullFile(filepath.Join(dir, "tidak-ada")); err == nil {
		t.Error("a missing pull file was accepted")
	}
	if specs, err := reposerver.ReadPullFile(write("# nothing yet\n")); err != nil || len(specs) != 0 {
		t.Errorf("a file of comments: %v %v", specs, err)
	}
}

func TestAddPullRefusesClashes(t *testing.T) {
	s := newTestServer(t, reposerver.Options{})
	spec := reposerver.PullSpec{Name: "a", From: "/srv/x", To: "siak"}
	if err := s.srv.AddPull(spec); err != nil {
		t.Fatal(err)
	}
	spec.To = "dukcapil"
	if err := s.srv.AddPull(spec); err == nil || !strings.Contains(err.Error(), "named a") {
		t.Errorf("same name: %v", err)
	}
	spec.Name, spec.To = "b", "siak"
	if err := s.srv.AddPull(spec); err == nil || !strings.Contains(err.Error(), "both fill") {
		t.Errorf("same target: %v", err)
	}
}

// TestPullIntoAnotherRepository: a target that holds a different
// repository is left alone, with a message saying what to do.
func TestPullIntoAnotherRepository(t *testing.T) {
	k := newKab(t)
	k.backup(t, map[string][]byte{"a.txt": []byte("satu")})
	prov := newProvince(t, k, false, nil)
	be, err := location.CreateWith(t.Context(), prov.loc, location.Credentials{Token: prov.srv.token("local-agent", reposerver.ScopeAppend, "siak", 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if _, err := repository.Init(t.Context(), be, []byte("another password"), pullRepoOpts); err != nil {
		t.Fatal(err)
	}
	st := prov.pull(t, t.Context())
	if st.Result != reposerver.PullFailed || !strings.Contains(st.Error, "not a copy") || !strings.Contains(st.Error, "another to=") || st.Objects != 0 {
		t.Errorf("pull into another repository: %+v", st)
	}
	if s := prov.snapshotsAt(t); len(s) != 0 {
		t.Errorf("snapshots %v were added to another repository", s)
	}
}
