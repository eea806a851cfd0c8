package layers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// StatusOptions control Status.
type StatusOptions struct {
	// State holds the last verifications and replications; nil means none
	// are known.
	State *State
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Timeout bounds the inspection of one layer (an unreachable server
	// must not hang status); 0 means 30 seconds.
	Timeout time.Duration
	Verdict VerdictOptions
}

// DatasetStatus is the status of one dataset.
type DatasetStatus struct {
	Dataset string        `json:"dataset"`
	Layers  []LayerStatus `json:"layers"`
	Verdict Verdict       `json:"verdict"`
}

// Status inspects every layer of every dataset and computes the verdicts.
// Problems with a layer are part of its LayerStatus, never an error: status
// exists to show what is broken.
func Status(ctx context.Context, cfg *Config, opts StatusOptions) []DatasetStatus {
	out := make([]DatasetStatus, 0, len(cfg.Order))
	for _, name := range cfg.Order {
		out = append(out, DatasetStatusOf(ctx, cfg.Datasets[name], opts))
	}
	return out
}

// DatasetStatusOf inspects the layers of d and computes its verdict.
//
// A layer with a password is opened and its snapshots of the dataset read.
// A layer without one (a mirror pulled with a read token) cannot decrypt
// snapshots; when its config is the first layer's, its snapshot files have
// the same names, so the newest first-layer snapshot it holds is its newest.
func DatasetStatusOf(ctx context.Context, d *Dataset, opts StatusOptions) DatasetStatus {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	ds := DatasetStatus{Dataset: d.Name}
	var ref *probe // the first layer that could be read with its key
	for _, l := range d.Layers {
		p := probeLayer(ctx, d, l, ref, opts.Timeout)
		if ref == nil && p.snaps != nil {
			ref = p
		}
		st := p.status
		st.LastVerification = opts.State.Last(d.Name, l.Name)
		st.LastReplication = opts.State.LastReplication(d.Name, l.Name)
		if !st.Reachable && l.Role == RoleOffline && st.Newest == nil && st.LastVerification != nil && st.LastVerification.OK {
			st.Newest = st.LastVerification.Snapshot
		}
		if st.Newest != nil {
			st.AgeSeconds = int64(now().Sub(st.Newest.Time) / time.Second)
			switch days := immutableDays(l); {
			case p.retentionRead:
				// The storage's own word beats what the config hopes.
				st.ImmutableUntil, st.ImmutableSource = p.retainUntil, ImmutableFromObject
			case days > 0:
				until := st.Newest.Time.Add(time.Duration(days) * 24 * time.Hour)
				st.ImmutableUntil, st.ImmutableSource = &until, ImmutableFromConfig
			}
		}
		ds.Layers = append(ds.Layers, st)
	}
	ds.Verdict = ComputeVerdict(ds.Layers, now(), opts.Verdict)
	return ds
}

// probe is what inspecting one layer found.
type probe struct {
	status LayerStatus
	config []byte               // the layer's config file
	snaps  map[string]time.Time // snapshots of the dataset by id, when readable
	// retentionRead says the Object Lock retention of the newest
	// snapshot's object was read; retainUntil is nil when it is not under
	// COMPLIANCE lock.
	retentionRead bool
	retainUntil   *time.Time
}

// Where LayerStatus.ImmutableUntil comes from.
const (
	ImmutableFromObject = "object" // the retention of the newest snapshot's object
	ImmutableFromConfig = "config" // newest snapshot time + immutable_days or retention=
)

func probeLayer(ctx context.Context, d *Dataset, l *Layer, ref *probe, timeout time.Duration) *probe {
	dataset := d.Name
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p := &probe{status: LayerStatus{Name: l.Name, Repository: l.Repository, Role: l.Role, Media: l.Media}}
	be, err := l.Open(ctx)
	if err != nil {
		p.status.Error = err.Error()
		return p
	}
	defer be.Close()
	// Runs before Close: one request for the newest snapshot's retention
	// on storage that has it.
	defer func() {
		p.retainUntil, p.retentionRead = objectImmutableUntil(ctx, be, p.status.Newest)
	}()
	cfgHandle := backend.Handle{Type: backend.ConfigFile}
	fi, err := be.Stat(ctx, cfgHandle)
	if err == nil && fi.Size > 64<<10 {
		err = fmt.Errorf("%d bytes, larger than any valid config", fi.Size)
	}
	if err == nil {
		p.config, err = be.Load(ctx, cfgHandle, 0, fi.Size)
	}
	if err != nil {
		p.status.Error = fmt.Sprintf("read config: %v", err)
		return p
	}
	p.status.Reachable = true
	// A mirror opens with the first layer's password, also when the
	// first layer itself is gone (the host was lost).
	pw, err := d.PasswordFor(l)
	if err != nil {
		p.status.Error = err.Error()
		return p
	}
	if pw != nil {
		repo, err := repository.Open(ctx, be, pw, repository.Options{})
		if err != nil {
			if own, _ := l.PasswordBytes(); own == nil && errors.Is(err, crypto.ErrWrongPassword) {
				err = fmt.Errorf("layer %s has no password of its own and the first layer's does not open it (it is not a mirror of the first layer): add its password: to the config", l.Name)
			}
			p.status.Error = err.Error()
			return p
		}
		p.snaps = make(map[string]time.Time)
		all, err := repo.Snapshots(ctx, nil)
		if err != nil {
			p.status.Error = err.Error()
			return p
		}
		for _, s := range all {
			if s.Dataset == dataset {
				p.snaps[s.ID.String()] = s.Time
				p.status.Snapshots++
				if p.status.Newest == nil || s.Time.After(p.status.Newest.Time) {
					p.status.Newest = &SnapshotRef{ID: s.ID.String(), Time: s.Time}
				}
			}
		}
		return p
	}
	// No key: a mirror of a readable layer shares its snapshot names.
	if ref == nil || !bytes.Equal(ref.config, p.config) {
		p.status.Error = "no password configured and not a mirror of a layer that has one: its snapshots cannot be read"
		return p
	}
	err = be.List(ctx, backend.SnapshotFile, func(fi backend.FileInfo) error {
		t, ok := ref.snaps[fi.Name]
		if !ok {
			return nil
		}
		p.status.Snapshots++
		if p.status.Newest == nil || t.After(p.status.Newest.Time) {
			p.status.Newest = &SnapshotRef{ID: fi.Name, Time: t}
		}
		return nil
	})
	if err != nil {
		p.status.Error = err.Error()
	}
	return p
}

// immutableDays is the layer's immutability: immutable_days, or the
// retention=30d parameter of an s3: location.
func immutableDays(l *Layer) int {
	if l.ImmutableDays > 0 {
		return l.ImmutableDays
	}
	if !strings.HasPrefix(l.Repository, "s3:") {
		return 0
	}
	u, err := url.Parse(strings.TrimPrefix(l.Repository, "s3:"))
	if err != nil {
		return 0
	}
	r := strings.TrimSuffix(u.Query().Get("retention"), "d")
	n, err := strconv.Atoi(r)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// VerificationFromCheck builds a Verification from the outcome of a check
// or export verification, for State.Record.
func VerificationFromCheck(at time.Time, problems []string, newest *SnapshotRef) Verification {
	v := Verification{Time: at, OK: len(problems) == 0, Errors: len(problems), Snapshot: newest}
	if len(problems) > 0 {
		v.Message = problems[0]
	}
	return v
}
