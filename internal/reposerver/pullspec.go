package reposerver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/location"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/replicate"
)

// PullSpec is one pull job: an upper layer (this server) copies a
// repository from a lower layer's server on its own schedule, with a read
// token, so the lower site holds no credential for the layer above it.
type PullSpec struct {
	// Name identifies the job in logs, the state file and the admin API.
	Name string
	// From is the location of the source repository, usually
	// "rest:https://kab:8443/siak?fingerprint=sha256:…". It never holds a
	// secret, so it is shown and logged.
	From string
	// TokenFile holds the source server's token (a read token is enough).
	// It is read at every run, so a rotated token needs no restart.
	TokenFile string
	// To is the repository on this server that receives the copy.
	To string
	// Every is the time from the start of one run to the next; 0 means
	// no schedule: the job runs only when asked (PullNow, or POST
	// /v1/admin/pull/<name>). ParsePullSpec never gives 0.
	Every time.Duration
	// Window, when set, confines runs to a daily local-time window; a run
	// still going when it closes pauses and resumes at the next opening.
	Window *replicate.Window
	// BytesPerSecond limits the bytes read from the source; 0: no limit.
	BytesPerSecond int64
	// Open, when set, opens the source instead of From with the token
	// (tests use it to inject faults). From is still shown.
	Open func(ctx context.Context, cred location.Credentials) (backend.Backend, error)
}

// minPullInterval keeps a mistyped interval ("every=1s") from hammering
// the lower layer's server.
const minPullInterval = time.Minute

// pullSpecSyntax is the --pull syntax, for error messages.
const pullSpecSyntax = "name=NAME,from=LOCATION,token-file=FILE,to=REPO[,every=1h][,window=19:00-06:00][,bandwidth=20Mbit]"

// ParsePullSpec parses the --pull flag of `lumbung serve`: comma-separated
// key=value pairs (see pullSpecSyntax). every defaults to one hour; the
// name defaults to the target repository's.
func ParsePullSpec(s string) (PullSpec, error) {
	var p PullSpec
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || v == "" {
			return PullSpec{}, fmt.Errorf("pull job %q: %q is not key=value; use %s", s, part, pullSpecSyntax)
		}
		if seen[k] {
			return PullSpec{}, fmt.Errorf("pull job %q: %s is given twice", s, k)
		}
		seen[k] = true
		switch k {
		case "name":
			p.Name = v
		case "from":
			p.From = v
		case "token-file":
			p.TokenFile = v
		case "to":
			p.To = v
		case "every":
			d, err := time.ParseDuration(v)
			if err != nil {
				return PullSpec{}, fmt.Errorf("pull job %q: every=%s: want a duration such as 30m, 1h or 24h", s, v)
			}
			if d < minPullInterval {
				return PullSpec{}, fmt.Errorf("pull job %q: every=%s is too often; the shortest interval is %s", s, v, minPullInterval)
			}
			p.Every = d
		case "window":
			w, err := replicate.ParseWindow(v)
			if err != nil {
				return PullSpec{}, fmt.Errorf("pull job %q: %w", s, err)
			}
			p.Window = &w
		case "bandwidth":
			bps, err := layers.ParseBandwidth(v)
			if err != nil {
				return PullSpec{}, fmt.Errorf("pull job %q: %w", s, err)
			}
			p.BytesPerSecond = bps
		default:
			return PullSpec{}, fmt.Errorf("pull job %q: unknown key %q; use %s", s, k, pullSpecSyntax)
		}
	}
	if p.Every == 0 {
		p.Every = time.Hour
	}
	if p.Name == "" {
		p.Name = p.To
	}
	if err := p.validate(); err != nil {
		return PullSpec{}, fmt.Errorf("pull job %q: %w", s, err)
	}
	return p, nil
}

// validate checks what every job needs, however it was made.
func (p PullSpec) validate() error {
	if p.From == "" || p.To == "" {
		return fmt.Errorf("from= and to= are required; use %s", pullSpecSyntax)
	}
	if err := ValidRepoName(p.To); err != nil {
		return fmt.Errorf("to=: %w", err)
	}
	if !tokenNameRE.MatchString(p.Name) {
		return fmt.Errorf("invalid job name %q: use 1-63 characters A-Z, a-z, 0-9, '.', '_', '-'", p.Name)
	}
	if p.Every < 0 {
		return errors.New("every= must be a positive duration")
	}
	parsed, err := location.Parse(p.From)
	if err != nil {
		return fmt.Errorf("from=: %w", err)
	}
	if parsed.Scheme == "rest" && p.TokenFile == "" && p.Open == nil {
		return errors.New("a rest: source needs token-file=FILE holding a read token of the lower server (`lumbung token create --scope read` there)")
	}
	return nil
}

// credentials reads the token file (at every run: tokens get rotated).
func (p PullSpec) credentials() (location.Credentials, error) {
	if p.TokenFile == "" {
		return location.Credentials{}, nil
	}
	b, err := os.ReadFile(p.TokenFile)
	if err != nil {
		return location.Credentials{}, fmt.Errorf("read the token file of pull job %s: %w (put the lower server's read token there)", p.Name, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return location.Credentials{}, fmt.Errorf("the token file %s of pull job %s is empty; put the lower server's read token there", p.TokenFile, p.Name)
	}
	return location.Credentials{Token: tok}, nil
}

// open opens the source, read-only whatever the token would allow.
func (p PullSpec) open(ctx context.Context) (backend.Backend, error) {
	cred, err := p.credentials()
	if err != nil {
		return nil, err
	}
	var be backend.Backend
	if p.Open != nil {
		be, err = p.Open(ctx, cred)
	} else {
		be, err = location.OpenWith(ctx, p.From, cred)
	}
	if err != nil {
		return nil, fmt.Errorf("open the source %s: %w", p.From, err)
	}
	return readOnly{be}, nil
}

// readOnly refuses every change, so that a pull cannot alter its source
// even if it were handed a token that allows it.
type readOnly struct{ backend.Backend }

var errReadOnlySource = errors.New("a pull never writes to its source")

func (readOnly) Save(context.Context, backend.Handle, []byte) error { return errReadOnlySource }
func (readOnly) Remove(context.Context, backend.Handle) error       { return errReadOnlySource }

// noRemove refuses removals at the destination: a pull only adds.
type noRemove struct{ backend.Backend }

func (noRemove) Remove(context.Context, backend.Handle) error {
	return errors.New("a pull never removes anything from its destination")
}

// Close of the destination wrapper must not close the server's shared
// backend of that repository.
func (noRemove) Close() error { return nil }

// nextPull returns when the run after one started at last should start:
// last+every, moved to the next opening of the window when it falls
// outside it.
func nextPull(last time.Time, every time.Duration, w *replicate.Window) time.Time {
	return intoWindow(last.Add(every), w)
}

// intoWindow returns t if it is inside w (or w is nil), else the next
// opening of w after t.
func intoWindow(t time.Time, w *replicate.Window) time.Time {
	if w == nil || w.Contains(t) {
		return t
	}
	open := time.Date(t.Year(), t.Month(), t.Day(), w.Start/60, w.Start%60, 0, 0, t.Location())
	if !open.After(t) {
		open = time.Date(t.Year(), t.Month(), t.Day()+1, w.Start/60, w.Start%60, 0, 0, t.Location())
	}
	return open
}

// maxPullFile bounds a pull file: a province has tens of jobs, not MiBs.
const maxPullFile = 1 << 20

// ReadPullFile reads the pull jobs of `lumbung serve --pull-file`: one job
// per line in the --pull syntax; blank lines and lines starting with '#'
// are skipped. A province pulling from every kabupaten/kota keeps its jobs
// there rather than on one long command line. Errors name the line.
func ReadPullFile(path string) ([]PullSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pull file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPullFile+1))
	if err != nil {
		return nil, fmt.Errorf("pull file %s: %w", path, err)
	}
	if len(data) > maxPullFile {
		return nil, fmt.Errorf("pull file %s: larger than %d bytes; is it the right file?", path, maxPullFile)
	}
	var specs []PullSpec
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		spec, err := ParsePullSpec(line)
		if err != nil {
			return nil, fmt.Errorf("pull file %s, line %d: %w", path, i+1, err)
		}
		specs = append(specs, spec)
	}
	return specs, nil
}
