package repository

import (
	"context"
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
)

// An authentic snapshot object without a tree, time or paths would restore
// as nothing and look whole: it is refused.
func TestLoadSnapshotRefusesEmpty(t *testing.T) {
	r, err := Init(context.Background(), mem.New(), []byte("pw"), Options{KDF: crypto.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	tree := crypto.Hash([]byte("tree")).String()
	for _, tc := range []struct {
		name, plain string
		ok          bool
	}{
		{"null", `null`, false},
		{"empty object", `{}`, false},
		{"no tree", `{"time":"2026-11-23T01:00:00Z","paths":["/srv"]}`, false},
		{"no time", `{"tree":"` + tree + `","paths":["/srv"]}`, false},
		{"no paths", `{"time":"2026-11-23T01:00:00Z","tree":"` + tree + `"}`, false},
		{"whole", `{"time":"2026-11-23T01:00:00Z","tree":"` + tree + `","paths":["/srv"]}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed := r.key.Seal(nil, []byte(tc.plain), snapshotAD)
			id := crypto.Hash(sealed)
			if err := r.be.Save(context.Background(), backend.Handle{Type: backend.SnapshotFile, Name: id.String()}, sealed); err != nil {
				t.Fatal(err)
			}
			_, err := r.LoadSnapshot(context.Background(), id)
			if (err == nil) != tc.ok {
				t.Fatalf("LoadSnapshot(%s): err %v, want ok=%v", tc.plain, err, tc.ok)
			}
		})
	}
}
