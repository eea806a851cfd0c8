package reposerver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// Options configure a Server. Zero fields take the defaults in withDefaults.
type Options struct {
	// DataDir holds the server's files (see the package doc). Required.
	DataDir string
	// Store keeps the repositories; nil: LocalStore on DATA/repos.
	Store Store
	// MaxObjectSize bounds one stored object (default 256 MiB; packs are at
	// most 128 MiB plus a header).
	MaxObjectSize int64
	// MaxPutSize bounds the body of a single PUT; larger objects go through
	// upload sessions (default 32 MiB).
	MaxPutSize int64
	// MaxInFlight bounds requests holding a whole object in memory at once
	// (default 8), so that memory stays bounded under many uploads.
	MaxInFlight int
	// UploadTTL is how long an idle upload session lives (default 1 hour).
	UploadTTL time.Duration
	// MaxSessions bounds the open upload sessions of one token (default 32),
	// and so the temporary disk space a token can hold outside its quota.
	MaxSessions int
	// Log receives diagnostics (default: discarded).
	Log *slog.Logger
	// AuditCopy also receives every audit line (lumbung serve: stderr).
	AuditCopy io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// SkipNameCheck accepts objects whose name is not the BLAKE3 of their
	// body. Only the backend conformance suite sets it (its names are
	// arbitrary); never set it for a real server.
	SkipNameCheck bool
}

func (o Options) withDefaults() Options {
	if o.Store == nil {
		o.Store = LocalStore{Dir: filepath.Join(o.DataDir, "repos")}
	}
	if o.MaxObjectSize <= 0 {
		o.MaxObjectSize = 256 << 20
	}
	if o.MaxPutSize <= 0 {
		o.MaxPutSize = 32 << 20
	}
	o.MaxPutSize = min(o.MaxPutSize, o.MaxObjectSize)
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 8
	}
	if o.UploadTTL <= 0 {
		o.UploadTTL = time.Hour
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 32
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Job is background work the server runs while it serves, such as cleaning
// expired upload sessions or pulling snapshots from a lower layer (AddPull).
// Run returns when ctx is cancelled.
type Job interface {
	Name() string
	Run(ctx context.Context) error
}

// Server is the repository server. Create it with New, add jobs, then Run
// (or mount Handler in a test server) and Close.
type Server struct {
	opts   Options
	tokens *TokenStore
	state  *state
	audit  *auditLog
	auditF *os.File

	inflight chan struct{}

	mu    sync.Mutex
	repos map[string]backend.Backend

	uploads *uploads

	jobsMu  sync.Mutex
	jobs    []Job
	pullers []*puller // also in jobs

	pulls *pullStates
}

// New opens the server's data directory.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("no data directory: give --data DIR")
	}
	opts = opts.withDefaults()
	tokens, err := OpenTokenStore(opts.DataDir)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(opts.DataDir, "server")
	st, err := openState(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, err
	}
	pulls, err := openPullStates(pullStatePath(opts.DataDir))
	if err != nil {
		return nil, err
	}
	af, err := os.OpenFile(filepath.Join(dir, "audit.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	var aw io.Writer = af
	if opts.AuditCopy != nil {
		aw = io.MultiWriter(af, opts.AuditCopy)
	}
	up, err := newUploads(filepath.Join(dir, "uploads"), opts.UploadTTL, opts.MaxSessions, opts.Now)
	if err != nil {
		af.Close()
		return nil, err
	}
	s := &Server{
		opts: opts, tokens: tokens, state: st, audit: newAuditLog(aw), auditF: af,
		inflight: make(chan struct{}, opts.MaxInFlight),
		repos:    map[string]backend.Backend{},
		uploads:  up,
		pulls:    pulls,
	}
	s.AddJob(funcJob{"expire-uploads", s.uploads.run})
	s.AddJob(funcJob{"flush-state", s.flushLoop})
	return s, nil
}

// Tokens returns the server's token store.
func (s *Server) Tokens() *TokenStore { return s.tokens }

// AddJob adds a background job; call it before Run.
func (s *Server) AddJob(j Job) {
	s.jobsMu.Lock()
	defer s.jobsMu.Unlock()
	s.jobs = append(s.jobs, j)
}

// RunJobs runs the background jobs until ctx is cancelled and they return.
// Run calls it; tests that mount Handler call it themselves if they need it.
func (s *Server) RunJobs(ctx context.Context) {
	s.jobsMu.Lock()
	jobs := append([]Job(nil), s.jobs...)
	s.jobsMu.Unlock()
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			if err := j.Run(ctx); err != nil && ctx.Err() == nil {
				s.opts.Log.Error("background job failed", "job", j.Name(), "err", err)
			}
		})
	}
	wg.Wait()
}

// Run serves HTTPS on ln with cert until ctx is cancelled, then shuts down
// gracefully (in-flight requests get up to 30 seconds).
func (s *Server) Run(ctx context.Context, ln net.Listener, cert tls.Certificate) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		// Bodies of up to 16 MiB on slow regional links; a stalled client
		// is cut after this.
		ReadTimeout:  15 * time.Minute,
		WriteTimeout: 30 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ErrorLog:     slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelWarn),
	}
	jobCtx, stopJobs := context.WithCancel(ctx)
	jobsDone := make(chan struct{})
	go func() { s.RunJobs(jobCtx); close(jobsDone) }()
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = hs.Shutdown(sctx)
		cancel()
		<-errc
	}
	stopJobs()
	<-jobsDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close flushes the state and closes every repository.
func (s *Server) Close() error {
	errs := []error{s.state.flush()}
	s.mu.Lock()
	for _, be := range s.repos {
		errs = append(errs, be.Close())
	}
	s.repos = map[string]backend.Backend{}
	s.mu.Unlock()
	errs = append(errs, s.uploads.closeAll(), s.auditF.Close())
	return errors.Join(errs...)
}

func (s *Server) flushLoop(ctx context.Context) error {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.state.flush()
		case <-t.C:
			if err := s.state.flush(); err != nil {
				s.opts.Log.Error("flush state", "err", err)
			}
		}
	}
}

// repo returns the storage of repository name.
func (s *Server) repo(ctx context.Context, name string) (backend.Backend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if be, ok := s.repos[name]; ok {
		return be, nil
	}
	be, err := s.opts.Store.Open(ctx, name)
	if errors.Is(err, backend.ErrNotExist) && s.creating(name) {
		// Created before a restart; its writer is finishing it.
		be, err = s.opts.Store.OpenUnfinished(ctx, name)
	} else if err == nil {
		s.created(name)
	}
	if err != nil {
		return nil, err
	}
	s.repos[name] = be
	return be, nil
}

// creatingMarker is the file that records, across restarts, that the
// storage of repository name was made and its config may not be stored
// yet: Store.Open refuses storage without a config, and without the record
// a writer in the middle of creating a repository (an init, a first copy)
// would find it gone after a restart.
func (s *Server) creatingMarker(name string) string {
	return filepath.Join(s.opts.DataDir, "server", "creating", name)
}

// creating reports whether the creation of name began and may be unfinished.
func (s *Server) creating(name string) bool {
	_, err := os.Stat(s.creatingMarker(name))
	return err == nil
}

// beginCreate records, durably, that the creation of name begins.
func (s *Server) beginCreate(name string) error {
	p := s.creatingMarker(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("record the creation of repository %s: %w", name, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("record the creation of repository %s: %w", name, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record the creation of repository %s: %w", name, err)
	}
	return nil
}

// created forgets the record of name's creation once its config is there.
func (s *Server) created(name string) {
	if err := os.Remove(s.creatingMarker(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.opts.Log.Warn("cannot remove the record of a finished repository creation", "repo", name, "error", err)
	}
}

// createRepo makes the storage of repository name; it succeeds when the
// storage exists without a config yet (a retried create).
func (s *Server) createRepo(ctx context.Context, name string) (created bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if be, ok := s.repos[name]; ok {
		if _, err := be.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err == nil {
			return false, fmt.Errorf("repository %s already exists: %w", name, backend.ErrExists)
		}
		return false, nil
	}
	if be, err := s.opts.Store.Open(ctx, name); err == nil {
		be.Close()
		return false, fmt.Errorf("repository %s already exists: %w", name, backend.ErrExists)
	}
	if err := s.beginCreate(name); err != nil {
		return false, err
	}
	be, err := s.opts.Store.Create(ctx, name)
	if err != nil {
		s.created(name) // nothing made: no record either
		return false, err
	}
	s.repos[name] = be
	return true, nil
}

type funcJob struct {
	name string
	fn   func(context.Context) error
}

func (j funcJob) Name() string                  { return j.name }
func (j funcJob) Run(ctx context.Context) error { return j.fn(ctx) }
