package reposerver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
)

// uploadRig is a server with one append token and repository "r", for
// tests that look at sessions from inside.
type uploadRig struct {
	t      *testing.T
	s      *Server
	ts     *httptest.Server
	secret string
	data   string
}

func newUploadRig(t *testing.T, store Store) *uploadRig {
	t.Helper()
	data := t.TempDir()
	s, err := New(Options{DataDir: data, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	secret, _, err := s.tokens.Create(TokenSpec{Name: "opd", Scope: ScopeAppend, Repo: "r"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := &uploadRig{t: t, s: s, ts: ts, secret: secret, data: data}
	r.must(r.do("POST", "/v1/repos/r", nil))(http.StatusCreated, "create repository")
	r.must(r.do("PUT", "/v1/repos/r/config", strings.NewReader("config"), "Content-Length", "6"))(http.StatusCreated, "config")
	return r
}

func (r *uploadRig) do(method, path string, body io.Reader, hdr ...string) (int, string, error) {
	req, err := http.NewRequestWithContext(r.t.Context(), method, r.ts.URL+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.secret)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Content-Length" {
			req.ContentLength, _ = strconv.ParseInt(hdr[i+1], 10, 64)
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := r.ts.Client().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func (r *uploadRig) must(code int, body string, err error) func(want int, what string) string {
	return func(want int, what string) string {
		r.t.Helper()
		if err != nil || code != want {
			r.t.Fatalf("%s: status %d (%v), want %d: %s", what, code, err, want, body)
		}
		return body
	}
}

// session opens an upload session and returns it.
func (r *uploadRig) session() *session {
	r.t.Helper()
	body := r.must(r.do("POST", "/v1/repos/r/uploads", nil))(http.StatusCreated, "open session")
	var info sessionInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		r.t.Fatal(err)
	}
	ss, ok := r.s.uploads.sessions[info.ID]
	if !ok {
		r.t.Fatalf("session %s not found", info.ID)
	}
	return ss
}

func (r *uploadRig) patch(ss *session, off int64, chunk []byte) {
	r.t.Helper()
	r.must(r.do("PATCH", "/v1/repos/r/uploads/"+ss.id, bytes.NewReader(chunk), OffsetHeader, strconv.FormatInt(off, 10)))(http.StatusOK, fmt.Sprintf("chunk at %d", off))
}

func (r *uploadRig) finish(ss *session, name string) (int, string) {
	r.t.Helper()
	code, body, err := r.do("POST", "/v1/repos/r/uploads/"+ss.id+"/finish", strings.NewReader(`{"type":"data","name":"`+name+`"}`))
	if err != nil {
		r.t.Fatal(err)
	}
	return code, body
}

func (r *uploadRig) get(name string) (int, []byte) {
	r.t.Helper()
	code, body, err := r.do("GET", "/v1/repos/r/data/"+name, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	return code, []byte(body)
}

func pattern(n int) (name string, data []byte) {
	data = make([]byte, n)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	sum := blake3.Sum256(data)
	return fmt.Sprintf("%x", sum[:]), data
}

// cutReader gives its first n bytes, then waits for release and fails,
// as a connection that drops in the middle of a chunk.
type cutReader struct {
	data    []byte
	n       int
	release chan struct{}
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n == 0 {
		<-c.release
		return 0, errors.New("connection dropped")
	}
	k := copy(p, c.data[:c.n])
	c.data, c.n = c.data[k:], c.n-k
	return k, nil
}

// TestUploadResumedAfterCut: a chunk cut short by a dropped connection
// keeps the bytes that arrived; the client resumes at the server's offset,
// and finish checks the name against the bytes of both attempts, from the
// running hash (the file is not read back) or, with the hash state lost,
// from the file. A wrong name is still refused in both cases.
func TestUploadResumedAfterCut(t *testing.T) {
	for _, tc := range []struct {
		name      string
		loseState bool
		wrongName bool
	}{
		{name: "running hash"},
		{name: "state lost", loseState: true},
		{name: "running hash, wrong name", wrongName: true},
		{name: "state lost, wrong name", loseState: true, wrongName: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newUploadRig(t, nil)
			name, data := pattern(3<<20 + 12345)
			ss := r.session()
			r.patch(ss, 0, data[:1<<20])

			// The second chunk is cut after 700000 bytes.
			const got = 700000
			cut := &cutReader{data: data[1<<20 : 2<<20], n: got, release: make(chan struct{})}
			errc := make(chan error, 1)
			go func() {
				_, _, err := r.do("PATCH", "/v1/repos/r/uploads/"+ss.id, cut, OffsetHeader, strconv.Itoa(1<<20), "Content-Length", strconv.Itoa(1<<20))
				errc <- err
			}()
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				if fi, err := os.Stat(ss.path); err == nil && fi.Size() == 1<<20+got {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the server never wrote the first part of the cut chunk")
				}
			}
			close(cut.release)
			if err := <-errc; err == nil {
				t.Fatal("the cut chunk was accepted")
			}
			r.must(r.do("HEAD", "/v1/repos/r/uploads/"+ss.id, nil))(http.StatusOK, "offset")
			ss.mu.Lock()
			off := ss.size
			if ss.hash == nil || ss.hashed != off {
				t.Errorf("after the cut the running hash covers %d of %d bytes (nil: %v)", ss.hashed, off, ss.hash == nil)
			}
			if tc.loseState {
				ss.hash, ss.hashed = nil, 0
			}
			ss.mu.Unlock()
			if off != 1<<20+got {
				t.Fatalf("offset after the cut: %d, want %d", off, 1<<20+got)
			}
			r.patch(ss, off, data[off:])

			want := name
			if tc.wrongName {
				want, _ = pattern(len(data) - 1)
			}
			code, msg := r.finish(ss, want)
			if tc.wrongName {
				if code != http.StatusUnprocessableEntity {
					t.Fatalf("finish under a wrong name: %d, want 422: %s", code, msg)
				}
				if code, _ := r.get(want); code != http.StatusNotFound {
					t.Errorf("refused object is readable: %d", code)
				}
				return
			}
			if code != http.StatusCreated {
				t.Fatalf("finish: %d, want 201: %s", code, msg)
			}
			if code, stored := r.get(name); code != http.StatusOK || !bytes.Equal(stored, data) {
				t.Fatalf("stored object: %d, %d bytes, equal %v", code, len(stored), bytes.Equal(stored, data))
			}
		})
	}
}

// TestUploadTamperedChunk: a chunk with wrong bytes at some offset (here
// one flipped byte in the middle chunk) is refused at finish, audited, and
// nothing is stored.
func TestUploadTamperedChunk(t *testing.T) {
	for _, at := range []int{0, 1<<20 + 4321, 3<<20 - 1} {
		t.Run(strconv.Itoa(at), func(t *testing.T) {
			r := newUploadRig(t, nil)
			name, data := pattern(3 << 20)
			tampered := bytes.Clone(data)
			tampered[at] ^= 0x40
			ss := r.session()
			for off := 0; off < len(tampered); off += 1 << 20 {
				r.patch(ss, int64(off), tampered[off:off+1<<20])
			}
			code, msg := r.finish(ss, name)
			if code != http.StatusUnprocessableEntity || !strings.Contains(msg, "BLAKE3") {
				t.Fatalf("finish of a tampered upload: %d, want 422: %s", code, msg)
			}
			if code, _ := r.get(name); code != http.StatusNotFound {
				t.Errorf("tampered object is readable: %d", code)
			}
			audit, err := os.ReadFile(filepath.Join(r.data, "server", "audit.log"))
			if err != nil || !strings.Contains(string(audit), "BLAKE3") {
				t.Errorf("the refusal is not audited (%v): %q", err, audit)
			}
		})
	}
}

// TestUploadStoredByLink: with the local store a finished session's file
// becomes the object itself (no copy is left in the upload directory), at
// the place the local backend reads it from, private, and a second session
// with the same bytes is a retry (200) that changes nothing.
func TestUploadStoredByLink(t *testing.T) {
	r := newUploadRig(t, nil)
	name, data := pattern(5<<20 + 3)
	for i, want := range []int{http.StatusCreated, http.StatusOK} {
		ss := r.session()
		r.patch(ss, 0, data[:2<<20])
		r.patch(ss, 2<<20, data[2<<20:])
		if code, msg := r.finish(ss, name); code != want {
			t.Fatalf("finish %d: %d, want %d: %s", i, code, want, msg)
		}
	}
	left, err := os.ReadDir(r.s.uploads.dir)
	if err != nil || len(left) != 0 {
		t.Errorf("upload directory after finish: %v, %v", left, err)
	}
	path := filepath.Join(r.data, "repos", "r", "data", name[:2], name)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the object is not where the local backend keeps it: %v", err)
	}
	if os.PathSeparator == '/' && fi.Mode().Perm() != 0o600 {
		t.Errorf("stored object mode %v, want 0600", fi.Mode().Perm())
	}
	if code, stored := r.get(name); code != http.StatusOK || !bytes.Equal(stored, data) {
		t.Errorf("stored object: %d, %d bytes, equal %v", code, len(stored), bytes.Equal(stored, data))
	}
}

// opaqueStore hides the local backend's type, as any other storage would
// look to the server; with refuse its backends are FileSavers that always
// answer ErrSaveFileUnsupported.
type opaqueStore struct {
	LocalStore
	refuse bool
	calls  *int
}

type opaqueBackend struct{ backend.Backend }

type refusingBackend struct {
	backend.Backend
	calls *int
}

func (b refusingBackend) SaveFile(ctx context.Context, h backend.Handle, path string) error {
	*b.calls++
	return fmt.Errorf("test: %w", ErrSaveFileUnsupported)
}

func (o opaqueStore) wrap(be backend.Backend, err error) (backend.Backend, error) {
	if err != nil {
		return nil, err
	}
	if o.refuse {
		return refusingBackend{be, o.calls}, nil
	}
	return opaqueBackend{be}, nil
}

func (o opaqueStore) Open(ctx context.Context, name string) (backend.Backend, error) {
	return o.wrap(o.LocalStore.Open(ctx, name))
}

func (o opaqueStore) Create(ctx context.Context, name string) (backend.Backend, error) {
	return o.wrap(o.LocalStore.Create(ctx, name))
}

// TestUploadCopyFallback: storage that cannot take the file gets a copy
// through Save, with the same checks.
func TestUploadCopyFallback(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refuse=%v", refuse), func(t *testing.T) {
			calls := 0
			store := opaqueStore{LocalStore: LocalStore{Dir: filepath.Join(t.TempDir(), "repos")}, refuse: refuse, calls: &calls}
			r := newUploadRig(t, store)
			name, data := pattern(2<<20 + 1)
			ss := r.session()
			bad := bytes.Clone(data)
			bad[len(bad)/2]++
			r.patch(ss, 0, bad)
			if code, msg := r.finish(ss, name); code != http.StatusUnprocessableEntity {
				t.Fatalf("tampered: %d, want 422: %s", code, msg)
			}
			ss = r.session()
			r.patch(ss, 0, data)
			if code, msg := r.finish(ss, name); code != http.StatusCreated {
				t.Fatalf("finish: %d, want 201: %s", code, msg)
			}
			if code, stored := r.get(name); code != http.StatusOK || !bytes.Equal(stored, data) {
				t.Errorf("stored object: %d, %d bytes, equal %v", code, len(stored), bytes.Equal(stored, data))
			}
			if refuse && calls != 1 {
				t.Errorf("SaveFile called %d times, want 1", calls)
			}
			if left, _ := os.ReadDir(r.s.uploads.dir); len(left) != 0 {
				t.Errorf("upload directory after finish: %v", left)
			}
		})
	}
}

// TestReadBody: a PUT's body is read whole into a buffer of its declared
// length, bounded by the limit, and a short body is an error.
func TestReadBody(t *testing.T) {
	data := bytes.Repeat([]byte("lumbung "), 1000)
	for _, tc := range []struct {
		name          string
		body          []byte
		contentLength int64
		wantErr       bool
	}{
		{"declared", data, int64(len(data)), false},
		{"unknown length", data, -1, false},
		{"empty", nil, 0, false},
		{"shorter than declared", data[:100], int64(len(data)), true},
		{"longer than declared", data, 100, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBody(bytes.NewReader(tc.body), tc.contentLength, 1<<20)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if err == nil && !bytes.Equal(got, tc.body) {
				t.Errorf("read %d bytes, want %d", len(got), len(tc.body))
			}
		})
	}
	if allocs := testing.AllocsPerRun(20, func() {
		_, _ = readBody(bytes.NewReader(data), int64(len(data)), 1<<20)
	}); allocs > 3 {
		t.Errorf("readBody: %.0f allocations for one body, want the buffer and little else", allocs)
	}
}

// The local backend takes finished upload files without a copy.
var _ FileSaver = (*local.Local)(nil)
