package layers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/s3"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/testservers"
)

// s3Layer makes a repository with one snapshot of dataset "siak" on a fresh
// Object Lock bucket of the test MinIO, written with the agent's keys and
// retention=1d, and returns the dataset whose only layer it is.
func s3Layer(t *testing.T) *Dataset {
	t.Helper()
	srv := testservers.S3(t)
	bucket := srv.Bucket(t, true)
	agent := srv.AgentKeys(t, bucket)
	t.Setenv("AWS_ACCESS_KEY_ID", agent.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", agent.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", agent.SessionToken)
	dir := t.TempDir()
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, testPassword, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(strings.NewReader(`datasets:
  siak:
    paths: [/srv/siak]
    layers:
      - name: awan
        repository: ` + srv.Location(bucket, "kab/siak", "retention=1d") + `
        role: offsite
        media: object-storage
        password: {file: ` + passFile + `}
        access_key: {env: AWS_ACCESS_KEY_ID}
        secret_key: {env: AWS_SECRET_ACCESS_KEY}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Datasets["siak"]
	ctx := t.Context()
	be, err := d.Layers[0].create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	repo, err := repository.Init(ctx, be, testPassword, testRepoOpts)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "data")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte(strings.Repeat("data penduduk\n", 20000)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := archiver.Backup(ctx, repo, []string{src}, archiver.Options{Dataset: "siak"}); err != nil {
		t.Fatal(err)
	}
	return d
}

// retentions reads the retention of every retained object of the layer.
func retentions(t *testing.T, l *Layer) map[backend.Handle]s3.Retention {
	t.Helper()
	ctx := t.Context()
	be, err := l.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	hs, err := retainedHandles(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	out := map[backend.Handle]s3.Retention{}
	for _, h := range hs {
		r, err := be.(Retainer).ObjectRetention(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		out[h] = r
	}
	return out
}

// near reports whether a and b are within a minute of each other.
func near(a, b time.Time) bool { return a.Sub(b).Abs() < time.Minute }

func TestExtendRetentionS3(t *testing.T) {
	d := s3Layer(t)
	l := d.Layers[0]
	ctx := t.Context()
	day := 24 * time.Hour
	if got := ConfiguredRetention(l); got != day {
		t.Fatalf("ConfiguredRetention = %v, want 24h", got)
	}
	before := retentions(t, l)
	// config, key, index, snapshot and at least one pack
	if len(before) < 5 {
		t.Fatalf("only %d objects: %v", len(before), before)
	}
	for h, r := range before {
		if r.Mode != "COMPLIANCE" || !near(r.Until, time.Now().Add(day)) {
			t.Fatalf("%v written with %+v, want COMPLIANCE for a day", h, r)
		}
	}

	// Status reads the newest snapshot's object, not the config.
	st := DatasetStatusOf(ctx, d, StatusOptions{})
	ls := st.Layers[0]
	if ls.Error != "" || ls.ImmutableSource != ImmutableFromObject || ls.ImmutableUntil == nil || !near(*ls.ImmutableUntil, time.Now().Add(day)) {
		t.Fatalf("status before extending: %+v", ls)
	}

	extend := func(days int) *RetentionResult {
		t.Helper()
		be, err := l.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer be.Close()
		var calls int
		res, err := ExtendRetention(ctx, be, ExtendOptions{
			Duration: time.Duration(days) * day,
			Progress: func(RetentionProgress) { calls++ },
		})
		if err != nil {
			t.Fatalf("extend %d days: %v", days, err)
		}
		if res.Total != len(before) || res.Checked != res.Total || res.Failed != 0 || calls != res.Total {
			t.Fatalf("extend %d days: %+v (progress called %d times), want %d objects checked", days, res, calls, len(before))
		}
		return res
	}

	res := extend(3)
	if res.Extended != res.Total || res.LongEnough != 0 {
		t.Errorf("extend 3 days: %+v, want every object extended", res)
	}
	after := retentions(t, l)
	for h, r := range after {
		if r.Mode != "COMPLIANCE" || !near(r.Until, time.Now().Add(3*day)) {
			t.Errorf("%v after extending 3 days: %+v", h, r)
		}
	}

	// Never shortens: a day is less than what every object has.
	res = extend(1)
	if res.Extended != 0 || res.LongEnough != res.Total {
		t.Errorf("extend 1 day: %+v, want nothing extended", res)
	}
	for h, r := range retentions(t, l) {
		if r != after[h] {
			t.Errorf("%v: retention %+v after extending 1 day, was %+v", h, r, after[h])
		}
	}

	st = DatasetStatusOf(ctx, d, StatusOptions{})
	ls = st.Layers[0]
	if ls.ImmutableSource != ImmutableFromObject || ls.ImmutableUntil == nil || !near(*ls.ImmutableUntil, time.Now().Add(3*day)) {
		t.Errorf("status after extending: until %v from %q, want about %v from the object", ls.ImmutableUntil, ls.ImmutableSource, time.Now().Add(3*day))
	}
}

func TestExtendRetentionNotS3(t *testing.T) {
	be := makeLayer1(t, filepath.Join(t.TempDir(), "lokal"))
	_, err := ExtendRetention(context.Background(), be, ExtendOptions{Duration: time.Hour})
	if !errors.Is(err, ErrNoRetention) {
		t.Fatalf("ExtendRetention on a local directory: %v, want ErrNoRetention", err)
	}
	// Status of a local layer with immutable_days falls back to the config.
	l := &Layer{Name: "lokal", Repository: be.Dir(), Password: &Secret{Env: "PW"}, ImmutableDays: 2,
		getenv: func(string) string { return string(testPassword) }}
	st := DatasetStatusOf(context.Background(), &Dataset{Name: "siak", Layers: []*Layer{l}}, StatusOptions{Now: func() time.Time { return now }})
	ls := st.Layers[0]
	if ls.Newest == nil || ls.ImmutableSource != ImmutableFromConfig || ls.ImmutableUntil == nil || !ls.ImmutableUntil.Equal(ls.Newest.Time.Add(48*time.Hour)) {
		t.Errorf("status of a local layer with immutable_days: %+v", ls)
	}
}

func TestConfiguredRetention(t *testing.T) {
	tests := []struct {
		layer Layer
		want  time.Duration
	}{
		{Layer{Repository: "/srv/repo"}, 0},
		{Layer{Repository: "/srv/repo", ImmutableDays: 5}, 5 * 24 * time.Hour},
		{Layer{Repository: "s3:https://s3.example.id/bucket/kab?retention=30d"}, 30 * 24 * time.Hour},
		{Layer{Repository: "s3:https://s3.example.id/bucket/kab?retention=36h"}, 36 * time.Hour},
		{Layer{Repository: "s3:https://s3.example.id/bucket/kab?retention=30d", ImmutableDays: 7}, 7 * 24 * time.Hour},
		{Layer{Repository: "s3:https://s3.example.id/bucket/kab"}, 0},
		{Layer{Repository: "s3:https://s3.example.id/bucket/kab?retention=abc"}, 0},
		{Layer{Repository: "rest:https://prov.example.id/?retention=30d"}, 0},
	}
	for _, tt := range tests {
		if got := ConfiguredRetention(&tt.layer); got != tt.want {
			t.Errorf("ConfiguredRetention(%q, immutable_days %d) = %v, want %v", tt.layer.Repository, tt.layer.ImmutableDays, got, tt.want)
		}
	}
}
