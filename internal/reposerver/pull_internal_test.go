package reposerver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/location"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/replicate"
)

func TestNextPull(t *testing.T) {
	wib := time.FixedZone("WIB", 7*3600)
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, wib) }
	night := &replicate.Window{Start: 19 * 60, End: 6 * 60}
	day := &replicate.Window{Start: 9 * 60, End: 17 * 60}
	for _, tc := range []struct {
		last  time.Time
		every time.Duration
		w     *replicate.Window
		want  time.Time
	}{
		{at(23, 10, 0), time.Hour, nil, at(23, 11, 0)},
		{at(23, 20, 0), time.Hour, night, at(23, 21, 0)},
		{at(23, 23, 30), time.Hour, night, at(24, 0, 30)},    // inside, across midnight
		{at(24, 5, 30), time.Hour, night, at(24, 19, 0)},     // closes at 06:00: wait for the evening
		{at(23, 8, 0), 15 * time.Hour, night, at(23, 23, 0)}, // lands inside
		{at(23, 16, 30), time.Hour, day, at(24, 9, 0)},       // after today's window
		{at(23, 6, 0), time.Hour, day, at(23, 9, 0)},         // before today's window
	} {
		if got := nextPull(tc.last, tc.every, tc.w); !got.Equal(tc.want) {
			t.Errorf("nextPull(%v, %v, %v) = %v, want %v", tc.last, tc.every, tc.w, got, tc.want)
		}
	}
}

// TestPullSourceIsReadOnly: whatever the token allows, a pull cannot
// change its source, and cannot remove anything at its destination.
func TestPullSourceIsReadOnly(t *testing.T) {
	src := mem.New()
	p := PullSpec{Name: "x", From: "/unused", To: "x", Every: time.Hour,
		Open: func(context.Context, location.Credentials) (backend.Backend, error) { return src, nil }}
	be, err := p.open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := backend.Handle{Type: backend.SnapshotFile, Name: "00"}
	if err := be.Save(context.Background(), h, []byte("x")); !errors.Is(err, errReadOnlySource) {
		t.Errorf("Save at the source: %v", err)
	}
	if err := be.Remove(context.Background(), h); !errors.Is(err, errReadOnlySource) {
		t.Errorf("Remove at the source: %v", err)
	}
	if err := (noRemove{src}).Remove(context.Background(), h); err == nil {
		t.Error("Remove at the destination succeeded")
	}
}
